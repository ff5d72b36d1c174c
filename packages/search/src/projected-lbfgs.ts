import { boxCenter, clampToBox, InvalidOptionError, type Box } from '@nnmax/core';
import { checkTell, updateBest, type Optimizer, type StopReason } from './optimizer.js';
import { checkBox, checkInteger, checkInterval, definedOnly } from './options.js';

export interface ProjectedLbfgsOptions {
  readonly box: Box;
  /** Start point (clamped into the box); the box centre by default. */
  readonly x0?: Float64Array;
  /** Number of (s, y) pairs kept; 0 gives projected steepest ascent with the same line search. */
  readonly memory?: number;
  /** Step lengths asked at once in each line-search round (geometric). */
  readonly lineSearchSteps?: number;
  /** Armijo sufficient-increase constant c1. */
  readonly armijo?: number;
  /** Stop when the projected gradient (in box-width units) has infinity norm <= gtol. */
  readonly gtol?: number;
  /** Stop when an accepted step improves the value by <= ftol * max(|f|, |f_new|, 1). */
  readonly ftol?: number;
  /** ask/tell rounds before stopping with 'maxEvaluations'. */
  readonly maxIterations?: number;
}

/**
 * Defaults of {@link ProjectedLbfgs}:
 * - `memory` 10: the usual L-BFGS history (Nocedal & Wright, section 7.2, suggest 3 to 20);
 * - `lineSearchSteps` 8: one batch tries steps 1, 1/2, ..., 1/128 (1/4^k for steepest steps);
 * - `armijo` 1e-4: Nocedal & Wright's c1;
 * - `gtol` 1e-10 and `ftol` 1e-13: tight, because this is the final polish; on float32 networks the
 *   run ends instead when no step of a batch increases the value;
 * - `maxIterations` 10000: a safety net; the driver's time budget normally ends a polish sooner.
 */
export const PROJECTED_LBFGS_DEFAULTS = Object.freeze({
  memory: 10,
  lineSearchSteps: 8,
  armijo: 1e-4,
  gtol: 1e-10,
  ftol: 1e-13,
  maxIterations: 10_000,
});

type Phase = 'start' | 'search' | 'done';

/**
 * Projected L-BFGS (L-BFGS-B-like) local ASCENT, internally minimising F = -f in normalised
 * coordinates u = (x - lo) / (hi - lo) in [0, 1] over the non-fixed inputs.
 *
 * Each iteration: the active set is the coordinates at a bound whose gradient pushes outward;
 * the two-loop recursion (Nocedal & Wright algorithm 7.4) runs on the free coordinates only,
 * with inner products restricted to them (pairs without positive restricted curvature are
 * skipped); the path u(a) = P(u + a d) is searched in one batch of `lineSearchSteps` geometric
 * step lengths, and the best point satisfying the projected Armijo condition
 * F(u(a)) <= F(u) + c1 G.(u(a) - u) with F(u(a)) < F(u) is taken. When no step of the batch
 * qualifies, the next batch continues with smaller steps; when steps are negligible the memory
 * is dropped (steepest descent), and a failed steepest search ends the run ('converged').
 * Points with a non-finite value or gradient are never accepted.
 */
export class ProjectedLbfgs implements Optimizer {
  readonly name = 'projected-lbfgs';
  readonly needsGradients = true;
  private readonly box: Box;
  private readonly o: Required<Omit<ProjectedLbfgsOptions, 'box' | 'x0'>>;
  /** Inputs with lo < hi, and their widths. */
  private readonly free: Int32Array;
  private readonly width: Float64Array;
  /** The fixed inputs, and the template for every asked point. */
  private readonly template: Float64Array;
  private phase: Phase = 'start';
  private reason: StopReason | undefined;
  private iterations = 0;
  private startTries = 0;
  // Iterate: u, F = -f, G = dF/du.
  private u: Float64Array;
  private F = NaN;
  private G: Float64Array;
  // Memory of (s, y) pairs in u-space, oldest first.
  private readonly S: Float64Array[] = [];
  private readonly Y: Float64Array[] = [];
  // Line search: direction, first step and ratio of the next batch, and the candidates asked.
  private d: Float64Array;
  private alpha0 = 1;
  private ratio = 0.5;
  private isSteepest = true;
  private candidates: Float64Array[] = [];
  private asked: Float64Array[] | undefined;
  private bestPoint: { x: Float64Array; value: number } | undefined;

