import { boxCenter, clampToBox, invariant, InvalidOptionError, type Box, type Rng } from '@nnmax/core';
import { checkTell, updateBest, type Optimizer, type StopReason } from './optimizer.js';
import { ProjectedLbfgs } from './projected-lbfgs.js';
import { checkBox, checkInteger, checkInterval, definedOnly } from './options.js';

/** Makes the local optimiser of one hop, started at x0 (inside the box). */
export type LocalOptimizerFactory = (x0: Float64Array, box: Box, rng: Rng) => Optimizer;

export interface BasinHoppingOptions {
  readonly box: Box;
  /** Draws perturbations and Metropolis decisions (forked once in the constructor). */
  readonly rng: Rng;
  /** The first local run starts here (clamped); the box centre by default. */
  readonly x0?: Float64Array;
  /** The local ascent of each hop; a {@link ProjectedLbfgs} by default. */
  readonly local?: LocalOptimizerFactory;
  /** Initial perturbation half-width, relative to the box width of each coordinate. */
  readonly stepSize?: number;
  /** Metropolis temperature, in units of the objective; 0 accepts only improvements. */
  readonly temperature?: number;
  /** Acceptance rate the step size adapts to. */
  readonly targetAcceptRate?: number;
  /** Step size factor of each adaptation (divide when accepting too often, multiply otherwise). */
  readonly stepFactor?: number;
  /** Hops between step-size adaptations. */
  readonly adaptInterval?: number;
  /** Rounds one local run may take before its best is used as the hop's result. */
  readonly localMaxRounds?: number;
  /** Hops before stopping with 'maxEvaluations'. */
  readonly maxHops?: number;
  /** Hops without a new overall best before stopping with 'tolStagnation'. */
  readonly maxStagnantHops?: number;
}

/**
 * Defaults of {@link BasinHopping}, after scipy.optimize.basinhopping:
 * - `stepSize` 0.1 of the box width (scipy's 0.5 is absolute; boxes here are arbitrary);
 * - `temperature` 1, `targetAcceptRate` 0.5, `stepFactor` 0.9, `adaptInterval` 10: scipy's;
 * - `localMaxRounds` 100: a local run is cut short rather than stall the anytime loop;
 * - `maxHops` and `maxStagnantHops` Infinity: the driver's budget stops the run.
 */
export const BASIN_HOPPING_DEFAULTS = Object.freeze({
  stepSize: 0.1,
  temperature: 1,
  targetAcceptRate: 0.5,
  stepFactor: 0.9,
  adaptInterval: 10,
  localMaxRounds: 100,
  maxHops: Infinity,
  maxStagnantHops: Infinity,
});

/** The default local optimiser: a projected L-BFGS ascent from x0. */
export const lbfgsLocal: LocalOptimizerFactory = (x0, box) => new ProjectedLbfgs({ box, x0 });

/**
 * Basin hopping (Wales & Doye 1997; scipy's basinhopping) for MAXIMISATION. From the current
 * local maximum: perturb every coordinate uniformly within +-stepSize of the box width, run the
 * local ascent to convergence, and accept its result with the Metropolis rule
 * min(1, exp((f_new - f_current) / T)). Every `adaptInterval` hops the step size is divided by
 * `stepFactor` when the acceptance rate (since the start, as scipy) exceeds the target, and
 * multiplied otherwise. The local runs' asks pass through unchanged, so each ask() is one batch
 * of the local optimiser.
 */
export class BasinHopping implements Optimizer {
  readonly name = 'basin-hopping';
  readonly needsGradients: boolean;
  private readonly box: Box;
  private readonly rng: Rng;
  private readonly o: Required<Omit<BasinHoppingOptions, 'box' | 'rng' | 'x0'>>;
  private local: Optimizer;
  private localRounds = 0;
  private stepSize: number;
  /** The accepted local maximum (the Markov chain's state). */
  private current: { x: Float64Array; value: number } | undefined;
  private readonly x0: Float64Array;
  private runs = 0;
  private hops = 0;
  /** The overall best value when the current local run started. */
  private bestAtRunStart = -Infinity;
  private accepted = 0;
  private stagnantHops = 0;
  private reason: StopReason | undefined;
  private asked: Float64Array[] | undefined;
  private bestPoint: { x: Float64Array; value: number } | undefined;

