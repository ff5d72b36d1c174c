import { InvalidOptionError, type Box, type Rng } from '@nnmax/core';
import { checkTell, rankValue, updateBest, type Optimizer, type StopReason } from './optimizer.js';
import { checkBox, checkInteger, checkInterval, definedOnly } from './options.js';

export interface DifferentialEvolutionOptions {
  readonly box: Box;
  readonly rng: Rng;
  /** Population size as a multiple of the number of free inputs (scipy's `popsize`). */
  readonly popsizeFactor?: number;
  /** Dithered mutation factor F, drawn uniformly from [lo, hi] once per generation. */
  readonly mutation?: readonly [number, number];
  /** Crossover probability CR of the binomial crossover. */
  readonly recombination?: number;
  /** Stop 'tolFun' when the population's value spread is <= tolFun * (|mean| + tolFun). */
  readonly tolFun?: number;
  /** Evaluation budget (whole generations only). */
  readonly maxEvaluations?: number;
  /** Stop 'tolStagnation' after this many generations without a better best value. */
  readonly maxStagnation?: number;
  /** Points to put in the first population (e.g. the incumbent); the rest is a Latin hypercube. */
  readonly seeds?: readonly Float64Array[];
}

/**
 * Defaults of {@link DifferentialEvolution}, after scipy.optimize.differential_evolution
 * (strategy 'best1bin', popsize 15, mutation (0.5, 1), recombination 0.7, updating 'deferred');
 * its relative tolerance 0.01 on the value spread ends a converged population, which the
 * driver then restarts.
 */
export const DIFFERENTIAL_EVOLUTION_DEFAULTS = {
  popsizeFactor: 15,
  mutation: [0.5, 1] as readonly [number, number],
  recombination: 0.7,
  tolFun: 0.01,
  maxEvaluations: Infinity,
  maxStagnation: Infinity,
} as const;

/**
 * Differential evolution (Storn & Price 1997), strategy best/1/bin with dithering, for
 * MAXIMISATION, batched: every ask() is one whole generation of trial vectors (scipy's
 * 'deferred' updating), and tell() keeps each trial that is at least as good as its parent.
 * A trial coordinate outside the box is redrawn uniformly inside it (scipy's repair). The first
 * population is a Latin hypercube over the box; fixed inputs (lo == hi) stay fixed. It stops on
 * 'tolFun' (scipy's convergence test), 'tolStagnation' (`maxStagnation` generations without a
 * better best value; off by default, as in scipy) or 'maxEvaluations'.
 */
export class DifferentialEvolution implements Optimizer {
  readonly name = 'differential-evolution';
  readonly needsGradients = false;
  best: { x: Float64Array; value: number } | undefined;
  private readonly box: Box;
  private readonly rng: Rng;
  private readonly o: { popsizeFactor: number; mutation: readonly [number, number]; recombination: number; tolFun: number; maxEvaluations: number; maxStagnation: number };
  private stagnant = 0;
  private readonly free: number[];
  private readonly population: Float64Array[];
  private readonly values: Float64Array;
  private isInitialised = false;
  private evaluations = 0;
  private asked: Float64Array[] | undefined;
  private stopReasons: StopReason[] = [];

  constructor(options: DifferentialEvolutionOptions) {
    const o = { ...DIFFERENTIAL_EVOLUTION_DEFAULTS, ...definedOnly(options) };
    this.box = checkBox(o.box);
    this.rng = options.rng.fork();
    checkInteger('popsizeFactor', o.popsizeFactor, 1);
    const [fLo, fHi] = o.mutation;
    if (!(fLo >= 0 && fHi >= fLo && fHi <= 2)) throw new InvalidOptionError('mutation', o.mutation, '[lo, hi] with 0 <= lo <= hi <= 2');
    checkInterval('recombination', o.recombination, 0, 1, '[]');
    checkInterval('tolFun', o.tolFun, 0, Infinity, '[)');
    checkInteger('maxEvaluations', o.maxEvaluations, 1, true);
    checkInteger('maxStagnation', o.maxStagnation, 1, true);
    this.o = o;
    const n = this.box.lo.length;
    this.free = [];
    for (let i = 0; i < n; i++) if (this.box.lo[i] < this.box.hi[i]) this.free.push(i);
    const size = Math.max(5, o.popsizeFactor * Math.max(1, this.free.length));
    this.population = latinHypercube(this.box, this.free, size, this.rng);
    (options.seeds ?? []).slice(0, size).forEach((s, k) => {
      if (s.length !== n) throw new InvalidOptionError(`seeds[${k}]`, `${s.length} values`, `${n} values`);
      this.population[k] = Float64Array.from(s, (v, i) => Math.min(this.box.hi[i], Math.max(this.box.lo[i], Number.isFinite(v) ? v : this.box.lo[i])));
    });
    this.values = new Float64Array(size).fill(-Infinity);
  }

