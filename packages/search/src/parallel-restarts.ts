import { InvalidOptionError, type Rng } from '@nnmax/core';
import { checkTell, updateBest, type Optimizer, type StopReason } from './optimizer.js';
import { checkInteger } from './options.js';

/** Makes the optimiser of one lane; `run` counts the lane's restarts (0 for the first). */
export type LaneFactory = (rng: Rng, lane: number, run: number) => Optimizer;

export interface ParallelRestartsOptions {
  readonly rng: Rng;
  /** Optimisers advanced together; their asks are concatenated into one batch. */
  readonly lanes: number;
  readonly make: LaneFactory;
  /** Restarts over all lanes before stopping with 'maxEvaluations' (default Infinity). */
  readonly maxRestarts?: number;
}

interface Lane {
  opt: Optimizer;
  run: number;
  /** How many of the batch's points belong to this lane, from `offset`. */
  offset: number;
  count: number;
}

/**
 * Runs `lanes` independent optimisers side by side and restarts each one (from the factory) when
 * it stops, so that small-batch local methods such as projected L-BFGS fill one runtime call
 * together: ask() concatenates the lanes' asks, tell() hands each lane its slice. It is the
 * multistart driver of scipy-style "many local runs", batched. Maximises; `best` is over all runs.
 */
export class ParallelRestarts implements Optimizer {
  readonly name: string;
  readonly needsGradients: boolean;
  best: { x: Float64Array; value: number } | undefined;
  private readonly lanes: Lane[];
  private readonly rng: Rng;
  private readonly make: LaneFactory;
  private readonly maxRestarts: number;
  private restarts = 0;
  private asked: Float64Array[] | undefined;

  constructor(options: ParallelRestartsOptions) {
    checkInteger('lanes', options.lanes, 1);
    if (typeof options.make !== 'function') throw new InvalidOptionError('make', options.make, 'a function (rng, lane, run) => Optimizer');
    const maxRestarts = options.maxRestarts ?? Infinity;
    checkInteger('maxRestarts', maxRestarts, 0, true);
    this.rng = options.rng.fork();
    this.make = options.make;
    this.maxRestarts = maxRestarts;
    this.lanes = Array.from({ length: options.lanes }, (_, i) => ({ opt: this.make(this.rng.fork(), i, 0), run: 0, offset: 0, count: 0 }));
    this.name = `parallel(${this.lanes[0].opt.name} x ${options.lanes})`;
    this.needsGradients = this.lanes.some((l) => l.opt.needsGradients);
  }

  ask(): Float64Array[] {
    const points: Float64Array[] = [];
    this.lanes.forEach((lane, i) => {
      if (lane.opt.stop().length > 0 && this.restarts < this.maxRestarts) {
        this.restarts++;
        lane.opt = this.make(this.rng.fork(), i, ++lane.run);
      }
      const own = lane.opt.stop().length > 0 ? [] : lane.opt.ask();
      lane.offset = points.length;
      lane.count = own.length;
      points.push(...own);
    });
    this.asked = points;
    return points;
  }

  tell(points: readonly Float64Array[], values: Float64Array, grads?: readonly Float64Array[]): void {
    checkTell(this.name, this.asked, points, values, grads, this.needsGradients);
    this.asked = undefined;
    for (const lane of this.lanes) {
      if (lane.count === 0) continue;
      const end = lane.offset + lane.count;
      lane.opt.tell(points.slice(lane.offset, end), values.subarray(lane.offset, end), grads?.slice(lane.offset, end));
    }
    this.best = updateBest(this.best, points, values);
  }

  stop(): readonly StopReason[] {
    const isDone = this.restarts >= this.maxRestarts && this.lanes.every((l) => l.opt.stop().length > 0);
    return isDone ? ['maxEvaluations'] : [];
  }
}