  constructor(options: ProjectedLbfgsOptions) {
    const o = { ...PROJECTED_LBFGS_DEFAULTS, ...definedOnly(options) };
    this.box = checkBox(o.box);
    const n = this.box.lo.length;
    checkInteger('memory', o.memory, 0);
    checkInteger('lineSearchSteps', o.lineSearchSteps, 1);
    checkInterval('armijo', o.armijo, 0, 1, '()');
    checkInterval('gtol', o.gtol, 0, Infinity, '[)');
    checkInterval('ftol', o.ftol, 0, Infinity, '[)');
    checkInteger('maxIterations', o.maxIterations, 1, true);
    this.o = {
      memory: o.memory,
      lineSearchSteps: o.lineSearchSteps,
      armijo: o.armijo,
      gtol: o.gtol,
      ftol: o.ftol,
      maxIterations: o.maxIterations,
    };
    let x0: Float64Array;
    if (o.x0 === undefined) x0 = boxCenter(this.box);
    else if (!(o.x0 instanceof Float64Array) || o.x0.length !== n || !o.x0.every(Number.isFinite)) {
      throw new InvalidOptionError('x0', o.x0, `a finite Float64Array of length ${n}`);
    } else x0 = clampToBox(Float64Array.from(o.x0), this.box);
    const free: number[] = [];
    for (let i = 0; i < n; i++) if (this.box.hi[i] > this.box.lo[i]) free.push(i);
    this.free = Int32Array.from(free);
    this.width = Float64Array.from(free, (i) => this.box.hi[i] - this.box.lo[i]);
    this.template = x0;
    const m = free.length;
    this.u = Float64Array.from(free, (i, k) => clamp01((x0[i] - this.box.lo[i]) / this.width[k]));
    this.G = new Float64Array(m);
    this.d = new Float64Array(m);
  }

  get best(): { x: Float64Array; value: number } | undefined {
    return this.bestPoint;
  }

  ask(): Float64Array[] {
    if (this.phase === 'done') {
      this.asked = [];
      return this.asked;
    }
    if (this.phase === 'start') {
      this.asked = [this.toX(this.u)];
      return this.asked;
    }
    const K = this.o.lineSearchSteps;
    this.candidates = [];
    for (let k = 0; k < K; k++) {
      const a = this.alpha0 * this.ratio ** k;
      const c = new Float64Array(this.u.length);
      for (let i = 0; i < c.length; i++) c[i] = clamp01(this.u[i] + a * this.d[i]);
      this.candidates.push(c);
    }
    this.asked = this.candidates.map((c) => this.toX(c));
    return this.asked;
  }

  tell(points: readonly Float64Array[], values: Float64Array, grads?: readonly Float64Array[]): void {
    checkTell(this.name, this.asked, points, values, grads, true);
    this.asked = undefined;
    if (points.length === 0) return;
    this.bestPoint = updateBest(this.bestPoint, points, values);
    this.iterations++;
    if (this.phase === 'start') this.tellStart(values[0], grads![0]);
    else this.tellSearch(values, grads!);
    if (this.phase !== 'done' && this.iterations >= this.o.maxIterations) this.finish('maxEvaluations');
  }

  stop(): readonly StopReason[] {
    return this.reason === undefined ? [] : [this.reason];
  }

  private tellStart(f: number, g: Float64Array): void {
    if (this.free.length === 0) return this.finish('converged');
    const G = this.toG(g);
    if (!Number.isFinite(f) || G === undefined) {
      // A start without a finite value and gradient: move halfway to the box centre, a few times.
      if (++this.startTries >= 10) return this.finish('converged');
      for (let i = 0; i < this.u.length; i++) this.u[i] = 0.5 * (this.u[i] + 0.5);
      return;
    }
    this.F = -f;
    this.G = G;
    this.phase = 'search';
    if (this.isStationary()) return this.finish('converged');
    this.newDirection();
  }

  private tellSearch(values: Float64Array, grads: readonly Float64Array[]): void {
    // The best candidate satisfying the projected Armijo condition.
    let bestK = -1;
    let bestF = this.F;
    let bestG: Float64Array | undefined;
    for (let k = 0; k < values.length; k++) {
      const Fk = -values[k];
      if (!Number.isFinite(Fk) || !(Fk < bestF)) continue;
      const c = this.candidates[k];
      let slope = 0;
      for (let i = 0; i < c.length; i++) slope += this.G[i] * (c[i] - this.u[i]);
      if (!(Fk <= this.F + this.o.armijo * slope)) continue;
      const Gk = this.toG(grads[k]);
      if (Gk === undefined) continue;
      bestK = k;
      bestF = Fk;
      bestG = Gk;
    }
    if (bestK < 0) return this.lineSearchFailed();
    const uNew = this.candidates[bestK];
    const s = new Float64Array(uNew.length);
    const y = new Float64Array(uNew.length);
    let sy = 0;
    let yy = 0;
    for (let i = 0; i < s.length; i++) {
      s[i] = uNew[i] - this.u[i];
      y[i] = bestG![i] - this.G[i];
      sy += s[i] * y[i];
      yy += y[i] * y[i];
    }
    if (this.o.memory > 0 && sy > Number.EPSILON * yy) {
      this.S.push(s);
      this.Y.push(y);
      if (this.S.length > this.o.memory) {
        this.S.shift();
        this.Y.shift();
      }
    }
    const decrease = this.F - bestF;
    const scale = Math.max(Math.abs(this.F), Math.abs(bestF), 1);
    this.u = uNew;
    this.F = bestF;
    this.G = bestG!;
    if (decrease <= this.o.ftol * scale || this.isStationary()) return this.finish('converged');
    this.newDirection();
  }

