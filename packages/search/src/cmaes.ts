import { InvalidOptionError, invariant, makeBox, type Box, type Rng } from '@nnmax/core';
import { cmaesParams, defaultLambda, type CmaesParams } from './cmaes-params.js';
import { checkTell, rankValue, updateBest, type Optimizer, type StopReason } from './optimizer.js';
import { symmetricEigen } from './symmetric-eigen.js';
import { definedOnly } from './options.js';

export interface CmaesOptions {
  /** The search box. Coordinates with lo == hi are fixed: they stay out of the search distribution. */
  readonly box: Box;
  readonly rng: Rng;
  /** Initial mean, inside the box. Default: the box centre. */
  readonly x0?: Float64Array;
  /** Initial step size. Default: `sigma0Fraction` times the mean width of the free coordinates. */
  readonly sigma0?: number;
  /** Population size, an integer >= 2. Default: 4 + floor(3 ln n) (eq. 48). */
  readonly lambda?: number;
  /** Evaluation budget; a generation is never cut, so the run stops when the next one would exceed it. */
  readonly maxEvaluations?: number;
  /** Stop when the best values of recent generations and this generation's values span less than this. */
  readonly tolFun?: number;
  /** Stop when every sigma sqrt(C_ii) and sigma |pc_i| is below this. Default: `tolXFactor` * sigma0. */
  readonly tolX?: number;
  /** Stop when the condition number of C exceeds this. */
  readonly maxCondition?: number;
}

/** Defaults of `CmaesOptions`; the tolerances are those of Hansen's tutorial, appendix B.3. */
export const CMAES_DEFAULTS = Object.freeze({
  /** sigma0 = 0.3 x mean box width: the optimum lies presumably within m +- 2 sigma0 per coordinate (tutorial, appendix B). */
  sigma0Fraction: 0.3,
  maxEvaluations: Infinity,
  tolFun: 1e-12,
  /** tolX = 1e-12 sigma0. */
  tolXFactor: 1e-12,
  maxCondition: 1e14,
});

/** The dynamic state of a run (genotype space: the free coordinates only). */
export interface CmaesState {
  readonly mean: Float64Array; // [n] m
  sigma: number;
  readonly C: Float64Array; // [n, n] row-major, symmetric positive definite
  readonly B: Float64Array; // [n, n] row-major; column j is the j-th eigenvector of C at the last decomposition
  readonly D: Float64Array; // [n] square roots of the eigenvalues of C at the last decomposition
  readonly pc: Float64Array; // [n] evolution path of C, eq. 45
  readonly ps: Float64Array; // [n] conjugate evolution path of sigma, eq. 43
  generation: number;
  evaluations: number;
  eigenGeneration: number; // generation of the last decomposition
  condition: number; // max/min eigenvalue of C at the last decomposition
}

/** Width fraction of the quadratic layer at each face of the box transform (about pycma's BoundTransform for unit boxes). */
const BOUNDARY_LAYER = 0.05;
/** sigma max(D) may grow at most 1e4-fold over sigma0 ("TolXUp", tutorial appendix B.3): sigma is capped there. */
const TOL_X_UP = 1e4;
/** Eigenvalues of C below this fraction of the largest are rounding noise and are floored there. */
const MIN_EIGEN_RATIO = 1e-20;

/**
 * One coordinate of the box transform (pycma's BoundTransform): the genotype is reflected
 * periodically into [lo - a, hi + a] (a = BOUNDARY_LAYER (hi - lo)), mapped by the identity on
 * [lo + a, hi - a] and by a quadratic on each boundary layer, so that [lo - a, lo + a] maps onto
 * [lo, lo + a] smoothly. Requires lo < hi. The result is always in [lo, hi].
 */
export function boxTransform(g: number, lo: number, hi: number): number {
  const a = BOUNDARY_LAYER * (hi - lo);
  const left = lo - a;
  const right = hi + a;
  let y = g;
  if (y < left || y > right) {
    const period = 2 * (right - left);
    let r = (y - left) % period;
    if (r < 0) r += period;
    y = left + r;
    if (y > right) y = 2 * right - y;
  }
  const x = y < lo + a ? lo + (y - left) ** 2 / (4 * a) : y > hi - a ? hi - (y - right) ** 2 / (4 * a) : y;
  return x >= lo ? (x <= hi ? x : hi) : lo; // also maps a NaN (from a subnormal width) into the box
}

/** The inverse of `boxTransform` on [lo - a, hi + a], for x in [lo, hi]. */
export function boxTransformInverse(x: number, lo: number, hi: number): number {
  const a = BOUNDARY_LAYER * (hi - lo);
  if (x < lo + a) return lo - a + Math.sqrt(4 * a * Math.max(0, x - lo));
  if (x > hi - a) return hi + a - Math.sqrt(4 * a * Math.max(0, hi - x));
  return x;
}

