import { dotErrorFactor, nextUp } from '@nnmax/core';
import { UNDERFLOW_FLOOR } from './soundness.js';

/** Pivots allowed per row of the tableau before the simplex gives up (Bland's rule cannot cycle; this is a guard). */
const PIVOTS_PER_ROW = 20;
/** Entries of the tableau smaller than this count as zero. */
const PIVOT_EPS = 1e-12;

export interface CombinedBound {
  /** Certified: min over the terms of f_j(x) <= ub for every x in the box. */
  readonly ub: number;
  /** The maximiser over the box of the combined linear bound (a candidate near the max-min point). */
  readonly x: Float64Array;
  /** The multipliers of the terms (>= 0, not normalised): the LP's, or one term's. */
  readonly lambda: Float64Array;
}

/**
 * A bound on max over the box of min_j f_j(x), given sound linear bounds f_j(x) <= A_j . x + c_j
 * on the box (rows `rows` of `A` `[*, nIn]` and `c`), that is tighter than min_j max_x (A_j . x + c_j):
 * for any multipliers lambda >= 0 with sum s > 0, min_j f_j(x) <= sum_j lambda_j f_j(x) / s, so
 *   max_x min_j f_j(x) <= max_x sum_j lambda_j (A_j . x + c_j) / s   (weak LP duality).
 * The best multipliers are the dual solution of the LP  max t  s.t.  t <= A_j . x + c_j, x in the
 * box, solved by a small dense simplex. Near a point where several terms tie, the combination
 * cancels their gradients, so a box need not shrink until one term alone is below the threshold.
 *
 * Soundness does not rest on the simplex: whatever multipliers it returns, the bound is evaluated
 * for them with outward rounding, and never exceeds the least single-term bound.
 * `lo`/`hi` are the box (`[nIn]` at offset `bo`).
 */
export function combineTerms(A: Float64Array, c: Float64Array, rows: readonly number[], lo: Float64Array, hi: Float64Array, bo: number, nIn: number): CombinedBound {
  const m = rows.length;
  let best = 0;
  let bestValue = Infinity;
  for (let j = 0; j < m; j++) {
    const v = singleBound(A, c, rows[j], lo, hi, bo, nIn);
    if (v < bestValue) {
      bestValue = v;
      best = j;
    }
  }
  const lp = m > 1 ? solveMaxMinLp(A, c, rows, lo, hi, bo, nIn) : undefined;
  let lambda: Float64Array;
  if (lp === undefined) {
    lambda = new Float64Array(m);
    lambda[best] = 1;
  } else {
    lambda = lp;
  }
  const a = new Float64Array(nIn);
  combination(A, rows, lambda, a, nIn);
  const x = new Float64Array(nIn);
  for (let k = 0; k < nIn; k++) x[k] = a[k] > 0 ? hi[bo + k] : a[k] < 0 ? lo[bo + k] : 0.5 * lo[bo + k] + 0.5 * hi[bo + k];
  return { ub: lp === undefined ? bestValue : Math.min(bestValue, certifiedValue(A, c, rows, lambda, lo, hi, bo, nIn)), x, lambda };
}

/**
 * The dual multipliers (one per term) of  max t  s.t.  t <= A_j . x + c_j, lo <= x <= hi, by the
 * textbook tableau simplex with Bland's rule, or undefined when the data are not finite or the
 * pivot guard trips. With y = x - lo and tau = t - t0, where t0 = min_j (A_j . lo + c_j), the LP is
 *   max tau  s.t.  tau - A_j . y <= c_j + A_j . lo - t0 (>= 0),  y_k <= hi_k - lo_k,  tau, y >= 0,
 * so the slack basis is feasible from the start. The dual prices of the term rows are the final
 * objective row's entries under their slack columns.
 */
