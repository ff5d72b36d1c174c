/**
 * The one interface through which nnmax evaluates networks. Implementations live behind the
 * `./node` (onnxruntime-node) and `./web` (onnxruntime-web) entries; optimisers never see them.
 * All arrays are flat and row-major; float64 in and out, float32 only inside the runtime.
 */
export interface Evaluator {
  /** 'onnxruntime-node', 'onnxruntime-web/wasm', ... */
  readonly backend: string;
  readonly nIn: number;
  readonly nOut: number;
  /** Whether `valuesAndGradients` is available (the model fits the IR). */
  readonly hasGradients: boolean;
  /**
   * Whether the runtime computes on the calling thread where timers cannot share that thread
   * fairly, so that work beside it must take explicit turns (onnxruntime-web's wasm in a browser,
   * where timers are clamped to 4 ms). onnxruntime-node's `run` blocks the calling thread too, but
   * Node's exact timers share it (see nnmax's turn-taking.ts); its worker lanes compute elsewhere.
   */
  readonly computesOnCallingThread: boolean;
  /** Network outputs for n points: x is [n, nIn]; returns [n, nOut]. */
  values(x: Float64Array, n: number): Promise<Float64Array>;
  /**
   * Outputs, objective values c . F(x) and their input gradients for n points. `c` is [nOut]
   * (shared) or [n, nOut] (one objective per point).
   */
  valuesAndGradients(x: Float64Array, n: number, c: Float64Array): Promise<ValuesAndGradients>;
  dispose(): Promise<void>;
}

export interface ValuesAndGradients {
  readonly outputs: Float64Array; // [n, nOut]
  readonly values: Float64Array; // [n]
  readonly gradients: Float64Array; // [n, nIn]
}

/** The ONNX graphs an evaluator runs, built by `@nnmax/onnx` from the imported model. */
export interface ModelGraphs {
  readonly nIn: number;
  readonly nOut: number;
  /**
   * The forward graph. When `forwardInput` is undefined it is nnmax's emitted graph with input
   * 'X' [N, nIn] and output 'Y' [N, nOut]. Otherwise it is the user's original graph, run through
   * its own input and output names; `batched` says whether its first axis accepts N points.
   */
  readonly forward: Uint8Array;
  readonly forwardInput?: { readonly name: string; readonly output: string; readonly shape: readonly number[]; readonly batched: boolean };
  /** The value-and-gradient graph (inputs X, C; outputs Y, V, G), when the model fits the IR. */
  readonly gradient?: Uint8Array;
}

export interface EvaluatorOptions {
  /** onnxruntime intra-op threads per session (default 1: faster on these small graphs). */
  readonly intraOpThreads?: number;
  /** Largest batch passed to one `run` (default 16384); bigger requests are split. */
  readonly maxBatch?: number;
  /**
   * Parallel lanes (default 1). With the node adapter each lane is a worker thread holding its
   * own one-thread session; a batch of at least `minLaneBatch` points is split across lanes.
   */
  readonly lanes?: number;
  /** Smallest batch worth splitting across lanes (default 512). */
  readonly minLaneBatch?: number;
}

export const EVALUATOR_DEFAULTS: Required<EvaluatorOptions> = {
  intraOpThreads: 1,
  maxBatch: 16384,
  lanes: 1,
  minLaneBatch: 512,
};
