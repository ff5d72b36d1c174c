import * as ort from 'onnxruntime-node';
import type { Evaluator, EvaluatorOptions, ModelGraphs } from '../evaluator.js';
import { ortSessionOptions, SessionEvaluator, wrapOrtSession, type RuntimeBackend } from '../session-evaluator.js';
import { WORKER_BACKEND } from './worker-backend.js';

/** onnxruntime-node on the calling thread: the adapter only creates sessions and tensors. */
export const NODE_BACKEND: RuntimeBackend = {
  name: 'onnxruntime-node',
  computesOnCallingThread: false,
  createSession: async (model, settings) =>
    wrapOrtSession(await ort.InferenceSession.create(model, ortSessionOptions(settings)), (d, dims) => new ort.Tensor('float32', d, dims)),
};

/**
 * An evaluator on onnxruntime-node. With `lanes > 1` every lane is a worker thread with its own
 * session (a `run` blocks its thread, so this is how both cores get used).
 */
export function createEvaluator(graphs: ModelGraphs, options: EvaluatorOptions = {}): Promise<Evaluator> {
  return SessionEvaluator.create((options.lanes ?? 1) > 1 ? WORKER_BACKEND : NODE_BACKEND, graphs, options);
}

export { WORKER_BACKEND };
export type { Evaluator, EvaluatorOptions, ModelGraphs, ValuesAndGradients } from '../evaluator.js';