function solveMaxMinLp(A: Float64Array, c: Float64Array, rows: readonly number[], lo: Float64Array, hi: Float64Array, bo: number, nIn: number): Float64Array | undefined {
  const m = rows.length;
  const nRows = m + nIn;
  const nCols = 1 + nIn + nRows; // tau, y, slacks
  const width = nCols + 1; // and the right-hand side
  const T = new Float64Array((nRows + 1) * width); // [nRows + 1, width], the objective row last
  const basis = new Int32Array(nRows);
  const b = new Float64Array(m);
  let t0 = Infinity;
  for (let j = 0; j < m; j++) {
    let v = c[rows[j]];
    for (let k = 0; k < nIn; k++) v += A[rows[j] * nIn + k] * lo[bo + k];
    b[j] = v;
    t0 = Math.min(t0, v);
  }
  if (!Number.isFinite(t0)) return undefined;
  for (let j = 0; j < m; j++) {
    const o = j * width;
    T[o] = 1;
    for (let k = 0; k < nIn; k++) {
      const v = A[rows[j] * nIn + k];
      if (!Number.isFinite(v)) return undefined;
      T[o + 1 + k] = -v;
    }
    T[o + 1 + nIn + j] = 1;
    T[o + nCols] = b[j] - t0;
    basis[j] = 1 + nIn + j;
  }
  for (let k = 0; k < nIn; k++) {
    const o = (m + k) * width;
    T[o + 1 + k] = 1;
    T[o + 1 + nIn + m + k] = 1;
    T[o + nCols] = hi[bo + k] - lo[bo + k];
    basis[m + k] = 1 + nIn + m + k;
  }
  const z = nRows * width;
  T[z] = -1; // maximise tau: reduced cost -1
  for (let pivots = 0; ; pivots++) {
    if (pivots > PIVOTS_PER_ROW * nRows) return undefined;
    let col = -1; // Bland: the first column with a negative reduced cost
    for (let q = 0; q < nCols; q++) {
      if (T[z + q] < -PIVOT_EPS) {
        col = q;
        break;
      }
    }
    if (col < 0) break;
    let row = -1;
    let ratio = Infinity;
    for (let r = 0; r < nRows; r++) {
      const v = T[r * width + col];
      if (v <= PIVOT_EPS) continue;
      const q = T[r * width + nCols] / v;
      if (q < ratio || (q === ratio && basis[r] < basis[row])) {
        ratio = q;
        row = r;
      }
    }
    if (row < 0) return undefined; // unbounded: impossible for a box; numerical trouble
    const po = row * width;
    const p = T[po + col];
    for (let q = 0; q < width; q++) T[po + q] /= p;
    for (let r = 0; r <= nRows; r++) {
      if (r === row) continue;
      const o = r * width;
      const f = T[o + col];
      if (f === 0) continue;
      for (let q = 0; q < width; q++) T[o + q] -= f * T[po + q];
    }
    basis[row] = col;
  }
  const lambda = new Float64Array(m);
  let sum = 0;
  for (let j = 0; j < m; j++) {
    const v = T[z + 1 + nIn + j];
    lambda[j] = v > 0 ? v : 0;
    sum += lambda[j];
  }
  return sum > 0 && Number.isFinite(sum) ? lambda : undefined;
}

/** a = sum_j lambda_j A_{rows[j]}. */
function combination(A: Float64Array, rows: readonly number[], lambda: Float64Array, a: Float64Array, nIn: number): void {
  a.fill(0);
  for (let j = 0; j < rows.length; j++) {
    const w = lambda[j];
    if (w === 0) continue;
    const ro = rows[j] * nIn;
    for (let k = 0; k < nIn; k++) a[k] += w * A[ro + k];
  }
}

/**
 * For each column k < width: sum[k] = the float sum over j, in order, of lambda_j M[rows[j], k], and
 * mag[k] = the sum of the magnitudes of those products (the scale of its rounding error).
 */
function weightedRows(M: Float64Array, rows: readonly number[], lambda: Float64Array, width: number, sum: Float64Array, mag: Float64Array): void {
  for (let k = 0; k < width; k++) {
    let v = 0;
    let vMag = 0;
    for (let j = 0; j < rows.length; j++) {
      const p = lambda[j] * M[rows[j] * width + k];
      v += p;
      vMag += Math.abs(p);
    }
    sum[k] = v;
    mag[k] = vMag;
  }
}

/** max over the box of A_r . x + c_r, rounded outward. */
function singleBound(A: Float64Array, c: Float64Array, r: number, lo: Float64Array, hi: Float64Array, bo: number, nIn: number): number {
  return linearMaxOverBox(A, r * nIn, c[r], lo, hi, bo, nIn);
}

/** max over the box `[lo, hi]` (at offset `bo`) of a . x + c (a at offset `ao`), rounded outward. */
export function linearMaxOverBox(a: Float64Array, ao: number, c: number, lo: Float64Array, hi: Float64Array, bo: number, nIn: number): number {
  let sum = c;
  let mag = Math.abs(c);
  for (let k = 0; k < nIn; k++) {
    const v = a[ao + k];
    const t = v >= 0 ? v * hi[bo + k] : v * lo[bo + k];
    sum += t;
    mag += Math.abs(t);
  }
  return nextUp(sum + dotErrorFactor(nIn + 2) * mag + UNDERFLOW_FLOOR);
}

/**
 * An upper bound, in exact arithmetic, of max_x sum_j lambda_j (A_j . x + c_j) / sum_j lambda_j.
 * The computed a_k = fl(sum_j lambda_j A_jk) is within gamma |lambda_j A_jk| summed of the exact
 * one, which moves max(a_k lo_k, a_k hi_k) by at most that times max(|lo_k|, |hi_k|); the final
 * sum adds its own gamma |terms|. One factor gamma_{m + nIn + 4} covers every chain of operations.
 */
