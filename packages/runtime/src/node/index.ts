import * as ort from 'onnxruntime-node';
import type { Evaluator, EvaluatorOptions, ModelGraphs } from '../evaluator.js';
import { SessionEvaluator, type RuntimeBackend } from '../session-evaluator.js';

/** onnxruntime-node: CPU sessions; the adapter only creates sessions and tensors. */
export const NODE_BACKEND: RuntimeBackend = {
  name: 'onnxruntime-node',
  createSession: (model, options) => ort.InferenceSession.create(model, options),
  float32Tensor: (data, dims) => new ort.Tensor('float32', data, dims),
};

export function createEvaluator(graphs: ModelGraphs, options?: EvaluatorOptions): Promise<Evaluator> {
  return SessionEvaluator.create(NODE_BACKEND, graphs, options);
}

export type { Evaluator, EvaluatorOptions, ModelGraphs, ValuesAndGradients } from '../evaluator.js';
