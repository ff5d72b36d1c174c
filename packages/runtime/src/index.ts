export type { Evaluator, ValuesAndGradients, ModelGraphs, EvaluatorOptions } from './evaluator.js';
export { EVALUATOR_DEFAULTS } from './evaluator.js';
export { SessionEvaluator } from './session-evaluator.js';
export type { RuntimeBackend } from './session-evaluator.js';
