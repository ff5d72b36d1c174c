import { dotErrorFactor, InvalidOptionError, nextDown, nextUp } from '@nnmax/core';
import { maximizeSmallLp } from './small-lp.js';
import { UNDERFLOW_FLOOR } from './soundness.js';

/**
 * Linear constraints A x <= b on the inputs, beside the box: a domain smaller than its box (the
 * linear rows of a domain file, a one-hot group's sum, a VNN-LIB property's input constraints).
 * Plain data: it crosses threads with the bounder.
 */
export interface InputPolytope {
  /** Rows. */
  readonly m: number;
  /** `[m, nIn]` row-major. */
  readonly A: Float64Array;
  /** `[m]`. */
  readonly b: Float64Array;
}

/**
 * Cap on each multiplier mu_j, relative: mu_j * (range of row j over the box) stays within
 * MU_CAP * (range of the objective over the box + 1). When the box misses the polytope the dual
 * is unbounded; the cap keeps the LP bounded, and the bound it gives is then far below anything
 * the box holds, so the domain is pruned.
 */
const MU_CAP = 1e4;

/** Throws unless `p` is a polytope over `nIn` inputs with finite entries. */
export function validatePolytope(p: InputPolytope, nIn: number): void {
  if (!Number.isInteger(p.m) || p.m < 0) throw new InvalidOptionError('polytope.m', p.m, 'a row count >= 0');
  if (p.A.length !== p.m * nIn) throw new InvalidOptionError('polytope.A', `${p.A.length} entries`, `${p.m * nIn} entries (${p.m} rows of ${nIn} inputs)`);
  if (p.b.length !== p.m) throw new InvalidOptionError('polytope.b', `${p.b.length} entries`, `${p.m} entries`);
  for (let i = 0; i < p.A.length; i++) if (!Number.isFinite(p.A[i])) throw new InvalidOptionError(`polytope.A[${Math.floor(i / nIn)}][${i % nIn}]`, p.A[i], 'a finite number');
  for (let j = 0; j < p.m; j++) if (!Number.isFinite(p.b[j])) throw new InvalidOptionError(`polytope.b[${j}]`, p.b[j], 'a finite number');
}

/**
 * How the box `[lo, hi]` (at offset `bo`) meets the polytope: 'empty' when one row alone excludes
 * every point of the box (its least value over the box, rounded down, exceeds b_j), else the rows
 * that cut the box (their largest value over the box, rounded up, exceeds b_j); none of them when
 * the box lies inside.
 */
export function rowsCuttingBox(p: InputPolytope, lo: Float64Array, hi: Float64Array, bo: number, nIn: number): number[] | 'empty' {
  const G = dotErrorFactor(nIn + 2);
  const cutting: number[] = [];
  for (let j = 0; j < p.m; j++) {
    let min = 0;
    let max = 0;
    let mag = 0;
    for (let k = 0; k < nIn; k++) {
      const a = p.A[j * nIn + k];
      if (a === 0) continue;
      const tl = a * lo[bo + k];
      const th = a * hi[bo + k];
      min += Math.min(tl, th);
      max += Math.max(tl, th);
      mag += Math.max(Math.abs(tl), Math.abs(th));
    }
    const err = G * mag + UNDERFLOW_FLOOR * (nIn + 1);
    if (nextDown(min - err) > p.b[j]) return 'empty';
    if (nextUp(max + err) > p.b[j]) cutting.push(j);
  }
  return cutting;
}

/**
 * Certified: a . x + c <= result for every x of the box `[lo, hi]` (at offset `bo`) with
 * A x <= b (rows `rows` of the polytope; the others must not cut the box). By weak duality, for
 * any multipliers mu >= 0,
 *   a . x + c = (a - A^T mu) . x + mu . A x + c <= max over the box of (a - A^T mu) . x + mu . b + c,
 * so the bound holds whatever mu is; the best mu solves the dual of the LP
 *   max a . y  s.t.  0 <= y <= hi - lo,  A y <= b - A lo   (y = x - lo),
 * i.e. min mu . r + sum_k w_k max(0, a_k - (A^T mu)_k) over mu >= 0, here as the LP over (mu, p)
 * with p_k >= a_k - (A^T mu)_k and p >= 0, solved by `maximizeSmallLp` from the feasible point
 * mu = 0, p = max(a, 0). The bound is then evaluated for that mu with outward rounding (as in
 * combine-terms.ts), so it rests on no property of the LP solver. `a` is read at offset `ao`.
 */
