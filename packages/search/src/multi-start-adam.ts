import { InvalidOptionError, clampToBox, type Box, type Rng } from '@nnmax/core';
import { checkTell, updateBest, type Optimizer, type StopReason } from './optimizer.js';
import { checkBox, checkInteger, checkInterval, definedOnly } from './options.js';
import { pointsInBox, ScrambledHalton, unitToBox } from './quasi-random.js';

export interface MultiStartAdamOptions {
  readonly box: Box;
  /** Seeds the quasi-random start points (forked once in the constructor). */
  readonly rng: Rng;
  /**
   * Initial points (clamped into the box), e.g. the best of a quasi-random design. The first
   * `nStarts` start the runs; the rest are used for restarts before any quasi-random point.
   */
  readonly starts?: readonly Float64Array[];
  /** Starts advanced together; every ask() returns one point per live start. */
  readonly nStarts?: number;
  /** Initial step, relative to the box width of each coordinate. */
  readonly lr?: number;
  /** beta_1, beta_2 and epsilon of Adam (Kingma & Ba 2015, algorithm 1). */
  readonly beta1?: number;
  readonly beta2?: number;
  /** Relative epsilon: the denominator is sqrt(vhat_i) + epsilon * max_j sqrt(vhat_j) (scale free). */
  readonly epsilon?: number;
  /** Per-iteration factor on each start's step (exponential decay). */
  readonly decay?: number;
  /** Iterations without improving a start's best before its step halves (and it returns to its best). */
  readonly patience?: number;
  /** A start whose relative step falls below minLr has converged and restarts. */
  readonly minLr?: number;
  /** Restart converged starts from new points (anytime); false retires them and stops 'converged' when none is left. */
  readonly restart?: boolean;
  /** ask/tell rounds before stopping with 'maxEvaluations'. */
  readonly maxIterations?: number;
}

/**
 * Defaults of {@link MultiStartAdam}:
 * - `nStarts` 64: one gradient batch of 64 points costs about one runtime call;
 * - `lr` 0.05: the first steps move at most 5% of the box width per coordinate;
 * - `beta1` 0.9, `beta2` 0.999, `epsilon` 1e-8: Adam's published defaults (epsilon made relative);
 * - `decay` 0.98: the step shrinks 50-fold in 200 iterations, so every start converges;
 * - `patience` 10 and `minLr` 1e-4: a start ends when its steps are below 1e-4 of the box width
 *   (polishing beyond that is the quasi-Newton polish's job);
 * - `restart` true and `maxIterations` Infinity: an anytime search stopped by the driver.
 */
export const MULTI_START_ADAM_DEFAULTS = Object.freeze({
  nStarts: 64,
  lr: 0.05,
  beta1: 0.9,
  beta2: 0.999,
  epsilon: 1e-8,
  decay: 0.98,
  patience: 10,
  minLr: 1e-4,
  restart: true,
  maxIterations: Infinity,
});

/** One Adam run. */
interface Start {
  x: Float64Array; // current iterate
  readonly m: Float64Array; // first moment
  readonly v: Float64Array; // second moment
  t: number; // Adam step count (bias correction)
  lr: number; // current relative step
  bestX: Float64Array | undefined;
  bestValue: number;
  sinceImprove: number;
  isLive: boolean;
}

/**
 * Projected gradient ASCENT with Adam from many starts advanced together (one batch per ask).
 * Steps are relative to the box width per coordinate and the projection clamps to the box.
 * Each start's step decays exponentially and halves on a plateau (`patience` iterations
 * without improving its best, after which it resumes from its best point). A start converges
 * when its step is below `minLr`, when its projected gradient is exactly zero (flat region or
 * a corner), and restarts from the next given start or quasi-random point. A non-finite value
 * or gradient sends the start back to its best point with half the step; it never enters the
 * moments.
 */
export class MultiStartAdam implements Optimizer {
  readonly name = 'multi-start-adam';
  readonly needsGradients = true;
  private readonly box: Box;
  private readonly o: Required<Omit<MultiStartAdamOptions, 'box' | 'rng' | 'starts'>>;
  private readonly width: Float64Array;
  private readonly halton: ScrambledHalton;
  private readonly queue: Float64Array[];
  private readonly starts: Start[] = [];
  private readonly hasFreeCoordinate: boolean;
  private iterations = 0;
  private restarts = 0;
  private asked: Float64Array[] | undefined;
  private askedStarts: Start[] = [];
  private bestPoint: { x: Float64Array; value: number } | undefined;
  private reasons: StopReason[] = [];

