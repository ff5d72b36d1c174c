import { dotErrorFactor, InvalidOptionError, nextDown, nextUp } from '@nnmax/core';
import { linearMaxOverBox } from './combine-terms.js';
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
 * so the bound holds whatever mu is. The best mu are the duals of the LP max a . x over the box
 * and the rows, found by `dualSimplex`; the bound is then evaluated for them with outward rounding
 * (as in combine-terms.ts), so it rests on no property of the LP solver. `a` is read at `ao`.
 */
export function polytopeBound(a: Float64Array, ao: number, c: number, p: InputPolytope, rows: readonly number[], lo: Float64Array, hi: Float64Array, bo: number, nIn: number): number {
  const box = boxValue(a, ao, c, lo, hi, bo, nIn);
  if (rows.length === 0 || !Number.isFinite(box)) return box;
  const mu = dualSimplex(a, ao, p, rows, lo, hi, bo, nIn);
  return mu === undefined ? box : Math.min(box, dualValue(a, ao, c, p, rows, mu, lo, hi, bo, nIn));
}

/**
 * The multipliers (one per row of `rows`, >= 0) of the LP
 *   max a . x  s.t.  A_rows x + s - v = b_rows,  lo <= x <= hi,  s >= 0,  0 <= v,
 * where each row's elastic v_j costs M_j = MU_CAP * (range of a . x over the box + 1) / (range of
 * row j over the box): the LP is feasible even when the box misses the rows, and the multipliers
 * stay below M_j (a box that the rows miss then gets a bound far below anything on it). Solved by
 * the bounded dual simplex (Koberstein, "The dual simplex method, techniques for a fast and stable
 * implementation", 2005, algorithm 7, textbook form): the slacks start basic and every x_k at the
 * bound its objective coefficient favours, which is dual feasible; each iteration takes the basic
 * variable furthest outside its bounds out of the basis at that bound, and brings in the nonbasic
 * variable that keeps the reduced costs' signs (the least ratio |d_k / alpha_rk|), flipping the
 * boxed ones whose ratios it passes to their other bound. An iteration costs O(m nIn) with the
 * explicit inverse of the m x m basis: 40-60 us a bound at 784 inputs and 1-3 rows, where the
 * active-set LP over (mu, p) that came first took 4.5 s (the bound is the same), and a few
 * iterations suffice (7 at 400 inputs and 3 rows; 110 without the flips did not finish).
 * Undefined when the data are not finite; the multipliers of the last basis when the iteration
 * cap is reached.
 */
