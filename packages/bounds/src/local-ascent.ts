import type { Box } from '@nnmax/core';
import { forwardAll, valueAndGradient64, type IrGraph } from '@nnmax/onnx';
import { giveF64, takeF64 } from './scratch.js';
import type { MaxMinSpec } from './spec.js';

/** Options of `localAscent`. */
export interface LocalAscentOptions {
  /** Steps per start point (default 24). */
  readonly iterations?: number;
  /** First step, as a fraction of each input's width in its box (default 1/16). */
  readonly initialStep?: number;
}

/** The active term of a max-min spec at one output: the disjunct that attains the max, and its term that attains the min. */
function activeTerm(spec: MaxMinSpec, y: Float64Array, yo: number): { value: number; row: Float64Array } {
  const nOut = spec.nOut;
  let best = -Infinity;
  let bestRow: Float64Array | undefined;
  for (const d of spec.disjuncts) {
    let m = Infinity;
    let mRow = 0;
    for (let j = 0; j < d.e.length; j++) {
      let v = d.e[j];
      for (let o = 0; o < nOut; o++) v += d.D[j * nOut + o] * y[yo + o];
      if (v < m) {
        m = v;
        mRow = j;
      }
    }
    if (m > best || bestRow === undefined) {
      best = m;
      bestRow = d.D.subarray(mRow * nOut, (mRow + 1) * nOut);
    }
  }
  return { value: best, row: bestRow as Float64Array };
}

/**
 * Primal heuristic for branch-and-bound: projected sign-gradient ascent of the spec's value
 * g(x) = max_k min_j (D_k[j] . F(x) + e_k[j]) from each start point, inside that point's box,
 * on the float64 reference. A step that does not improve is halved and retried; one that does is
 * kept and lengthened. Returns each start's best point (the start itself when nothing improved);
 * no soundness role, the caller evaluates the points like any other candidate.
 */
export function localAscent(
  graph: IrGraph,
  spec: MaxMinSpec,
  starts: readonly Float64Array[],
  boxes: readonly Box[],
  options: LocalAscentOptions = {},
): Float64Array[] {
  const n = starts.length;
  const nIn = graph.nIn;
  const nOut = graph.nOut;
  const iterations = options.iterations ?? 24;
  const x = new Float64Array(n * nIn); // [n, nIn] current points
  starts.forEach((p, i) => x.set(p, i * nIn));
  const step = new Float64Array(n).fill(options.initialStep ?? 1 / 16);
  const value = new Float64Array(n);
  const grad = new Float64Array(n * nIn); // [n, nIn] gradient of the active term at x
  // a single term is always the active one: no forward pass to find it
  const only = spec.disjuncts.length === 1 && spec.disjuncts[0].e.length === 1 ? spec.disjuncts[0] : undefined;
  // Every evaluation makes the same arrays in the same order: recycle them (see Arena).
  const arena = new Arena();
  const evaluate = (pts: Float64Array, outValue: Float64Array, outGrad: Float64Array): void => {
    arena.reset();
    let c: Float64Array; // [nOut] or [n, nOut]: the active term's weights per point
    let values: Float64Array[] | undefined; // every node's values at pts, when the active terms needed them
    const offsets = arena.take(n);
    if (only !== undefined) {
      c = only.D;
      offsets.fill(only.e[0]);
    } else {
      c = arena.take(n * nOut);
      values = forwardAll(graph, pts, n, arena.take);
      const y = values[graph.output];
      for (let s = 0; s < n; s++) {
        const t = activeTerm(spec, y, s * nOut);
        c.set(t.row, s * nOut);
        let dot = 0;
        for (let o = 0; o < nOut; o++) dot += t.row[o] * y[s * nOut + o];
        offsets[s] = t.value - dot;
      }
    }
    const r = valueAndGradient64(graph, pts, n, c, arena.take, values);
    for (let s = 0; s < n; s++) outValue[s] = r.values[s] + offsets[s];
    outGrad.set(r.gradients);
  };
  evaluate(x, value, grad);
  const trial = new Float64Array(n * nIn);
  const trialValue = new Float64Array(n);
  const trialGrad = new Float64Array(n * nIn);
  for (let it = 0; it < iterations; it++) {
    for (let s = 0; s < n; s++) {
      const { lo, hi } = boxes[s];
      for (let k = 0; k < nIn; k++) {
        const q = s * nIn + k;
        const g = grad[q];
        const v = x[q] + (g > 0 ? 1 : g < 0 ? -1 : 0) * step[s] * (hi[k] - lo[k]);
        trial[q] = v < lo[k] ? lo[k] : v > hi[k] ? hi[k] : v;
      }
    }
    evaluate(trial, trialValue, trialGrad);
    for (let s = 0; s < n; s++) {
      if (trialValue[s] > value[s]) {
        value[s] = trialValue[s];
        x.set(trial.subarray(s * nIn, (s + 1) * nIn), s * nIn);
        grad.set(trialGrad.subarray(s * nIn, (s + 1) * nIn), s * nIn);
        step[s] = Math.min(0.5, 1.5 * step[s]);
      } else {
        step[s] *= 0.5;
      }
    }
  }
  arena.reset(); // the last evaluation's arrays back to the pool
  return Array.from({ length: n }, (_, s) => x.slice(s * nIn, (s + 1) * nIn));
}

/**
 * The arrays of one evaluation, taken from the shared pool (scratch.ts, zero-filled as `new`
 * makes them) and all given back by `reset` before the next: everything taken is dead once the
 * evaluation has copied its value and gradient out. This spares ~30 allocations per step, which
 * cost more than the arithmetic on small networks (a fresh typed array is ~100 us in Chromium).
 */
class Arena {
  private readonly taken: Float64Array[] = [];

  reset(): void {
    for (const a of this.taken) giveF64(a);
    this.taken.length = 0;
  }

  readonly take = (n: number): Float64Array => {
    const a = takeF64(n);
    this.taken.push(a);
    return a;
  };
}
