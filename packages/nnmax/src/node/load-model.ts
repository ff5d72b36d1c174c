import { readFile } from 'node:fs/promises';
import { OnnxDecodeError } from '@nnmax/core';
import { createEvaluator } from '@nnmax/runtime/node';
import { startBoundingHelper } from './bounding-helper.js';
import { openModel, type LoadOptions, type Model } from '../model.js';

/** Loads an ONNX model from a path (or bytes) onto onnxruntime-node. */
export async function loadModel(source: string | Uint8Array, options: LoadOptions = {}): Promise<Model> {
  if (typeof source !== 'string') return openModel(source, createEvaluator, options, startBoundingHelper);
  return openModel(await readModelFile(source), createEvaluator, { file: source, ...options }, startBoundingHelper);
}

/** Reads a file for nnmax with a typed error naming the path. */
export async function readModelFile(path: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (cause) {
    const code = (cause as { code?: string }).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory, not an .onnx file' : code === 'EACCES' ? 'permission denied' : String(cause);
    throw new OnnxDecodeError(path, `cannot read the model: ${why}`, { cause });
  }
}