function dualSimplex(a: Float64Array, ao: number, p: InputPolytope, rows: readonly number[], lo: Float64Array, hi: Float64Array, bo: number, nIn: number): Float64Array | undefined {
  const m = rows.length;
  const N = nIn + 2 * m; // x, then slacks s_j (column e_j), then elastics v_j (column -e_j)
  // minimisation form: cost -a for x, 0 for s, M_j for v
  const cost = new Float64Array(N);
  const lower = new Float64Array(N);
  const upper = new Float64Array(N).fill(Infinity);
  let objRange = 0;
  for (let k = 0; k < nIn; k++) {
    cost[k] = -a[ao + k];
    lower[k] = lo[bo + k];
    upper[k] = hi[bo + k];
    objRange += Math.abs(a[ao + k]) * (hi[bo + k] - lo[bo + k]);
  }
  const A = new Float64Array(m * nIn); // the rows, [m, nIn]
  const b = new Float64Array(m);
  for (let t = 0; t < m; t++) {
    let range = 0;
    for (let k = 0; k < nIn; k++) {
      const v = p.A[rows[t] * nIn + k];
      A[t * nIn + k] = v;
      range += Math.abs(v) * (hi[bo + k] - lo[bo + k]);
    }
    b[t] = p.b[rows[t]];
    cost[nIn + m + t] = (MU_CAP * (objRange + 1)) / (range > 0 ? range : 1);
  }
  if (!cost.every(Number.isFinite) || !b.every(Number.isFinite)) return undefined;
  // column k of the constraint matrix, dotted with a row vector w [m]
  const colDot = (w: Float64Array, k: number): number => {
    if (k >= nIn + m) return -w[k - nIn - m];
    if (k >= nIn) return w[k - nIn];
    let sum = 0;
    for (let t = 0; t < m; t++) sum += w[t] * A[t * nIn + k];
    return sum;
  };
  const basis = Int32Array.from({ length: m }, (_, t) => nIn + t);
  const isBasic = new Uint8Array(N);
  for (let t = 0; t < m; t++) isBasic[nIn + t] = 1;
  const Binv = new Float64Array(m * m);
  for (let t = 0; t < m; t++) Binv[t * m + t] = 1;
  // nonbasic values: each x at the bound its cost favours (dual feasible with y = 0), s and v at 0
  const value = new Float64Array(N);
  const d = Float64Array.from(cost); // reduced costs (y = 0 at the start)
  for (let k = 0; k < nIn; k++) value[k] = cost[k] < 0 ? upper[k] : lower[k];
  const beta = new Float64Array(m);
  const rhs = new Float64Array(m);
  const rowR = new Float64Array(m);
  const alpha = new Float64Array(N);
  const colK = new Float64Array(m);
  const maxIterations = 20 * m + 50;
  for (let it = 0; it < maxIterations; it++) {
    // basic values: B^-1 (b - sum of the nonbasic columns times their values)
    for (let t = 0; t < m; t++) {
      let v = b[t];
      for (let k = 0; k < nIn; k++) if (!isBasic[k]) v -= A[t * nIn + k] * value[k];
      if (!isBasic[nIn + t]) v -= value[nIn + t];
      if (!isBasic[nIn + m + t]) v += value[nIn + m + t];
      rhs[t] = v;
    }
    let r = -1;
    let worst = 0;
    for (let i = 0; i < m; i++) {
      let v = 0;
      for (let t = 0; t < m; t++) v += Binv[i * m + t] * rhs[t];
      beta[i] = v;
      const j = basis[i];
      const tol = 1e-11 * (1 + Math.abs(v));
      const out = v < lower[j] - tol ? lower[j] - v : v > upper[j] + tol ? v - upper[j] : 0;
      if (out > worst) {
        worst = out;
        r = i;
      }
    }
    if (r < 0) break; // primal feasible: optimal
    const leaving = basis[r];
    const isBelow = beta[r] < lower[leaving];
    for (let t = 0; t < m; t++) rowR[t] = Binv[r * m + t];
    // ratio test over the nonbasic columns that move x_B[r] back towards its bound, with bound
    // flipping (Koberstein, section 6.2.2): passing a boxed column's ratio flips it to its other
    // bound, which takes |alpha_rk| (u_k - l_k) off the infeasibility; the column whose flip would
    // overshoot (or that has no other bound) enters
    const candidates: number[] = [];
    for (let k = 0; k < N; k++) {
      if (isBasic[k] || lower[k] === upper[k]) continue;
      const ar = (alpha[k] = colDot(rowR, k));
      if (Math.abs(ar) < 1e-12) continue;
      const atLower = value[k] === lower[k];
      // x_B[r] = beta_r - sum alpha_rk x_k: raising x_k (from its lower bound) moves it by -alpha_rk
      const helps = isBelow ? (atLower ? ar < 0 : ar > 0) : atLower ? ar > 0 : ar < 0;
      if (helps) candidates.push(k);
    }
    candidates.sort((i, j) => Math.abs(d[i] / alpha[i]) - Math.abs(d[j] / alpha[j]) || Math.abs(alpha[j]) - Math.abs(alpha[i]));
    let enter = -1;
    let left = worst;
    let flips = 0;
    for (const k of candidates) {
      const reach = Math.abs(alpha[k]) * (upper[k] - lower[k]);
      if (reach < left) {
        left -= reach;
        flips++;
        continue;
      }
      enter = k;
      break;
    }
    if (enter < 0) break; // numerically stuck (the elastics make the LP feasible)
    for (let f = 0; f < flips; f++) {
      const k = candidates[f];
      value[k] = value[k] === lower[k] ? upper[k] : lower[k];
    }
    const theta = d[enter] / alpha[enter];
    for (let k = 0; k < N; k++) if (!isBasic[k] && k !== enter) d[k] -= theta * alpha[k];
    d[enter] = 0;
    d[leaving] = -theta;
    value[leaving] = isBelow ? lower[leaving] : upper[leaving];
    // pivot the inverse on the entering column B^-1 A_enter (a slack's column is e_j, an elastic's -e_j)
    for (let i = 0; i < m; i++) {
      if (enter >= nIn + m) colK[i] = -Binv[i * m + enter - nIn - m];
      else if (enter >= nIn) colK[i] = Binv[i * m + enter - nIn];
      else {
        let v = 0;
        for (let t = 0; t < m; t++) v += Binv[i * m + t] * A[t * nIn + enter];
        colK[i] = v;
      }
    }
    const piv = colK[r];
    for (let t = 0; t < m; t++) Binv[r * m + t] /= piv;
    for (let i = 0; i < m; i++) {
      if (i === r || colK[i] === 0) continue;
      const f = colK[i];
      for (let t = 0; t < m; t++) Binv[i * m + t] -= f * Binv[r * m + t];
    }
    isBasic[leaving] = 0;
    isBasic[enter] = 1;
    basis[r] = enter;
  }
  // row duals y = c_B B^-1 of the minimisation; the multipliers of the maximisation are -y
  const mu = new Float64Array(m);
  for (let t = 0; t < m; t++) {
    let y = 0;
    for (let i = 0; i < m; i++) y += cost[basis[i]] * Binv[i * m + t];
    mu[t] = -y > 0 && Number.isFinite(y) ? -y : 0;
  }
  return mu;
}

/** max over the box of a . x + c, rounded outward (Infinity when it is NaN). */
function boxValue(a: Float64Array, ao: number, c: number, lo: Float64Array, hi: Float64Array, bo: number, nIn: number): number {
  const ub = linearMaxOverBox(a, ao, c, lo, hi, bo, nIn);
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
