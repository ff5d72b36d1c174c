import { clampToBox, InvalidOptionError, type Box } from '@nnmax/core';
import { checkTell, updateBest, type Optimizer, type StopReason } from './optimizer.js';
import { checkBox, checkInteger, definedOnly } from './options.js';

export interface SignCornerAscentOptions {
  readonly box: Box;
  /** The lanes' start points (clamped into the box); the box centre when empty or absent. */
  readonly starts?: readonly Float64Array[];
  /** ask/tell rounds (the first evaluates the starts) before stopping with 'maxEvaluations'. */
  readonly maxIterations?: number;
}

/**
 * Defaults of {@link SignCornerAscent}: `maxIterations` 50, a safety net (on the 784-input
 * networks of ../shared/maximize a lane ends within 2 to 13 steps).
 */
export const SIGN_CORNER_DEFAULTS = Object.freeze({ maxIterations: 50 });

interface Lane {
  x: Float64Array;
  value: number;
  grad: Float64Array | undefined;
  isLive: boolean;
}

/**
 * Steepest ascent in the infinity norm with the full step, from several starts advanced together:
 * each step jumps to the corner of the box that the gradient's signs point to (an input with a
 * zero derivative keeps its value), and a lane moves while that corner is better, else it ends.
 *
 * Over the small boxes of local robustness properties (an image plus or minus a few hundredths) a
 * network is nearly linear, and its maximum lies at or next to such a corner: from the box centre
 * it reaches the exact optimum of 9 of the 20 maximisations over 784-input networks of
 * ../shared/maximize in 2 to 13 steps, and ends within about 1e-3 of it on most others (where a
 * projected quasi-Newton run takes over). It is the fast gradient sign method of adversarial
 * attacks, iterated to its fixed point.
 */
export class SignCornerAscent implements Optimizer {
  readonly name = 'sign-corner';
  readonly needsGradients = true;
  best: { x: Float64Array; value: number } | undefined;
  private readonly box: Box;
  private readonly maxIterations: number;
  private readonly lanes: Lane[];
  private iterations = 0;
  private asked: Float64Array[] | undefined;
  /** The lanes the last ask's points belong to. */
  private askedLanes: Lane[] = [];
  private reasons: StopReason[] = [];

  constructor(options: SignCornerAscentOptions) {
    this.box = checkBox(options.box);
    const o = { ...SIGN_CORNER_DEFAULTS, ...definedOnly(options) };
    checkInteger('maxIterations', o.maxIterations, 1);
    this.maxIterations = o.maxIterations;
    const n = this.box.lo.length;
    const starts = options.starts ?? [];
    starts.forEach((s, i) => {
      if (!(s instanceof Float64Array) || s.length !== n || !s.every(Number.isFinite)) {
        throw new InvalidOptionError(`starts[${i}]`, s, `a finite Float64Array of length ${n}`);
      }
    });
    const points = starts.length > 0 ? starts : [Float64Array.from(this.box.lo, (lo, i) => lo + (this.box.hi[i] - lo) / 2)];
    this.lanes = points.map((s) => ({ x: clampToBox(Float64Array.from(s), this.box), value: -Infinity, grad: undefined, isLive: true }));
  }

  ask(): Float64Array[] {
    if (this.reasons.length > 0) return (this.asked = []);
    this.askedLanes = [];
    const points: Float64Array[] = [];
    for (const lane of this.lanes) {
      if (!lane.isLive) continue;
      if (lane.grad === undefined) {
        points.push(lane.x);
      } else {
        const corner = this.corner(lane.x, lane.grad);
        if (corner === undefined) {
          lane.isLive = false; // already at its corner: a fixed point
          continue;
        }
        points.push(corner);
      }
      this.askedLanes.push(lane);
    }
    if (points.length === 0) this.reasons = ['converged'];
    return (this.asked = points);
  }

  tell(points: readonly Float64Array[], values: Float64Array, grads?: readonly Float64Array[]): void {
    checkTell(this.name, this.asked, points, values, grads, true);
    this.asked = undefined;
    this.iterations++;
    this.best = updateBest(this.best, points, values);
    points.forEach((x, k) => {
      const lane = this.askedLanes[k];
      const g = grads![k];
      const v = values[k];
      const isFirst = lane.grad === undefined;
      if (isFirst || (Number.isFinite(v) && v > lane.value && g.every(Number.isFinite))) {
        lane.x = x;
        lane.value = Number.isFinite(v) ? v : -Infinity;
        lane.grad = g.every(Number.isFinite) ? g : undefined;
        if (lane.grad === undefined) lane.isLive = false; // no direction to follow
      } else {
        lane.isLive = false;
      }
    });
    if (this.lanes.every((l) => !l.isLive)) this.reasons = ['converged'];
    else if (this.iterations >= this.maxIterations) this.reasons = ['maxEvaluations'];
  }

  stop(): readonly StopReason[] {
    return this.reasons;
  }

  /** The corner the gradient's signs point to from x, or undefined when x is that corner. */
  private corner(x: Float64Array, g: Float64Array): Float64Array | undefined {
    const { lo, hi } = this.box;
    const y = Float64Array.from(x);
    let isMoved = false;
    for (let i = 0; i < y.length; i++) {
      const t = g[i] > 0 ? hi[i] : g[i] < 0 ? lo[i] : x[i];
      if (t !== x[i]) {
        y[i] = t;
        isMoved = true;
      }
    }
    return isMoved ? y : undefined;
  }
}