/**
 * CMA-ES, faithful to Hansen's tutorial (arXiv:1604.00772): weighted recombination, cumulative
 * step-size adaptation, rank-one and rank-mu covariance updates, lazy eigendecomposition.
 * Maximises. Box constraints by the box transform: the sampled genotype drives the update, its
 * image in the box is what `ask` returns.
 */
export class Cmaes implements Optimizer {
  readonly name = 'cmaes';
  readonly needsGradients = false;
  /** Undefined when every coordinate of the box is fixed (the single point is then asked once). */
  readonly params: CmaesParams | undefined;
  readonly sigma0: number;
  private readonly box: Box;
  private readonly rng: Rng;
  private readonly free: number[]; // indices of the coordinates with lo < hi
  private readonly st: CmaesState;
  private readonly maxEvaluations: number;
  private readonly tolFun: number;
  private readonly tolX: number;
  private readonly maxCondition: number;
  private asked: Float64Array[] | undefined;
  private askedZ: Float64Array[] = []; // [lambda][n] z_k ~ N(0, I), eq. 38
  private askedY: Float64Array[] = []; // [lambda][n] y_k = B D z_k, eq. 39
  private bestPoint: { x: Float64Array; value: number } | undefined;
  private readonly bestHistory: number[] = []; // best rank value per generation
  private readonly medianHistory: number[] = []; // median rank value per generation
  private reasons: StopReason[] = [];

