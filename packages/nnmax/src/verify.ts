import { InvalidOptionError } from '@nnmax/core';
import { forward64 } from '@nnmax/onnx';
import type { ProgressEvent } from './maximize-types.js';
import { MAXIMIZE_DEFAULTS, resolveProblem, resolveSearch } from './maximize.js';
import type { Model } from './model.js';
import { solve } from './solve.js';
import { checkCounterexample, validateProperty, type Property, type VnncompStatus } from './vnnlib/index.js';

/**
 * The search's share of the thread beside branch-and-bound while verifying: counterexamples, when
 * they exist, are usually found in milliseconds, so after the first VERIFY_SEARCH_EARLY_MS the
 * search keeps a small share and the proof gets the rest (branch-and-bound's own candidates and
 * ascents keep looking for counterexamples too). On ACAS Xu N4,2 property 2 (unsat, 16 s) the
 * smaller share saves about 2 s.
 */
const VERIFY_SEARCH_SHARE = 0.2;
const VERIFY_SEARCH_LATE_SHARE = 0.05;
const VERIFY_SEARCH_EARLY_MS = 1000;

export interface VerifyOptions {
  /** Default 60 s, shared by all input regions of the property. */
  readonly timeLimitMs?: number;
  readonly signal?: AbortSignal;
  readonly seed?: number;
  readonly onProgress?: (e: ProgressEvent & { readonly caseIndex: number }) => void;
}

export interface VerifyResult {
  /** VNN-COMP terms: `sat` = violated (a counterexample exists), `unsat` = the property holds. */
  readonly status: VnncompStatus;
  /** The counterexample (with `sat`): x, and y = F(x) from onnxruntime on the original graph (float32). */
  readonly x?: number[];
  readonly y?: number[];
  /** For each input region: the certified upper bound of its margin (< 0 proves it), or null. */
  readonly caseBounds: readonly (number | null)[];
  readonly timeMs: number;
  /** Why the answer is not sat/unsat, or how it was reached. */
  readonly reason: string;
}

/**
 * Answers a VNN-LIB property: for each input region, maximise the max-min margin of its unsafe
 * region (>= 0 exactly when violated) with the search portfolio and branch-and-bound together,
 * stopping at the first point with margin >= 0 or once the certified bound is < 0. A `sat` answer
 * is given only after the counterexample is re-checked against the property in float64 (IR) and
 * in float32 (onnxruntime on the user's original graph) with VNN-COMP's tolerance.
 */
export async function verify(model: Model, property: Property, options: VerifyOptions = {}): Promise<VerifyResult> {
  const t0 = performance.now();
  validateProperty(property, model.nIn, model.nOut);
  const timeLimitMs = options.timeLimitMs ?? 60_000;
  if (!(timeLimitMs > 0)) throw new InvalidOptionError('timeout', timeLimitMs, 'a positive time');
  const ir = model.requireIr('verification');
  const caseBounds: (number | null)[] = property.cases.map(() => null);
  let unresolved = '';
  for (const [k, pcase] of property.cases.entries()) {
    const remaining = timeLimitMs - (performance.now() - t0);
    if (remaining <= 0 || options.signal?.aborted) {
      unresolved ||= `time ran out before input region ${k}`;
      break;
    }
    const one: Property = { ...property, cases: [pcase] };
    const search = {
      ...resolveSearch({ timeLimitMs: remaining, target: 0, certify: true, tol: 0, seed: options.seed ?? MAXIMIZE_DEFAULTS.seed, signal: options.signal }, 1),
      searchShare: (elapsedMs: number) => (elapsedMs < VERIFY_SEARCH_EARLY_MS ? VERIFY_SEARCH_SHARE : VERIFY_SEARCH_LATE_SHARE),
    };
    const problem = resolveProblem(model, { vnnlib: one }, 1);
    if (problem.isEmpty) {
      caseBounds[k] = -Infinity; // no input meets the region's constraints: no counterexample there
      continue;
    }
    const onProgress = options.onProgress;
    const outcome = await solve(model, problem, search, onProgress && ((e) => onProgress({ ...e, caseIndex: k })), 1);
    caseBounds[k] = outcome.upperBound;
    if (outcome.value >= 0) {
      const confirmed = await confirm(model, property, outcome.x, ir);
      if (confirmed) return { status: 'sat', x: Array.from(outcome.x), y: confirmed, caseBounds, timeMs: performance.now() - t0, reason: `counterexample in input region ${k}` };
      unresolved ||= `a point with margin ${outcome.value} >= 0 in region ${k} failed the float32 re-check`;
      continue;
    }
    if (outcome.upperBound === null || !(outcome.upperBound < 0)) {
      unresolved ||= options.signal?.aborted ? 'aborted' : `input region ${k}: no counterexample and no proof within the time limit`;
    }
  }
  const proved = caseBounds.every((b) => b !== null && b < 0);
  const timeMs = performance.now() - t0;
  if (proved) return { status: 'unsat', caseBounds, timeMs, reason: 'every input region has a certified margin bound < 0' };
  return { status: unresolved.includes('re-check') ? 'unknown' : 'timeout', caseBounds, timeMs, reason: unresolved };
}

/**
 * The counterexample's outputs from onnxruntime on the original graph (float32), if both those
 * and the float64 IR outputs satisfy the property within VNN-COMP's tolerance; else undefined.
 */
async function confirm(model: Model, property: Property, x: Float64Array, ir: NonNullable<Model['ir']>): Promise<number[] | undefined> {
  const y64 = forward64(ir, x, 1);
  if (!checkCounterexample(property, x, y64).isValid) return undefined;
  const original = await model.originalEvaluator();
  const y32 = await original.values(x, 1);
  if (!checkCounterexample(property, x, y32).isValid) return undefined;
  return Array.from(y32);
}
