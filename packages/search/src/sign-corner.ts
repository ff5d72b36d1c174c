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
 * networks of ../shared/maximize a lane from the box centre ends within 4 to 15 batches).
 */
export const SIGN_CORNER_DEFAULTS = Object.freeze({ maxIterations: 50 });

interface Lane {
  x: Float64Array;
  value: number;
  grad: Float64Array | undefined;
  isLive: boolean;
  /** The full corner from x was asked and was no better: the partial moves are next. */
  isBacktracking: boolean;
}

/**
 * Steepest ascent in the infinity norm with the full step, from several starts advanced together:
 * each step goes to the corner of the box that the gradient's signs point to (an input with a
 * zero derivative keeps its value) when that is better. When it is not, the next batch backtracks
 * on the number of inputs moved rather than on the step length: it asks the points that move only
 * the k inputs of largest predicted gain (derivative times distance to the bound), for k = m/2,
 * m/4, ..., 1 of the m inputs the corner moves, and the lane goes to the best of them when it is
 * better, else it ends.
 *
 * Over the small boxes of local robustness properties (an image plus or minus a few hundredths) a
 * network is nearly linear and its maximum lies at or next to such a corner: from the box centre
 * this reaches the best-known value of 13 of the 20 maximisations over 784-input networks of
 * ../shared/maximize in 4 to 15 batches (4 to 59 points), and ends within 1.5e-4 (relative) of it
 * on three others, where a projected quasi-Newton run takes over. Its first step is the fast
 * gradient sign method of adversarial attacks.
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
    this.lanes = points.map((s) => ({ x: clampToBox(Float64Array.from(s), this.box), value: -Infinity, grad: undefined, isLive: true, isBacktracking: false }));
  }

  ask(): Float64Array[] {
    if (this.reasons.length > 0) return (this.asked = []);
    this.askedLanes = [];
    const points: Float64Array[] = [];
    for (const lane of this.lanes) {
      if (!lane.isLive) continue;
      const steps = lane.grad === undefined ? [lane.x] : this.steps(lane.x, lane.grad, lane.isBacktracking);
      if (steps.length === 0) {
        lane.isLive = false; // at its corner (a fixed point), or no partial move is left
        continue;
      }
      for (const p of steps) {
        points.push(p);
        this.askedLanes.push(lane);
      }
    }
    if (points.length === 0) this.reasons = ['converged'];
    return (this.asked = points);
  }

  tell(points: readonly Float64Array[], values: Float64Array, grads?: readonly Float64Array[]): void {
    checkTell(this.name, this.asked, points, values, grads, true);
    this.asked = undefined;
    this.iterations++;
    this.best = updateBest(this.best, points, values);
    // per lane, the best of its points with a finite value and gradient
    const chosen = new Map<Lane, number>();
    points.forEach((_, k) => {
      const lane = this.askedLanes[k];
      if (!Number.isFinite(values[k]) || !grads![k].every(Number.isFinite)) return;
      const at = chosen.get(lane);
      if (at === undefined || values[k] > values[at]) chosen.set(lane, k);
    });
    for (const lane of new Set(this.askedLanes)) {
      const k = chosen.get(lane);
      const isFirst = lane.grad === undefined;
      if (k !== undefined && (isFirst || values[k] > lane.value)) {
        lane.x = points[k];
        lane.value = values[k];
        lane.grad = grads![k];
        lane.isBacktracking = false;
      } else if (!isFirst && !lane.isBacktracking) {
        lane.isBacktracking = true;
      } else {
        lane.isLive = false; // no better point, or a start without a finite value and gradient
      }
    }
    if (this.lanes.every((l) => !l.isLive)) this.reasons = ['converged'];
    else if (this.iterations >= this.maxIterations) this.reasons = ['maxEvaluations'];
  }

  stop(): readonly StopReason[] {
    return this.reasons;
  }

  /**
   * The corner the gradient's signs point to from x or, when backtracking, x with only the k inputs
   * of largest predicted gain moved there, for k = m/2, m/4, ..., 1 (m the inputs the corner
   * moves); none when x is that corner.
   */
  private steps(x: Float64Array, g: Float64Array, isBacktracking: boolean): Float64Array[] {
    const { lo, hi } = this.box;
    const moves: { i: number; to: number; gain: number }[] = [];
    for (let i = 0; i < x.length; i++) {
      const to = g[i] > 0 ? hi[i] : g[i] < 0 ? lo[i] : x[i];
      if (to !== x[i]) moves.push({ i, to, gain: g[i] * (to - x[i]) });
    }
    if (!isBacktracking) {
      if (moves.length === 0) return [];
      const corner = Float64Array.from(x);
      for (const m of moves) corner[m.i] = m.to;
      return [corner];
    }
    moves.sort((a, b) => b.gain - a.gain || a.i - b.i);
    const out: Float64Array[] = [];
    for (let k = Math.floor(moves.length / 2); k >= 1; k = Math.floor(k / 2)) {
      const y = Float64Array.from(x);
      for (let j = 0; j < k; j++) y[moves[j].i] = moves[j].to;
      out.push(y);
    }
    return out;
  }
}