function certifiedValue(A: Float64Array, c: Float64Array, rows: readonly number[], lambda: Float64Array, lo: Float64Array, hi: Float64Array, bo: number, nIn: number): number {
  const m = rows.length;
  const G = dotErrorFactor(m + nIn + 4);
  let sum = 0;
  let mag = 0;
  let s = 0;
  for (let j = 0; j < m; j++) {
    const w = lambda[j];
    if (!(w >= 0)) return Infinity;
    s += w;
    const t = w * c[rows[j]];
    sum += t;
    mag += Math.abs(t);
  }
  if (!(s > 0)) return Infinity;
  const a = new Float64Array(nIn);
  const aMag = new Float64Array(nIn);
  weightedRows(A, rows, lambda, nIn, a, aMag);
  for (let k = 0; k < nIn; k++) {
    const ak = a[k];
    const akMag = aMag[k];
    const l = lo[bo + k];
    const h = hi[bo + k];
    const t = ak >= 0 ? ak * h : ak * l;
    sum += t;
    mag += Math.abs(t) + akMag * Math.max(Math.abs(l), Math.abs(h));
  }
  const H = nextUp(sum + G * mag + UNDERFLOW_FLOOR * (m + 1) * (nIn + 1));
  if (!Number.isFinite(H)) return Infinity;
  return overSum(H, s, m);
}

/**
 * An upper bound of H / S, where S > 0 is the exact sum of m nonnegative multipliers and s its
 * float sum: s is within gamma_m s of S, so s (1 -+ 2 gamma) brackets S.
 */
function overSum(H: number, s: number, m: number): number {
  const g = dotErrorFactor(m);
  const sExact = H >= 0 ? s * (1 - 2 * g) : s * (1 + 2 * g);
  return nextUp(nextUp(H / sExact));
}

/**
 * The combination sum_j lambda_j (D_j . y + e_j) of a disjunct's terms as one row over the
 * outputs y: c . y + e, with c and e rounded, and the rounding bounded on the output box.
 */
export interface CombinedRow {
  /** fl(sum_j lambda_j D_j) `[nOut]` and fl(sum_j lambda_j e_j). */
  readonly c: Float64Array;
  readonly e: number;
  /** |sum_j lambda_j (D_j . y + e_j) - (c . y + e)| <= slack for every y in the output box. */
  readonly slack: number;
  /** fl(sum_j lambda_j) (> 0) and the number of terms. */
  readonly s: number;
  readonly m: number;
  readonly lambda: Float64Array;
}

/**
 * The row of the terms `rows` (of `C` `[*, nOut]` and `bias`) combined with multipliers lambda,
 * for the output box [yLo, yHi], or undefined when it is not finite or the multipliers are not
 * >= 0 with a positive sum. Each c_o and e is a dot product of length m, within gamma_m of the sum
 * of its terms' magnitudes (Higham eq. 3.5), and c_o multiplies |y_o| <= max(|yLo_o|, |yHi_o|);
 * twice gamma also covers the rounding of the slack's own sum, and the underflow floor the
 * products that underflow.
 */
export function combinedRow(C: Float64Array, bias: Float64Array, rows: readonly number[], lambda: Float64Array, nOut: number, yLo: Float64Array, yHi: Float64Array): CombinedRow | undefined {
  const m = rows.length;
  let s = 0;
  for (let j = 0; j < m; j++) {
    if (!(lambda[j] >= 0) || !Number.isFinite(lambda[j])) return undefined;
    s += lambda[j];
  }
  if (!(s > 0) || !Number.isFinite(s)) return undefined;
  const c = new Float64Array(nOut);
  const cMag = new Float64Array(nOut);
  weightedRows(C, rows, lambda, nOut, c, cMag);
  let slack = 0;
  let yMaxSum = 0;
  for (let o = 0; o < nOut; o++) {
    const yMax = Math.max(Math.abs(yLo[o]), Math.abs(yHi[o]));
    slack += cMag[o] * yMax;
    yMaxSum += yMax;
  }
  let e = 0;
  for (let j = 0; j < m; j++) {
    const p = lambda[j] * bias[rows[j]];
    e += p;
    slack += Math.abs(p);
  }
  slack = 2 * dotErrorFactor(m) * slack + UNDERFLOW_FLOOR * (m + 1) * (1 + yMaxSum);
  if (!Number.isFinite(slack) || !Number.isFinite(e)) return undefined;
  return { c, e, slack, s, m, lambda };
}

/**
 * Certified: max over the domain of min_j (D_j . y + e_j) <= the result, given `ub`, a certified
 * upper bound of c . y + e over the domain (e.g. by back-substitution of the row).
 */
export function combinedRowBound(ub: number, row: CombinedRow): number {
  if (Number.isNaN(ub)) return Infinity;
  if (ub === -Infinity) return -Infinity;
  const H = nextUp(ub + row.slack);
  if (!Number.isFinite(H)) return Infinity;
  return overSum(H, row.s, row.m);
}
