import type { Rng } from '@nnmax/core';
import type { RegionAscent } from '@nnmax/bounds';
import { checkTell, type Optimizer, type StopReason } from '@nnmax/search';
import type { SearchContext } from './search-context.js';

/**
 * Elite points closer than this (largest coordinate difference relative to the box width) to an
 * earlier start are skipped: the best points of a design crowd into one basin.
 */
const MIN_START_DISTANCE = 0.1;
/**
 * Linear programmes per walk (regions visited or tried), and its time: on ACAS Xu (5 inputs, 300
 * ReLUs) a walk solves 10-20 LPs in about a millisecond; wider networks must not block the event
 * loop (progress, abort signals) for long.
 */
const MAX_REGIONS = 64;
const MAX_WALK_MS = 25;

/**
 * The portfolio's component for piecewise-linear networks: one exact region walk (see
 * RegionAscent in @nnmax/bounds) per step, from the incumbent when a search has improved it, else
 * from the best evaluated point not walked from yet, else from a uniformly random point. The walk
 * lands on a vertex of the network's linear regions, where ReLU networks peak and where gradient
 * and black-box searches converge slowly. Its point is evaluated by the runtime like any other.
 */
export class RegionWalk implements Optimizer {
  readonly name = 'walk';
  readonly needsGradients = false;
  best: { x: Float64Array; value: number } | undefined;
  private asked: Float64Array[] | undefined;
  /** Points walked from, and the points walks ended at (keys of their coordinates). */
  private readonly visited = new Set<string>();
  /** Start points taken from the elite or drawn (not the incumbents). */
  private readonly starts: Float64Array[] = [];

  constructor(
    private readonly ctx: SearchContext,
    private readonly ascent: RegionAscent,
    private readonly rng: Rng,
  ) {}

  ask(): Float64Array[] {
    const start = this.nextStart();
    this.visited.add(key(start));
    const r = this.ascent.ascend(start, MAX_REGIONS, performance.now() + MAX_WALK_MS);
    this.visited.add(key(r.x));
    this.asked = [r.x];
    return this.asked;
  }

  tell(points: readonly Float64Array[], values: Float64Array, grads?: readonly Float64Array[]): void {
    checkTell(this.name, this.asked, points, values, grads, false);
    this.asked = undefined;
    if (!this.best || values[0] > this.best.value) this.best = { x: points[0], value: values[0] };
  }

  stop(): readonly StopReason[] {
    return [];
  }

  private nextStart(): Float64Array {
    const inc = this.ctx.incumbent;
    if (inc && !this.visited.has(key(inc.x))) return inc.x;
    for (const e of this.ctx.elite) {
      if (this.visited.has(key(e.x))) continue;
      if (this.starts.some((s) => this.distance(s, e.x) < MIN_START_DISTANCE)) {
        this.visited.add(key(e.x));
        continue;
      }
      this.starts.push(e.x);
      return e.x;
    }
    const { lo, hi } = this.ctx.box;
    const x = Float64Array.from(lo, (l, i) => this.rng.uniform(l, hi[i]));
    this.starts.push(x);
    return x;
  }

  /** Largest coordinate difference relative to the box's widths (free inputs only). */
  private distance(a: Float64Array, b: Float64Array): number {
    const { lo, hi } = this.ctx.box;
    let d = 0;
    for (let i = 0; i < a.length; i++) if (hi[i] > lo[i]) d = Math.max(d, Math.abs(a[i] - b[i]) / (hi[i] - lo[i]));
    return d;
  }
}

function key(x: Float64Array): string {
  return Array.prototype.join.call(x, ',');
}
