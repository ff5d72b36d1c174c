import { OptimizerProtocolError } from '@nnmax/core';

/**
 * Why an optimiser stopped. CMA-ES reasons follow Hansen's tutorial (appendix B) and pycma:
 * - `maxEvaluations`: the evaluation budget is spent;
 * - `tolFun`: the recent best values (and this generation's spread) vary less than tolFun;
 * - `tolX`: every coordinate step is below tolX (sigma * sqrt(C_ii) and sigma * p_c);
 * - `tolStagnation`: the median of recent bests no longer improves;
 * - `noEffectAxis` / `noEffectCoord`: adding 0.1 sigma along an axis leaves the mean unchanged;
 * - `conditionCov`: the condition number of C exceeds 1e14;
 * - `converged`: a local method reached its gradient or step tolerance;
 * - `exhausted`: a finite design (e.g. a Sobol sample of fixed size) has been fully asked.
 */
export type StopReason =
  | 'maxEvaluations'
  | 'tolFun'
  | 'tolX'
  | 'tolStagnation'
  | 'noEffectAxis'
  | 'noEffectCoord'
  | 'conditionCov'
  | 'converged'
  | 'exhausted';

/**
 * The ask/tell contract of every nnmax optimiser (STYLE.md). Everything maximises.
 * `tell` takes exactly the points of the last `ask`, in order (the same array objects);
 * anything else throws `OptimizerProtocolError`. A NaN or +-Infinity value ranks worst and
 * never corrupts the state.
 */
export interface Optimizer {
  readonly name: string;
  /** True when `tell` needs the gradients of the values (the driver then runs the gradient graph). */
  readonly needsGradients: boolean;
  /** One batch of points, every one inside the box. Empty once stopped. */
  ask(): Float64Array[];
  tell(points: readonly Float64Array[], values: Float64Array, grads?: readonly Float64Array[]): void;
  /** Empty while running. */
  stop(): readonly StopReason[];
  readonly best: { x: Float64Array; value: number } | undefined;
}

/**
 * Checks the protocol for `tell`: the same points as the last `ask`, one value per point, and
 * gradients of the right shape when the optimiser needs them.
 */
export function checkTell(
  name: string,
  asked: readonly Float64Array[] | undefined,
  points: readonly Float64Array[],
  values: Float64Array,
  grads: readonly Float64Array[] | undefined,
  needsGradients: boolean,
): void {
  if (!asked) throw new OptimizerProtocolError(`${name}: tell() without a preceding ask()`);
  if (points.length !== asked.length || points.some((p, i) => p !== asked[i])) {
    throw new OptimizerProtocolError(`${name}: tell() must receive exactly the ${asked.length} points of the last ask(), in order`);
  }
  if (values.length !== points.length) {
    throw new OptimizerProtocolError(`${name}: tell() got ${values.length} values for ${points.length} points`);
  }
  if (needsGradients) {
    if (!grads || grads.length !== points.length || grads.some((g) => g.length !== points[0].length)) {
      throw new OptimizerProtocolError(`${name}: tell() needs one gradient of length ${points[0]?.length ?? 0} per point`);
    }
  }
}

/** A value for ranking: NaN and +-Infinity rank worst (maximisation). */
export function rankValue(v: number): number {
  return Number.isFinite(v) ? v : -Infinity;
}

/** Keeps the best (x, value) told so far; non-finite values never become best. */
export function updateBest(
  best: { x: Float64Array; value: number } | undefined,
  points: readonly Float64Array[],
  values: Float64Array,
): { x: Float64Array; value: number } | undefined {
  let out = best;
  for (let i = 0; i < points.length; i++) {
    const v = values[i];
    if (Number.isFinite(v) && (out === undefined || v > out.value)) out = { x: Float64Array.from(points[i]), value: v };
  }
  return out;
}
