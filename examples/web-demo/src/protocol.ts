import type { MaximizeResult, ModelInfo, SearchMethod } from 'nnmax';

/**
 * Messages between the page and the search worker. Every request but 'cancel' gets exactly one
 * final reply (its answer or 'error'); 'run' and 'verify' also stream 'progress' replies.
 */
export type WorkerRequest =
  | { readonly type: 'load'; readonly id: number; readonly bytes: ArrayBuffer; readonly file: string; readonly threads: number }
  | { readonly type: 'property'; readonly id: number; readonly text: string; readonly file: string }
  | { readonly type: 'surface'; readonly id: number; readonly spec: SurfaceSpec }
  | { readonly type: 'run'; readonly id: number; readonly spec: RunSpec }
  | { readonly type: 'verify'; readonly id: number; readonly spec: VerifySpec }
  /** Aborts the request `id` (its AbortController): it still answers, with what it has. */
  | { readonly type: 'cancel'; readonly id: number };

export type WorkerReply =
  | { readonly type: 'loaded'; readonly id: number; readonly model: LoadedModel }
  | { readonly type: 'property'; readonly id: number; readonly property: PropertySummary }
  | { readonly type: 'surface'; readonly id: number; readonly surface: Surface }
  | { readonly type: 'progress'; readonly id: number; readonly progress: ProgressPoint }
  | { readonly type: 'result'; readonly id: number; readonly result: MaximizeResult }
  | { readonly type: 'verdict'; readonly id: number; readonly verdict: Verdict }
  | { readonly type: 'error'; readonly id: number; readonly error: ErrorReport };

export interface LoadedModel {
  readonly info: ModelInfo;
  readonly backend: string;
  /** onnxruntime-web's wasm threads (more than 1 only when the page is cross-origin isolated). */
  readonly threads: number;
  readonly isolated: boolean;
  readonly loadMs: number;
}

/** A VNN-LIB file checked against the loaded model. */
export interface PropertySummary {
  readonly file: string;
  readonly cases: number;
  /** The box of the first input region (the demo's default search box). */
  readonly lo: readonly number[];
  readonly hi: readonly number[];
}

/** The search settings the page's form produces. */
export interface RunSpec {
  readonly objective: string;
  readonly sense: 'max' | 'min';
  readonly lo: readonly number[];
  readonly hi: readonly number[];
  readonly method: SearchMethod;
  readonly certify: boolean;
  readonly tol: number;
  readonly timeLimitMs: number;
  readonly seed: number;
}

export interface VerifySpec {
  readonly text: string;
  readonly file: string;
  readonly timeLimitMs: number;
  readonly seed: number;
}

/** One point of the convergence plot, in the caller's sense. */
export interface ProgressPoint {
  readonly elapsedMs: number;
  readonly evaluations: number;
  readonly value: number;
  readonly x: readonly number[];
  readonly bound: number | null;
  readonly gap: number | null;
  readonly phase: string;
  /** With verify: the input region being searched. */
  readonly caseIndex?: number;
}

/** The answer of `verify` in VNN-COMP terms, with its result file. */
export interface Verdict {
  readonly status: 'sat' | 'unsat' | 'timeout' | 'unknown';
  readonly text: string; // the VNN-COMP result file
  readonly reason: string;
  readonly caseBounds: readonly (number | null)[];
  readonly x?: readonly number[];
  readonly timeMs: number;
}

/**
 * The objective through a point: a heat map over inputs (i, j) and a 1-D slice per input in
 * `slices`. Each axis spans [lo, hi] in `steps` points.
 */
export interface SurfaceSpec {
  readonly objective: string;
  readonly through: readonly number[]; // [nIn]
  readonly lo: readonly number[]; // [nIn] plotted range per input
  readonly hi: readonly number[]; // [nIn]
  readonly heat: readonly [number, number] | null; // input indices (i on x, j on y)
  readonly heatSteps: number;
  readonly slices: readonly number[]; // input indices
  readonly sliceSteps: number;
}

export interface Surface {
  readonly spec: SurfaceSpec;
  readonly heat: Float64Array | null; // [heatSteps (j), heatSteps (i)] row-major, row 0 at lo[j]
  readonly slices: readonly Float64Array[]; // one [sliceSteps] per spec.slices entry
  readonly points: number; // points evaluated in the one batch
}

/** An error as the page shows it: an NnmaxError keeps its code; anything else its name. */
export interface ErrorReport {
  readonly name: string;
  readonly code: string | null;
  readonly message: string;
}

export function toErrorReport(e: unknown): ErrorReport {
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    return { name: e.name, code: typeof code === 'string' ? code : null, message: e.message };
  }
  return { name: 'Error', code: null, message: String(e) };
}

/** Evenly spaced points from lo to hi inclusive (a single point when steps is 1). */
export function linspace(lo: number, hi: number, steps: number): Float64Array {
  const out = new Float64Array(steps);
  for (let k = 0; k < steps; k++) out[k] = steps === 1 ? lo : lo + ((hi - lo) * k) / (steps - 1);
  return out;
}