  /** No step of the batch qualified: continue with smaller steps, then drop the memory, then stop. */
  private lineSearchFailed(): void {
    this.alpha0 *= this.ratio ** this.o.lineSearchSteps;
    let dMax = 0;
    for (let i = 0; i < this.d.length; i++) dMax = Math.max(dMax, Math.abs(this.alpha0 * this.d[i]));
    if (dMax > 1e-15) return;
    if (this.isSteepest) return this.finish('converged');
    this.S.length = 0;
    this.Y.length = 0;
    this.newDirection();
  }

  /** The descent direction from the current iterate, and the first line-search batch. */
  private newDirection(): void {
    const m = this.u.length;
    const isFree = new Uint8Array(m);
    for (let i = 0; i < m; i++) isFree[i] = (this.u[i] <= 0 && this.G[i] > 0) || (this.u[i] >= 1 && this.G[i] < 0) ? 0 : 1;
    const dotFree = (a: Float64Array, b: Float64Array): number => {
      let s = 0;
      for (let i = 0; i < m; i++) if (isFree[i]) s += a[i] * b[i];
      return s;
    };
    // Two-loop recursion on the free coordinates (Nocedal & Wright algorithm 7.4).
    const q = Float64Array.from(this.G, (g, i) => (isFree[i] ? g : 0));
    const pairs: number[] = [];
    const rho: number[] = [];
    for (let j = 0; j < this.S.length; j++) {
      const sy = dotFree(this.S[j], this.Y[j]);
      if (sy > Number.EPSILON * dotFree(this.Y[j], this.Y[j]) && sy > 0) {
        pairs.push(j);
        rho.push(1 / sy);
      }
    }
    const alpha = new Float64Array(pairs.length);
    for (let p = pairs.length - 1; p >= 0; p--) {
      const j = pairs[p];
      alpha[p] = rho[p] * dotFree(this.S[j], q);
      for (let i = 0; i < m; i++) if (isFree[i]) q[i] -= alpha[p] * this.Y[j][i];
    }
    let isSteepest = pairs.length === 0;
    if (!isSteepest) {
      const jNew = pairs[pairs.length - 1];
      const gamma = 1 / (rho[pairs.length - 1] * dotFree(this.Y[jNew], this.Y[jNew])); // H0 = s.y / y.y, eq. 7.20
      for (let i = 0; i < m; i++) q[i] *= gamma;
      for (let p = 0; p < pairs.length; p++) {
        const j = pairs[p];
        const beta = rho[p] * dotFree(this.Y[j], q);
        for (let i = 0; i < m; i++) if (isFree[i]) q[i] += this.S[j][i] * (alpha[p] - beta);
      }
      let gd = 0;
      for (let i = 0; i < m; i++) gd -= this.G[i] * q[i];
      if (!(gd < 0) || !q.every(Number.isFinite)) isSteepest = true;
    }
    if (isSteepest) {
      // Steepest descent scaled so that the longest step crosses the whole box.
      let gMax = 0;
      for (let i = 0; i < m; i++) if (isFree[i]) gMax = Math.max(gMax, Math.abs(this.G[i]));
      for (let i = 0; i < m; i++) q[i] = isFree[i] ? this.G[i] / gMax : 0;
    }
    for (let i = 0; i < m; i++) this.d[i] = -q[i];
    this.isSteepest = isSteepest;
    this.alpha0 = 1;
    this.ratio = isSteepest ? 0.25 : 0.5;
  }

  /** Infinity norm of P(u - G) - u is at most gtol. */
  private isStationary(): boolean {
    let pg = 0;
    for (let i = 0; i < this.u.length; i++) pg = Math.max(pg, Math.abs(clamp01(this.u[i] - this.G[i]) - this.u[i]));
    return pg <= this.o.gtol;
  }

  /** dF/du from the told gradient df/dx, or undefined when not finite. */
  private toG(g: Float64Array): Float64Array | undefined {
    const G = new Float64Array(this.free.length);
    for (let k = 0; k < G.length; k++) {
      G[k] = -g[this.free[k]] * this.width[k];
      if (!Number.isFinite(G[k])) return undefined;
    }
    return G;
  }

  private toX(u: Float64Array): Float64Array {
    const x = Float64Array.from(this.template);
    for (let k = 0; k < u.length; k++) x[this.free[k]] = this.box.lo[this.free[k]] + this.width[k] * u[k];
    return clampToBox(x, this.box);
  }

  private finish(reason: StopReason): void {
    this.phase = 'done';
    this.reason = reason;
  }
}

function clamp01(v: number): number {
  return v < 0 ? 0 : v > 1 ? 1 : v;
}