  ask(): Float64Array[] {
    if (this.stopReasons.length > 0) return (this.asked = []);
    if (!this.isInitialised) return (this.asked = this.population.map((p) => p.slice()));
    const size = this.population.length;
    const n = this.box.lo.length;
    let bestIndex = 0;
    for (let k = 1; k < size; k++) if (this.values[k] > this.values[bestIndex]) bestIndex = k;
    const xBest = this.population[bestIndex];
    const [fLo, fHi] = this.o.mutation;
    const F = this.rng.uniform(fLo, fHi); // dithering: one F per generation
    const trials: Float64Array[] = [];
    for (let k = 0; k < size; k++) {
      const [r1, r2] = distinct(this.rng, size, k);
      const a = this.population[r1];
      const b = this.population[r2];
      const trial = this.population[k].slice();
      const forced = this.free[this.rng.int(Math.max(1, this.free.length))]; // at least one mutated coordinate
      for (const i of this.free) {
        if (i !== forced && this.rng.next() >= this.o.recombination) continue;
        let v = xBest[i] + F * (a[i] - b[i]);
        if (!(v >= this.box.lo[i] && v <= this.box.hi[i])) v = this.rng.uniform(this.box.lo[i], this.box.hi[i]);
        trial[i] = v;
      }
      for (let i = 0; i < n; i++) if (!(this.box.lo[i] < this.box.hi[i])) trial[i] = this.box.lo[i];
      trials.push(trial);
    }
    return (this.asked = trials);
  }

  tell(points: readonly Float64Array[], values: Float64Array, grads?: readonly Float64Array[]): void {
    checkTell(this.name, this.asked, points, values, grads, false);
    this.asked = undefined;
    this.evaluations += points.length;
    const before = this.best?.value;
    this.best = updateBest(this.best, points, values);
    this.stagnant = this.isInitialised && this.best?.value === before ? this.stagnant + 1 : 0;
    for (let k = 0; k < points.length; k++) {
      const v = rankValue(values[k]);
      if (!this.isInitialised) {
        this.values[k] = v;
      } else if (v >= this.values[k] && v > -Infinity) {
        this.population[k] = Float64Array.from(points[k]);
        this.values[k] = v;
      }
    }
    this.isInitialised = true;
    this.checkStop();
  }

  stop(): readonly StopReason[] {
    return this.stopReasons;
  }

  private checkStop(): void {
    const size = this.population.length;
    if (this.evaluations + size > this.o.maxEvaluations) this.stopReasons.push('maxEvaluations');
    if (this.stagnant >= this.o.maxStagnation) this.stopReasons.push('tolStagnation');
    let mean = 0;
    let finite = 0;
    for (const v of this.values) if (Number.isFinite(v)) {
      mean += v;
      finite++;
    }
    if (finite < size) return;
    mean /= size;
    let variance = 0;
    for (const v of this.values) variance += (v - mean) ** 2;
    // scipy's convergence test, std(values) <= tol * |mean(values)|; a population whose values are
    // all equal to rounding (std below 1e-12 of their size) has converged too, even near 0.
    const std = Math.sqrt(variance / size);
    if (std <= this.o.tolFun * Math.abs(mean) || std <= 1e-12 * (1 + Math.abs(mean))) this.stopReasons.push('tolFun');
  }
}

/** Two distinct indices in [0, size) other than k. */
function distinct(rng: Rng, size: number, k: number): [number, number] {
  let a = rng.int(size - 1);
  if (a >= k) a++;
  let b = rng.int(size - 2);
  const lo = Math.min(a, k);
  const hi = Math.max(a, k);
  if (b >= lo) b++;
  if (b >= hi) b++;
  return [a, b];
}

/** A Latin hypercube sample: each free coordinate's range cut into `size` strata, one point in each. */
function latinHypercube(box: Box, free: readonly number[], size: number, rng: Rng): Float64Array[] {
  const points = Array.from({ length: size }, () => Float64Array.from(box.lo));
  for (const i of free) {
    const order = Array.from({ length: size }, (_, k) => k);
    for (let k = size - 1; k > 0; k--) {
      const j = rng.int(k + 1);
      [order[k], order[j]] = [order[j], order[k]];
    }
    const w = box.hi[i] - box.lo[i];
    for (let k = 0; k < size; k++) points[k][i] = Math.min(box.hi[i], box.lo[i] + ((order[k] + rng.next()) / size) * w);
  }
  return points;
}
