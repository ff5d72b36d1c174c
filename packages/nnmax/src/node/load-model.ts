import { readFile } from 'node:fs/promises';
import { OnnxDecodeError } from '@nnmax/core';
import { createEvaluator } from '@nnmax/runtime/node';
import { prestartHelperThread } from './helper-thread.js';
import { prestoreWalkGraph, startBoundingHelper, startWalkHelper } from './helpers.js';
import { openModel, type LoadOptions, type Model } from '../model.js';
import { walkApplies } from '../solve.js';

/** Node's helper threads: branch-and-bound's bounding and the search's region walks. */
const HELPERS = { bounding: startBoundingHelper, walk: startWalkHelper };

/** Loads an ONNX model from a path (or bytes) onto onnxruntime-node. */
export async function loadModel(source: string | Uint8Array, options: LoadOptions = {}): Promise<Model> {
  if (options.parallelBounds !== false || options.parallelSearch !== false) prestartHelperThread();
  const model = typeof source !== 'string' ? await openModel(source, createEvaluator, options, HELPERS) : await openModel(await readModelFile(source), createEvaluator, { file: source, ...options }, HELPERS);
  // the walk helper's graph goes to the spare thread now, not in the first search (see prestoreWalkGraph)
  if (options.parallelSearch !== false && model.ir && walkApplies(model.ir, model.nIn)) prestoreWalkGraph(model.ir);
  return model;
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
