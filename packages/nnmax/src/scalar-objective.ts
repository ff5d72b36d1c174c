import { marginActive, marginValues, type CompiledMargin } from './vnnlib/index.js';

/**
 * The function the searches maximise, computed from network outputs: a linear objective
 * (times -1 when minimising) or a VNN-LIB margin g(y) = max_k min_j (offsets[j] - rows[j] . y).
 */
export interface ScalarObjective {
  readonly nOut: number;
  /** Linear objectives have one weight vector for every point (one gradient run suffices). */
  readonly constantWeights: Float64Array | undefined;
  /** Values for a batch of outputs `ys` [n, nOut]. */
  values(ys: Float64Array, n: number): Float64Array;
  /** Gradient weights d value / d y per point [n, nOut] (a subgradient for max-min). */
  weights(ys: Float64Array, n: number): Float64Array;
}

/** sign * (c . y + offset). */
export function linearScalar(c: Float64Array, offset: number, sign: 1 | -1): ScalarObjective {
  const nOut = c.length;
  const w = c.map((v) => sign * v);
  return {
    nOut,
    constantWeights: w,
    values(ys, n) {
      const out = new Float64Array(n);
      for (let s = 0; s < n; s++) {
        let v = offset;
        for (let j = 0; j < nOut; j++) v += c[j] * ys[s * nOut + j];
        out[s] = sign * v;
      }
      return out;
    },
    weights(_ys, n) {
      const out = new Float64Array(n * nOut);
      for (let s = 0; s < n; s++) out.set(w, s * nOut);
      return out;
    },
  };
}

/** The VNN-LIB margin: >= 0 exactly in the unsafe region. */
export function marginScalar(m: CompiledMargin): ScalarObjective {
  const { nOut, rows, groups } = m;
  const single = groups.length === 1 && groups[0].length === 1;
  return {
    nOut,
    constantWeights: single ? rows.slice(0, nOut).map((v) => -v) : undefined,
    values: (ys, n) => marginValues(m, ys, n),
    weights(ys, n) {
      const out = new Float64Array(n * nOut);
      for (let s = 0; s < n; s++) {
        const { row } = marginActive(m, ys.subarray(s * nOut, (s + 1) * nOut));
        if (row >= 0) for (let t = 0; t < nOut; t++) out[s * nOut + t] = -rows[row * nOut + t];
      }
      return out;
    },
  };
}