  constructor(options: BasinHoppingOptions) {
    const o = { ...BASIN_HOPPING_DEFAULTS, local: lbfgsLocal, ...definedOnly(options) };
    this.box = checkBox(o.box);
    const n = this.box.lo.length;
    checkInterval('stepSize', o.stepSize, 0, 1, '(]');
    checkInterval('temperature', o.temperature, 0, Infinity, '[)');
    checkInterval('targetAcceptRate', o.targetAcceptRate, 0, 1, '()');
    checkInterval('stepFactor', o.stepFactor, 0, 1, '()');
    checkInteger('adaptInterval', o.adaptInterval, 1);
    checkInteger('localMaxRounds', o.localMaxRounds, 1);
    checkInteger('maxHops', o.maxHops, 1, true);
    checkInteger('maxStagnantHops', o.maxStagnantHops, 1, true);
    if (typeof o.local !== 'function') throw new InvalidOptionError('local', o.local, 'a function (x0, box, rng) => Optimizer');
    if (o.x0 !== undefined && (!(o.x0 instanceof Float64Array) || o.x0.length !== n || !o.x0.every(Number.isFinite))) {
      throw new InvalidOptionError('x0', o.x0, `a finite Float64Array of length ${n}`);
    }
    this.o = {
      local: o.local,
      stepSize: o.stepSize,
      temperature: o.temperature,
      targetAcceptRate: o.targetAcceptRate,
      stepFactor: o.stepFactor,
      adaptInterval: o.adaptInterval,
      localMaxRounds: o.localMaxRounds,
      maxHops: o.maxHops,
      maxStagnantHops: o.maxStagnantHops,
    };
    this.rng = o.rng.fork();
    this.stepSize = o.stepSize;
    this.x0 = o.x0 === undefined ? boxCenter(this.box) : clampToBox(Float64Array.from(o.x0), this.box);
    this.local = this.o.local(Float64Array.from(this.x0), this.box, this.rng.fork());
    this.needsGradients = this.local.needsGradients;
  }

  get best(): { x: Float64Array; value: number } | undefined {
    return this.bestPoint;
  }

  /** Hops finished, hops accepted, and the current relative step size (for tests and reports). */
  get stats(): { hops: number; accepted: number; stepSize: number } {
    return { hops: this.hops, accepted: this.accepted, stepSize: this.stepSize };
  }

  ask(): Float64Array[] {
    // A local run that is done yields the hop's result; at most one fresh run per ask().
    for (let attempt = 0; this.reason === undefined; attempt++) {
      if (this.local.stop().length === 0 && this.localRounds < this.o.localMaxRounds) {
        const points = this.local.ask();
        if (points.length > 0) {
          this.localRounds++;
          this.asked = points;
          return points;
        }
      }
      invariant(attempt === 0, () => `${this.name}: a fresh local optimiser asked no points`);
      this.finishHop();
    }
    this.asked = [];
    return this.asked;
  }

  tell(points: readonly Float64Array[], values: Float64Array, grads?: readonly Float64Array[]): void {
    checkTell(this.name, this.asked, points, values, grads, this.needsGradients);
    this.asked = undefined;
    if (points.length === 0) return;
    this.local.tell(points, values, grads);
    this.bestPoint = updateBest(this.bestPoint, points, values);
  }

  stop(): readonly StopReason[] {
    return this.reason === undefined ? [] : [this.reason];
  }

  /** Metropolis step on the finished local run, step-size adaptation, and the next perturbation. */
  private finishHop(): void {
    const result = this.local.best;
    const isInitial = this.runs++ === 0; // the run from x0 is not a hop
    if (!isInitial) this.hops++;
    if (result !== undefined) {
      const delta = this.current === undefined ? Infinity : result.value - this.current.value;
      const isAccepted =
        delta >= 0 || (this.o.temperature > 0 && this.rng.next() < Math.exp(delta / this.o.temperature));
      if (isAccepted) this.current = { x: Float64Array.from(result.x), value: result.value };
      if (isAccepted && !isInitial) this.accepted++;
    }
    if (!isInitial) {
      if (this.hops % this.o.adaptInterval === 0) {
        const rate = this.accepted / this.hops;
        const step = rate > this.o.targetAcceptRate ? this.stepSize / this.o.stepFactor : this.stepSize * this.o.stepFactor;
        this.stepSize = Math.min(1, Math.max(1e-9, step));
      }
      const isImproved = this.bestPoint !== undefined && !(this.bestPoint.value <= this.bestAtRunStart);
      this.stagnantHops = isImproved ? 0 : this.stagnantHops + 1;
    }
    if (this.hops >= this.o.maxHops) this.reason = 'maxEvaluations';
    else if (this.stagnantHops >= this.o.maxStagnantHops) this.reason = 'tolStagnation';
    if (this.reason !== undefined) return;
    const from = this.current?.x ?? this.x0;
    const x = new Float64Array(from.length);
    for (let i = 0; i < x.length; i++) {
      x[i] = from[i] + this.stepSize * (this.box.hi[i] - this.box.lo[i]) * (2 * this.rng.next() - 1);
    }
    clampToBox(x, this.box);
    this.local = this.o.local(x, this.box, this.rng.fork());
    invariant(this.local.needsGradients === this.needsGradients, () => `${this.name}: local optimisers must agree on needsGradients`);
    this.localRounds = 0;
    this.bestAtRunStart = this.bestPoint?.value ?? -Infinity;
  }
}