  constructor(options: CmaesOptions) {
    const o = { ...CMAES_DEFAULTS, ...definedOnly(options) };
    const box = options?.box;
    if (!box || !(box.lo instanceof Float64Array) || !(box.hi instanceof Float64Array) || box.lo.length === 0) {
      throw new InvalidOptionError('box', box, 'a Box with Float64Array lo and hi of length >= 1');
    }
    this.box = makeBox(box.lo, box.hi, 'box');
    if (typeof o.rng?.normal !== 'function') throw new InvalidOptionError('rng', o.rng, 'an Rng from @nnmax/core');
    this.rng = o.rng;
    const dim = this.box.lo.length;
    this.free = [];
    let widthSum = 0;
    for (let i = 0; i < dim; i++) {
      const width = this.box.hi[i] - this.box.lo[i];
      if (width > 0) this.free.push(i);
      widthSum += width;
    }
    const n = this.free.length;
    const x0 = o.x0;
    if (x0 !== undefined) {
      const isOk = x0 instanceof Float64Array && x0.length === dim && x0.every((v, i) => v >= this.box.lo[i] && v <= this.box.hi[i]);
      if (!isOk) throw new InvalidOptionError('x0', x0, `a Float64Array of length ${dim} inside the box`);
    }
    this.sigma0 = o.sigma0 ?? (n > 0 ? (o.sigma0Fraction * widthSum) / n : 1);
    check('sigma0', this.sigma0, (v) => Number.isFinite(v) && v > 0, 'a finite number > 0');
    if (o.lambda !== undefined) check('lambda', o.lambda, (v) => Number.isInteger(v) && v >= 2, 'an integer >= 2');
    check('maxEvaluations', o.maxEvaluations, (v) => v === Infinity || (Number.isInteger(v) && v >= 1), 'an integer >= 1 or Infinity');
    check('tolFun', o.tolFun, (v) => Number.isFinite(v) && v >= 0, 'a finite number >= 0');
    this.tolX = o.tolX ?? o.tolXFactor * this.sigma0;
    check('tolX', this.tolX, (v) => Number.isFinite(v) && v >= 0, 'a finite number >= 0');
    check('maxCondition', o.maxCondition, (v) => v > 1, 'a number > 1');
    this.maxEvaluations = o.maxEvaluations;
    this.tolFun = o.tolFun;
    this.maxCondition = o.maxCondition;
    this.params = n > 0 ? cmaesParams(n, o.lambda ?? defaultLambda(n)) : undefined;
    const mean = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const j = this.free[i];
      const lo = this.box.lo[j];
      const hi = this.box.hi[j];
      mean[i] = boxTransformInverse(x0 ? x0[j] : 0.5 * (lo + hi), lo, hi);
    }
    const identity = new Float64Array(n * n);
    for (let i = 0; i < n; i++) identity[i * n + i] = 1;
    this.st = {
      mean,
      sigma: this.sigma0,
      C: Float64Array.from(identity),
      B: identity,
      D: new Float64Array(n).fill(1),
      pc: new Float64Array(n),
      ps: new Float64Array(n),
      generation: 0,
      evaluations: 0,
      eigenGeneration: 0,
      condition: 1,
    };
    if (this.params && this.params.lambda > this.maxEvaluations) this.reasons = ['maxEvaluations'];
  }

  /** The current state, for inspection and tests: do not write into its arrays. */
  get state(): Readonly<CmaesState> {
    return this.st;
  }

  get best(): { x: Float64Array; value: number } | undefined {
    return this.bestPoint;
  }

  stop(): readonly StopReason[] {
    return this.reasons;
  }

  /**
   * lambda points x_k = T(m + sigma B D z_k), z_k ~ N(0, I) (eqs. 38-40), T the box transform.
   * Empty once stopped. Asking again before `tell` replaces the previous batch.
   */
  ask(): Float64Array[] {
    if (this.reasons.length > 0) return [];
    const p = this.params;
    if (!p) {
      this.asked = [Float64Array.from(this.box.lo)];
      return this.asked.slice();
    }
    const { n, lambda } = p;
    const { mean, sigma, B, D } = this.st;
    this.asked = [];
    this.askedZ = [];
    this.askedY = [];
    for (let k = 0; k < lambda; k++) {
      const z = new Float64Array(n);
      for (let i = 0; i < n; i++) z[i] = this.rng.normal();
      const y = new Float64Array(n);
      const x = Float64Array.from(this.box.lo);
      for (let i = 0; i < n; i++) {
        let s = 0;
        for (let j = 0; j < n; j++) s += B[i * n + j] * D[j] * z[j];
        y[i] = s;
        const c = this.free[i];
        x[c] = boxTransform(mean[i] + sigma * s, this.box.lo[c], this.box.hi[c]);
      }
      this.askedZ.push(z);
      this.askedY.push(y);
      this.asked.push(x);
    }
    return this.asked.slice();
  }

  /** Sort, recombine (eq. 42), cumulate (eqs. 43, 45), adapt C (eq. 47), adapt sigma (eq. 44). */
  tell(points: readonly Float64Array[], values: Float64Array, grads?: readonly Float64Array[]): void {
    checkTell(this.name, this.asked, points, values, grads, false);
    this.asked = undefined;
    this.bestPoint = updateBest(this.bestPoint, points, values);
    const p = this.params;
    if (!p) {
      this.st.evaluations += points.length;
      this.reasons = ['exhausted'];
      return;
    }
    const { n, lambda, mu, weights, cm, cSigma, dSigma, cc, c1, cMu } = p;
    const st = this.st;
    const f = Array.from(values, rankValue); // NaN and +-Infinity rank worst
    const order = Array.from({ length: lambda }, (_, k) => k).sort((a, b) => f[b] - f[a] || a - b);
    const ys = order.slice(0, mu).map((k) => this.askedY[k]); // y_{i:lambda}, i = 1..mu
    const yw = new Float64Array(n); // <y>_w, eq. 41
    const zw = new Float64Array(n); // <z>_w
    for (let i = 0; i < mu; i++) {
      const z = this.askedZ[order[i]];
      for (let j = 0; j < n; j++) {
        yw[j] += weights[i] * ys[i][j];
        zw[j] += weights[i] * z[j];
      }
    }
    for (let j = 0; j < n; j++) st.mean[j] += cm * st.sigma * yw[j]; // eq. 42
    // eq. 43: B and D are those of the sampling, so C^(-1/2) <y>_w = B D^-1 B^T B D <z>_w = B <z>_w
    const csn = Math.sqrt(cSigma * (2 - cSigma) * p.muEff);
    let psNorm2 = 0;
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < n; j++) s += st.B[i * n + j] * zw[j];
      st.ps[i] = (1 - cSigma) * st.ps[i] + csn * s;
      psNorm2 += st.ps[i] ** 2;
    }
    const psNorm = Math.sqrt(psNorm2);
    const hSigma = psNorm / Math.sqrt(1 - (1 - cSigma) ** (2 * (st.generation + 1))) < p.hSigmaThreshold ? 1 : 0;
    const ccn = hSigma * Math.sqrt(cc * (2 - cc) * p.muEff);
    for (let i = 0; i < n; i++) st.pc[i] = (1 - cc) * st.pc[i] + ccn * yw[i]; // eq. 45
    // eq. 47 with positive weights only (w_i° = w_i, sum w_i = 1) and delta(h_sigma) = (1 - h_sigma) c_c (2 - c_c)
    const decay = 1 + c1 * (1 - hSigma) * cc * (2 - cc) - c1 - cMu;
    for (let i = 0; i < n; i++) {
      for (let j = i; j < n; j++) {
        let rankMu = 0;
        for (let k = 0; k < mu; k++) rankMu += weights[k] * ys[k][i] * ys[k][j];
        const c = decay * st.C[i * n + j] + c1 * st.pc[i] * st.pc[j] + cMu * rankMu;
        st.C[i * n + j] = c;
        st.C[j * n + i] = c; // C stays exactly symmetric
      }
    }
    st.sigma *= Math.exp((cSigma / dSigma) * (psNorm / p.chiN - 1)); // eq. 44
    st.sigma = Math.min(st.sigma, (TOL_X_UP * this.sigma0) / Math.max(...st.D));
    st.generation++;
    st.evaluations += lambda;
    if (st.generation - st.eigenGeneration >= p.eigenGap) this.decompose(p);
    invariant(Number.isFinite(st.sigma) && st.mean.every(Number.isFinite), () => `cmaes: non-finite state at generation ${st.generation}`);
    this.bestHistory.push(f[order[0]]);
    this.medianHistory.push(f[order[lambda >> 1]]);
    if (this.bestHistory.length > 2 * STAGNATION_MAX) {
      this.bestHistory.splice(0, STAGNATION_MAX);
      this.medianHistory.splice(0, STAGNATION_MAX);
    }
    this.reasons = this.terminationReasons(p, f);
  }

  /** B, D from C = B D^2 B^T; eigenvalues lost to rounding are floored and C rebuilt from them. */
  private decompose(p: CmaesParams): void {
    const { n } = p;
    const st = this.st;
    const { values, vectors } = symmetricEigen(st.C, n);
    const floor = values[n - 1] * MIN_EIGEN_RATIO;
    invariant(values[n - 1] > 0 && Number.isFinite(values[n - 1]), () => `cmaes: covariance lost positive definiteness (largest eigenvalue ${values[n - 1]})`);
    const isFloored = values[0] < floor;
    for (let i = 0; i < n; i++) st.D[i] = Math.sqrt(Math.max(values[i], floor));
    st.B.set(vectors);
    if (isFloored) {
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let k = 0; k < n; k++) s += st.B[i * n + k] * st.D[k] ** 2 * st.B[j * n + k];
          st.C[i * n + j] = s;
        }
      }
    }
    st.condition = (st.D[n - 1] / st.D[0]) ** 2;
    st.eigenGeneration = st.generation;
  }

  /** The termination criteria of the tutorial, appendix B.3 (maximisation). */
  private terminationReasons(p: CmaesParams, f: number[]): StopReason[] {
    const { n, lambda } = p;
    const { mean, sigma, C, B, D, pc, evaluations, generation } = this.st;
    const out: StopReason[] = [];
    if (evaluations + lambda > this.maxEvaluations) out.push('maxEvaluations');
    const funLength = 10 + Math.ceil((30 * n) / lambda);
    if (this.bestHistory.length >= funLength) {
      const recent = this.bestHistory.slice(-funLength).concat(f);
      if (Math.max(...recent) - Math.min(...recent) < this.tolFun) out.push('tolFun');
    }
    let isTolX = true;
    let isNoEffectCoord = false;
    for (let i = 0; i < n; i++) {
      const sd = sigma * Math.sqrt(C[i * n + i]);
      if (!(sd < this.tolX && sigma * Math.abs(pc[i]) < this.tolX)) isTolX = false;
      if (mean[i] + 0.2 * sd === mean[i]) isNoEffectCoord = true;
    }
    if (isTolX) out.push('tolX');
    const axis = generation % n; // one principal axis per generation, in turn
    let isNoEffectAxis = true;
    for (let i = 0; i < n && isNoEffectAxis; i++) isNoEffectAxis = mean[i] + 0.1 * sigma * D[axis] * B[i * n + axis] === mean[i];
    if (isNoEffectAxis) out.push('noEffectAxis');
    if (isNoEffectCoord) out.push('noEffectCoord');
    if (this.st.condition > this.maxCondition) out.push('conditionCov');
    // stagnation: over the last 20% of the generations (at least 120 + 30 n / lambda, at most 20000),
    // the median of the newest 30% of best and of median values is not better than that of the oldest 30%
    const minLength = 120 + Math.ceil((30 * n) / lambda);
    if (generation >= minLength) {
      const length = Math.min(STAGNATION_MAX, Math.max(minLength, Math.ceil(0.2 * generation)));
      const k = Math.ceil(0.3 * length);
      const isStalled = (h: number[]): boolean => median(h.slice(-k)) <= median(h.slice(-length, k - length));
      if (isStalled(this.bestHistory) && isStalled(this.medianHistory)) out.push('tolStagnation');
    }
    return out;
  }
}

/** Longest history the stagnation criterion looks at, in generations. */
const STAGNATION_MAX = 20000;

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)); // -Infinity entries compare too
  const h = s.length >> 1;
  return s.length % 2 === 1 ? s[h] : (s[h - 1] + s[h]) / 2;
}

function check(option: string, value: number, isValid: (v: number) => boolean, expected: string): void {
  if (typeof value !== 'number' || !isValid(value)) throw new InvalidOptionError(option, value, expected);
}