  constructor(options: MultiStartAdamOptions) {
    const o = { ...MULTI_START_ADAM_DEFAULTS, ...definedOnly(options) };
    this.box = checkBox(o.box);
    const n = this.box.lo.length;
    checkInteger('nStarts', o.nStarts, 1);
    checkInterval('lr', o.lr, 0, 1, '(]');
    checkInterval('beta1', o.beta1, 0, 1, '[)');
    checkInterval('beta2', o.beta2, 0, 1, '[)');
    checkInterval('epsilon', o.epsilon, 0, Infinity, '[)');
    checkInterval('decay', o.decay, 0, 1, '(]');
    checkInteger('patience', o.patience, 1);
    checkInterval('minLr', o.minLr, 0, o.lr, '[)');
    if (typeof o.restart !== 'boolean') throw new InvalidOptionError('restart', o.restart, 'a boolean');
    checkInteger('maxIterations', o.maxIterations, 1, true);
    this.queue = (o.starts ?? []).map((s, i) => {
      if (!(s instanceof Float64Array) || s.length !== n || !s.every(Number.isFinite)) {
        throw new InvalidOptionError(`starts[${i}]`, s, `a finite Float64Array of length ${n}`);
      }
      return clampToBox(Float64Array.from(s), this.box);
    });
    this.o = {
      nStarts: o.nStarts,
      lr: o.lr,
      beta1: o.beta1,
      beta2: o.beta2,
      epsilon: o.epsilon,
      decay: o.decay,
      patience: o.patience,
      minLr: o.minLr,
      restart: o.restart,
      maxIterations: o.maxIterations,
    };
    this.width = new Float64Array(n);
    for (let i = 0; i < n; i++) this.width[i] = this.box.hi[i] - this.box.lo[i];
    this.hasFreeCoordinate = this.width.some((w) => w > 0);
    this.halton = new ScrambledHalton(n, o.rng.fork());
    // the first starts' quasi-random points in one batch (the same points, drawn faster)
    this.queue.push(...pointsInBox(this.halton, Math.max(0, o.nStarts - this.queue.length), this.box));
    for (let k = 0; k < o.nStarts; k++) {
      const s: Start = {
        x: new Float64Array(n),
        m: new Float64Array(n),
        v: new Float64Array(n),
        t: 0,
        lr: 0,
        bestX: undefined,
        bestValue: -Infinity,
        sinceImprove: 0,
        isLive: true,
      };
      this.reset(s);
      this.starts.push(s);
    }
  }

  get best(): { x: Float64Array; value: number } | undefined {
    return this.bestPoint;
  }

  /** Starts begun after the initial ones (for tests and progress reports). */
  get restartCount(): number {
    return this.restarts;
  }

  ask(): Float64Array[] {
    if (this.reasons.length > 0) {
      this.asked = [];
      this.askedStarts = [];
      return [];
    }
    this.askedStarts = this.starts.filter((s) => s.isLive);
    this.asked = this.askedStarts.map((s) => Float64Array.from(s.x));
    return this.asked;
  }

  tell(points: readonly Float64Array[], values: Float64Array, grads?: readonly Float64Array[]): void {
    checkTell(this.name, this.asked, points, values, grads, true);
    this.asked = undefined;
    if (points.length === 0) return;
    this.bestPoint = updateBest(this.bestPoint, points, values);
    for (let k = 0; k < points.length; k++) this.step(this.askedStarts[k], values[k], grads![k]);
    this.iterations++;
    if (!this.o.restart && this.starts.every((s) => !s.isLive)) this.reasons = ['converged'];
    else if (!this.hasFreeCoordinate) this.reasons = ['converged'];
    else if (this.iterations >= this.o.maxIterations) this.reasons = ['maxEvaluations'];
  }

  stop(): readonly StopReason[] {
    return this.reasons;
  }

  /** One Adam ascent step of start s, told value f and gradient g at s.x. */
  private step(s: Start, f: number, g: Float64Array): void {
    const { beta1, beta2, epsilon, decay, patience, minLr } = this.o;
    const n = s.x.length;
    if (!Number.isFinite(f) || !g.every(Number.isFinite)) {
      // A failed point: back to the best point of this start (if any) with half the step.
      if (s.bestX === undefined) return this.converged(s);
      s.x.set(s.bestX);
      s.lr *= 0.5;
      if (s.lr < minLr) this.converged(s);
      return;
    }
    if (s.bestX === undefined || f > s.bestValue + 1e-15 * Math.abs(s.bestValue)) {
      s.bestValue = f;
      s.bestX = Float64Array.from(s.x);
      s.sinceImprove = 0;
    } else if (++s.sinceImprove >= patience) {
      s.sinceImprove = 0;
      s.lr *= 0.5;
      s.x.set(s.bestX!);
      if (s.lr < minLr) return this.converged(s);
      return; // the gradient told is at the abandoned point
    }
    // Projected gradient: zero where the box blocks the ascent direction.
    let isStationary = true;
    for (let i = 0; i < n; i++) {
      const gi = g[i];
      if (this.width[i] > 0 && gi !== 0 && !(gi > 0 && s.x[i] >= this.box.hi[i]) && !(gi < 0 && s.x[i] <= this.box.lo[i])) {
        isStationary = false;
        break;
      }
    }
    if (isStationary) return this.converged(s);
    s.t++;
    const c1 = 1 / (1 - beta1 ** s.t); // bias corrections, Kingma & Ba algorithm 1
    const c2 = 1 / (1 - beta2 ** s.t);
    let maxRoot = 0;
    for (let i = 0; i < n; i++) {
      s.m[i] = beta1 * s.m[i] + (1 - beta1) * g[i];
      s.v[i] = beta2 * s.v[i] + (1 - beta2) * g[i] * g[i];
      maxRoot = Math.max(maxRoot, Math.sqrt(s.v[i] * c2));
    }
    const eps = epsilon * maxRoot + Number.MIN_VALUE;
    for (let i = 0; i < n; i++) {
      const stepI = (s.lr * this.width[i] * s.m[i] * c1) / (Math.sqrt(s.v[i] * c2) + eps);
      const xi = s.x[i] + stepI;
      s.x[i] = xi < this.box.lo[i] ? this.box.lo[i] : xi > this.box.hi[i] ? this.box.hi[i] : xi;
    }
    s.lr *= decay;
    if (s.lr < minLr) this.converged(s);
  }

  private converged(s: Start): void {
    if (!this.o.restart) {
      s.isLive = false;
      return;
    }
    this.restarts++;
    this.reset(s);
  }

  /** Puts s at a fresh start point with fresh moments. */
  private reset(s: Start): void {
    s.x = this.queue.shift() ?? unitToBox(this.halton.next(), this.box);
    s.m.fill(0);
    s.v.fill(0);
    s.t = 0;
    s.lr = this.o.lr;
    s.bestX = undefined;
    s.bestValue = -Infinity;
    s.sinceImprove = 0;
  }
}
