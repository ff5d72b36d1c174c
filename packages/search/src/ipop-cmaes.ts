import { InvalidOptionError, type Rng } from '@nnmax/core';
import { defaultLambda } from './cmaes-params.js';
import { Cmaes, type CmaesOptions } from './cmaes.js';
import { definedOnly } from './options.js';
import { checkTell, updateBest, type Optimizer, type StopReason } from './optimizer.js';

export interface IpopCmaesOptions extends CmaesOptions {
  /** Population size of the first run; each restart multiplies it by `lambdaFactor`. */
  readonly lambda?: number;
  /** Evaluation budget over all runs. */
  readonly maxEvaluations?: number;
  /** Population growth per restart, > 1. */
  readonly lambdaFactor?: number;
}

/** Defaults of `IpopCmaesOptions` beyond `CMAES_DEFAULTS` (Auger & Hansen, CEC 2005). */
export const IPOP_CMAES_DEFAULTS = Object.freeze({
  /** Double the population size on each restart. */
  lambdaFactor: 2,
  maxEvaluations: Infinity,
});

/**
 * IPOP-CMA-ES (A. Auger and N. Hansen, "A Restart CMA Evolution Strategy With Increasing Population
 * Size", CEC 2005): successive `Cmaes` runs; whenever one stops, the next starts from a uniformly
 * random mean in the box with `lambdaFactor` times the population size, until the total budget
 * cannot hold one generation of the next run. Maximises; `best` is over all runs.
 */
export class IpopCmaes implements Optimizer {
  readonly name = 'ipop-cmaes';
  readonly needsGradients = false;
  private readonly options: CmaesOptions;
  private readonly rng: Rng;
  private readonly maxEvaluations: number;
  private readonly lambdaFactor: number;
  private readonly lambda0: number;
  private run: Cmaes;
  private runCount = 1;
  private evaluationsBefore = 0; // evaluations of the finished runs
  private asked: Float64Array[] | undefined;
  private bestPoint: { x: Float64Array; value: number } | undefined;

  constructor(options: IpopCmaesOptions) {
    const o = { ...IPOP_CMAES_DEFAULTS, ...definedOnly(options) };
    if (typeof o.lambdaFactor !== 'number' || !(o.lambdaFactor > 1 && Number.isFinite(o.lambdaFactor))) {
      throw new InvalidOptionError('lambdaFactor', o.lambdaFactor, 'a finite number > 1');
    }
    this.lambdaFactor = o.lambdaFactor;
    this.maxEvaluations = o.maxEvaluations;
    this.options = { ...o, x0: undefined, lambda: undefined, maxEvaluations: undefined };
    this.rng = o.rng;
    // a first Cmaes validates every option the runs share; the first mean is x0 or uniformly random
    const first = new Cmaes(o);
    this.run = o.x0 ? first : new Cmaes({ ...o, x0: this.randomMean(o.box) });
    const n = this.run.params?.n ?? 1;
    this.lambda0 = this.run.params?.lambda ?? defaultLambda(n);
  }

  /** Number of CMA-ES runs started so far (1 before the first restart). */
  get runs(): number {
    return this.runCount;
  }

  /** The current run. */
  get current(): Cmaes {
    return this.run;
  }

  /** Evaluations told over all runs. */
  get evaluations(): number {
    return this.evaluationsBefore + this.run.state.evaluations;
  }

  get best(): { x: Float64Array; value: number } | undefined {
    return this.bestPoint;
  }

  stop(): readonly StopReason[] {
    if (this.run.stop().length === 0) return [];
    return this.restartBlocker() ?? [];
  }

  ask(): Float64Array[] {
    if (this.run.stop().length > 0) {
      if (this.restartBlocker()) return [];
      this.evaluationsBefore += this.run.state.evaluations;
      this.run = new Cmaes({
        ...this.options,
        x0: this.randomMean(this.options.box),
        lambda: this.nextLambda(),
        maxEvaluations: this.maxEvaluations - this.evaluationsBefore,
      });
      this.runCount++;
    }
    this.asked = this.run.ask();
    return this.asked.slice();
  }

  tell(points: readonly Float64Array[], values: Float64Array, grads?: readonly Float64Array[]): void {
    checkTell(this.name, this.asked, points, values, grads, false);
    this.asked = undefined;
    this.bestPoint = updateBest(this.bestPoint, points, values);
    this.run.tell(points, values);
  }

  private nextLambda(): number {
    return Math.round(this.lambda0 * this.lambdaFactor ** this.runCount);
  }

  /** Why no further run can start, or undefined when one can. */
  private restartBlocker(): StopReason[] | undefined {
    if (this.run.stop().includes('exhausted')) return ['exhausted']; // every coordinate fixed: one point
    const remaining = this.maxEvaluations - this.evaluationsBefore - this.run.state.evaluations;
    return remaining < this.nextLambda() ? ['maxEvaluations'] : undefined;
  }

  private randomMean(box: { lo: Float64Array; hi: Float64Array }): Float64Array {
    return Float64Array.from(box.lo, (lo, i) => this.rng.uniform(lo, box.hi[i]));
  }
}
