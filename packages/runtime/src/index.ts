export type { Evaluator, ValuesAndGradients, ModelGraphs, EvaluatorOptions } from './evaluator.js';
export { EVALUATOR_DEFAULTS } from './evaluator.js';
export { SessionEvaluator, wrapOrtSession, ortSessionOptions } from './session-evaluator.js';
export type { RuntimeBackend, RuntimeSession, SessionSettings, Float32Feed } from './session-evaluator.js';
