import { ShapeError } from '@nnmax/core';
import {
  buildBatchedOriginal,
  buildForwardModel,
  buildGradientModel,
  importModel,
  requireIr,
  type ImportedModel,
  type IrGraph,
} from '@nnmax/onnx';
import type { BounderInit, BoundingHelper } from '@nnmax/bounds';
import type { Evaluator, EvaluatorOptions, ModelGraphs } from '@nnmax/runtime';
import { describeModel, type ModelInfo } from './model-info.js';
import type { WalkHelperFactory } from './region-walk.js';

/** Creates an evaluator on the environment's runtime (bound by the node and web entries). */
export type EvaluatorFactory = (graphs: ModelGraphs, options?: EvaluatorOptions) => Promise<Evaluator>;

export interface LoadOptions extends EvaluatorOptions {
  /** Name used in messages (default: the path, or '<bytes>'). */
  readonly file?: string;
  /**
   * Node: branch-and-bound bounds half of each batch on a worker thread, so certification and
   * verification use two cores (default true). Browsers: always one thread.
   */
  readonly parallelBounds?: boolean;
  /**
   * Node: the search portfolio runs its region walks (piecewise-linear networks, at most 64 free
   * inputs, a box domain) on a worker thread while the other searches run on the calling thread,
   * when it does not certify (default true). Browsers: always one thread.
   */
  readonly parallelSearch?: boolean;
}

/** Starts a thread that bounds branch-and-bound domains (bound by the node entry). */
export type BoundingHelperFactory = (init: BounderInit) => BoundingHelper;

/** The helper threads an environment offers (the node entry: worker threads). */
export interface HelperFactories {
  readonly bounding?: BoundingHelperFactory;
  readonly walk?: WalkHelperFactory;
}

/** A loaded network: the imported ONNX, its IR when it fits, and an evaluator on onnxruntime. */
export class Model {
  private original: Promise<Evaluator> | undefined;

  constructor(
    readonly imported: ImportedModel,
    readonly evaluator: Evaluator,
    private readonly factory: EvaluatorFactory,
    private readonly options: EvaluatorOptions,
    /** Where branch-and-bound gets its helper thread, if the environment has one. */
    readonly boundingHelper?: BoundingHelperFactory,
    /** Where the search portfolio gets its walk helper thread, if the environment has one. */
    readonly walkHelper?: WalkHelperFactory,
  ) {}

  get file(): string {
    return this.imported.file;
  }
  get nIn(): number {
    return this.imported.nIn;
  }
  get nOut(): number {
    return this.imported.nOut;
  }
  get ir(): IrGraph | undefined {
    return this.imported.ir;
  }

  info(): ModelInfo {
    return describeModel(this.imported);
  }

  /** The IR, or an UnsupportedOpError naming every node outside it. */
  requireIr(purpose?: string): IrGraph {
    return requireIr(this.imported, purpose);
  }

  /** An evaluator running the user's original graph (for reporting what onnxruntime says of it). */
  originalEvaluator(): Promise<Evaluator> {
    this.original ??= this.factory(originalGraphs(this.imported), this.options);
    return this.original;
  }

  /** Checks that x has nIn finite values. */
  checkPoint(x: ArrayLike<number>, what = 'x'): Float64Array {
    if (x.length !== this.nIn) throw new ShapeError(what, `${this.nIn} input values`, `${x.length}`);
    for (let i = 0; i < x.length; i++) {
      if (!Number.isFinite(x[i])) throw new ShapeError(`${what}[${i}]`, 'a finite number', String(x[i]));
    }
    return Float64Array.from(x);
  }

  async dispose(): Promise<void> {
    await this.evaluator.dispose();
    if (this.original) await (await this.original.catch(() => undefined))?.dispose();
  }
}

/** The graphs the evaluator runs: emitted forward + gradient graphs, or the batched original. */
export function graphsFor(imported: ImportedModel): ModelGraphs {
  const ir = imported.ir;
  if (ir) return { nIn: imported.nIn, nOut: imported.nOut, forward: buildForwardModel(ir), gradient: buildGradientModel(ir) };
  return originalGraphs(imported);
}

export function originalGraphs(imported: ImportedModel): ModelGraphs {
  const batched = buildBatchedOriginal(imported);
  return {
    nIn: imported.nIn,
    nOut: imported.nOut,
    forward: batched ?? imported.bytes,
    forwardInput: {
      name: imported.inputName,
      output: imported.outputName,
      shape: imported.inputShape.map((d) => (typeof d === 'number' ? d : 1)),
      batched: batched !== undefined,
    },
  };
}

/** Imports ONNX bytes and opens an evaluator with the given runtime factory. */
export async function openModel(bytes: Uint8Array, factory: EvaluatorFactory, options: LoadOptions = {}, helpers: HelperFactories = {}): Promise<Model> {
  const imported = importModel(bytes, options.file ?? '<bytes>');
  const { file: _file, parallelBounds = true, parallelSearch = true, ...userOptions } = options;
  const evalOptions = { maxBatch: defaultMaxBatch(imported), ...userOptions };
  const evaluator = await factory(graphsFor(imported), evalOptions);
  const model = new Model(imported, evaluator, factory, evalOptions, parallelBounds ? helpers.bounding : undefined, parallelSearch ? helpers.walk : undefined);
  // onnxruntime must accept the user's original graph too: nnmax never answers for a model the
  // runtime itself rejects (a corrupted file can still decode as protobuf).
  try {
    await model.originalEvaluator();
    await warmUp(model);
  } catch (e) {
    await model.dispose().catch(() => undefined);
    throw e;
  }
  return model;
}

/**
 * Runs each graph once on a batch of zeros: onnxruntime's first run of a session allocates and
 * plans (about 8 ms for ACAS Xu against 0.7 ms after), which belongs to loading, not to a search.
 */
async function warmUp(model: Model): Promise<void> {
  const n = 256;
  const x = new Float64Array(n * model.nIn);
  await model.evaluator.values(x, n);
  if (model.evaluator.hasGradients) await model.evaluator.valuesAndGradients(x, n, new Float64Array(model.nOut).fill(1));
}

/**
 * Batches larger than this are split into several runs: past a few MB of activations per layer
 * onnxruntime falls out of cache (mnist 256x6: 41% of peak at 16384 points in one run against
 * about 100% at 1024). Aim for about 4 MB of float32 activations in the widest layer.
 */
function defaultMaxBatch(imported: ImportedModel): number {
  const widest = Math.max(imported.nIn, imported.nOut, ...(imported.ir?.nodes.map((n) => n.size) ?? [1]));
  return Math.max(256, Math.min(16384, 2 ** Math.floor(Math.log2((4 * 2 ** 20) / (4 * widest)))));
}
