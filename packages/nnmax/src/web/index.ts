import { createEvaluator, configureWasm } from '@nnmax/runtime/web';
import { openModel, type LoadOptions, type Model } from '../model.js';

export * from '../common.js';
export { configureWasm };

/** Loads an ONNX model (bytes, or a URL to fetch) onto onnxruntime-web. */
export async function loadModel(source: Uint8Array | ArrayBuffer | string, options: LoadOptions = {}): Promise<Model> {
  if (typeof source === 'string') {
    const res = await fetch(source);
    const bytes = new Uint8Array(await res.arrayBuffer());
    return openModel(bytes, createEvaluator, { file: source, ...options });
  }
  return openModel(source instanceof Uint8Array ? source : new Uint8Array(source), createEvaluator, options);
}
