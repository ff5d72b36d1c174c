import * as ort from 'onnxruntime-web/wasm';
import type { Evaluator, EvaluatorOptions, ModelGraphs } from '../evaluator.js';
import { ortSessionOptions, SessionEvaluator, wrapOrtSession, type RuntimeBackend } from '../session-evaluator.js';

/** onnxruntime-web with the wasm backend (no WebGPU download); served from the app's own bundle. */
export const WEB_BACKEND: RuntimeBackend = {
  name: 'onnxruntime-web/wasm',
  // the wasm module runs on the calling thread (with wasm threads, the caller still waits in it)
  computesOnCallingThread: true,
  createSession: async (model, settings) =>
    wrapOrtSession(
      await ort.InferenceSession.create(model, { ...ortSessionOptions(settings), executionProviders: ['wasm'] }),
      (d, dims) => new ort.Tensor('float32', d, dims),
    ),
};

/** Sets where the ORT wasm files are served from (the app's own origin), and the thread count. */
export function configureWasm(options: { wasmPaths?: string; numThreads?: number }): void {
  if (options.wasmPaths !== undefined) ort.env.wasm.wasmPaths = options.wasmPaths;
  if (options.numThreads !== undefined) ort.env.wasm.numThreads = options.numThreads;
}

export function createEvaluator(graphs: ModelGraphs, options?: EvaluatorOptions): Promise<Evaluator> {
  return SessionEvaluator.create(WEB_BACKEND, graphs, options);
}

export type { Evaluator, EvaluatorOptions, ModelGraphs, ValuesAndGradients } from '../evaluator.js';