export function polytopeBound(a: Float64Array, ao: number, c: number, p: InputPolytope, rows: readonly number[], lo: Float64Array, hi: Float64Array, bo: number, nIn: number): number {
  const m = rows.length;
  const free: number[] = [];
  let objRange = 0;
  for (let k = 0; k < nIn; k++) {
    const w = hi[bo + k] - lo[bo + k];
    if (w > 0) {
      free.push(k);
      objRange += w * Math.abs(a[ao + k]);
    }
  }
  if (m === 0 || !Number.isFinite(objRange) || !Number.isFinite(c)) return boxValue(a, ao, c, lo, hi, bo, nIn);
  const nf = free.length;
  const dim = m + nf;
  // rows of the dual LP over w = (mu, p), all as <=: mu_j >= 0, mu_j <= cap_j, p >= 0,
  // and -(A^T mu)_k - p_k <= -a_k for each free input k
  const nRows = 2 * m + 2 * nf;
  const L = new Float64Array(nRows * dim);
  const rhs = new Float64Array(nRows);
  const g = new Float64Array(dim);
  for (let t = 0; t < m; t++) {
    const j = rows[t];
    let r = p.b[j];
    let range = 0;
    for (let k = 0; k < nIn; k++) {
      const v = p.A[j * nIn + k];
      r -= v * lo[bo + k];
      range += Math.abs(v) * (hi[bo + k] - lo[bo + k]);
    }
    g[t] = -r;
    L[t * dim + t] = -1;
    L[(m + t) * dim + t] = 1;
    rhs[m + t] = range > 0 ? (MU_CAP * (objRange + 1)) / range : MU_CAP * (objRange + 1);
  }
  const w0 = new Float64Array(dim);
  for (let f = 0; f < nf; f++) {
    const k = free[f];
    g[m + f] = -(hi[bo + k] - lo[bo + k]);
    L[(2 * m + f) * dim + m + f] = -1;
    const o = (2 * m + nf + f) * dim;
    for (let t = 0; t < m; t++) L[o + t] = -p.A[rows[t] * nIn + k];
    L[o + m + f] = -1;
    rhs[2 * m + nf + f] = -a[ao + k];
    w0[m + f] = Math.max(0, a[ao + k]);
  }
  if (!g.every(Number.isFinite) || !rhs.every(Number.isFinite)) return boxValue(a, ao, c, lo, hi, bo, nIn);
  const res = maximizeSmallLp({ dim, m: nRows, A: L, b: rhs, g }, w0);
  const mu = new Float64Array(m);
  for (let t = 0; t < m; t++) mu[t] = res.w[t] > 0 && Number.isFinite(res.w[t]) ? res.w[t] : 0;
  return Math.min(boxValue(a, ao, c, lo, hi, bo, nIn), dualValue(a, ao, c, p, rows, mu, lo, hi, bo, nIn));
}

/** max over the box of a . x + c, rounded outward. */
function boxValue(a: Float64Array, ao: number, c: number, lo: Float64Array, hi: Float64Array, bo: number, nIn: number): number {
  let sum = c;
  let mag = Math.abs(c);
  for (let k = 0; k < nIn; k++) {
    const v = a[ao + k];
    const t = v >= 0 ? v * hi[bo + k] : v * lo[bo + k];
    sum += t;
    mag += Math.abs(t);
  }
  const ub = nextUp(sum + dotErrorFactor(nIn + 2) * mag + UNDERFLOW_FLOOR * (nIn + 1));
  return Number.isNaN(ub) ? Infinity : ub;
}

/**
 * An upper bound, in exact arithmetic, of max over the box of (a - A^T mu) . x + mu . b + c. The
 * computed g_k = fl(a_k - sum_j mu_j A_jk) is within gamma (|a_k| + sum_j |mu_j A_jk|) of the exact
 * one, which moves max(g_k lo_k, g_k hi_k) by at most that times max(|lo_k|, |hi_k|); the final
 * sum adds its own gamma |terms|. One factor gamma_{m + nIn + 4} covers every chain of operations.
 */
function dualValue(a: Float64Array, ao: number, c: number, p: InputPolytope, rows: readonly number[], mu: Float64Array, lo: Float64Array, hi: Float64Array, bo: number, nIn: number): number {
  const m = rows.length;
  const G = dotErrorFactor(m + nIn + 4);
  let sum = c;
  let mag = Math.abs(c);
  for (let t = 0; t < m; t++) {
    const v = mu[t] * p.b[rows[t]];
    sum += v;
    mag += Math.abs(v);
  }
  for (let k = 0; k < nIn; k++) {
    let gk = a[ao + k];
    let gMag = Math.abs(gk);
    for (let t = 0; t < m; t++) {
      const v = mu[t] * p.A[rows[t] * nIn + k];
      gk -= v;
      gMag += Math.abs(v);
    }
    const l = lo[bo + k];
    const h = hi[bo + k];
    const v = gk >= 0 ? gk * h : gk * l;
    sum += v;
    mag += Math.abs(v) + gMag * Math.max(Math.abs(l), Math.abs(h));
  }
  const ub = nextUp(sum + G * mag + UNDERFLOW_FLOOR * (m + 1) * (nIn + 1));
  return Number.isNaN(ub) ? Infinity : ub;
}
