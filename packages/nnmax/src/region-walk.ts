import type { Box, Rng } from '@nnmax/core';
import type { MaxMinSpec, RegionAscent, RegionAscentResult } from '@nnmax/bounds';
import type { IrGraph } from '@nnmax/onnx';
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
  /** The start of the next walk on this thread, claimed ahead (see RemoteWalks.prime). */
  private reserved: Float64Array | undefined;
  /**
   * Keys of the points looked at, by array (evaluated points are never written to afterwards):
   * every start claim scans the elite from its best point, and keying the same coordinates again
   * was 1.8% of the main thread's profile on the ACAS Xu property 1 searches.
   */
  private readonly keys = new WeakMap<Float64Array, string>();

  constructor(
    private readonly ctx: SearchContext,
    private readonly ascent: RegionAscent,
    private readonly rng: Rng,
  ) {}

  ask(): Float64Array[] {
    const start = this.reserved ?? this.claimStart();
    this.reserved = undefined;
    const r = this.ascent.ascend(start, MAX_REGIONS, performance.now() + MAX_WALK_MS);
    this.walkedTo(r.x);
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

  /** The next start point (see the class comment), marked as walked from. */
  claimStart(): Float64Array {
    const start = this.nextStart();
    this.visited.add(this.key(start));
    return start;
  }

  /** Claims the start of this thread's next walk now (the next claims go to other walks). */
  reserveStart(): void {
    this.reserved ??= this.claimStart();
  }

  /** A walk ended at x: never a start point again. */
  walkedTo(x: Float64Array): void {
    this.visited.add(this.key(x));
  }

  /** The values of walks' end points evaluated elsewhere (RemoteWalks). */
  record(points: readonly Float64Array[], values: Float64Array): void {
    points.forEach((x, s) => {
      if (!this.best || values[s] > this.best.value) this.best = { x, value: values[s] };
    });
  }

  private nextStart(): Float64Array {
    const inc = this.ctx.incumbent;
    if (inc && !this.visited.has(this.key(inc.x))) return inc.x;
    for (const e of this.ctx.elite) {
      const k = this.key(e.x);
      if (this.visited.has(k)) continue;
      if (this.starts.some((s) => this.distance(s, e.x) < MIN_START_DISTANCE)) {
        this.visited.add(k);
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

  private key(x: Float64Array): string {
    let k = this.keys.get(x);
    if (k === undefined) this.keys.set(x, (k = key(x)));
    return k;
  }

  /** Largest coordinate difference relative to the box's widths (free inputs only). */
  private distance(a: Float64Array, b: Float64Array): number {
    const { lo, hi } = this.ctx.box;
    let d = 0;
    for (let i = 0; i < a.length; i++) if (hi[i] > lo[i]) d = Math.max(d, Math.abs(a[i] - b[i]) / (hi[i] - lo[i]));
    return d;
  }
}

/** What a helper thread needs to walk: the network, the spec it maximises, and the box. */
export interface WalkInit {
  readonly graph: IrGraph;
  readonly spec: MaxMinSpec;
  readonly box: Box;
}

/** Region walks on another thread (Node: a worker thread, see `nnmax/node`). */
export interface WalkHelper {
  readonly isReady: boolean;
  /** A walk from `start` (at most `maxRegions` LPs, none started after `ms`). */
  walk(start: Float64Array, maxRegions: number, ms: number): Promise<RegionAscentResult>;
  close(): void;
}

/** Starts a walk helper thread (bound by the node entry). */
export type WalkHelperFactory = (init: WalkInit) => WalkHelper;

/**
 * Walks in flight on the helper thread: two, so that the helper starts its next walk as soon as it
 * ends one, without waiting for this thread to collect the result between its own steps.
 */
const IN_FLIGHT = 2;

/**
 * The portfolio's region walks on a helper thread, once it is ready: the calling thread keeps
 * choosing the start points (RegionWalk's rules) and evaluates the end points with the runtime,
 * while the helper solves the LPs; the walk's share of this thread goes to the other searches.
 * A helper that fails is not used again (the walk slot then runs on this thread, where the same
 * failure surfaces as an error).
 */
export class RemoteWalks {
  private readonly done: Float64Array[] = [];
  private inFlight = 0;
  private failed = false;

  constructor(
    private readonly walk: RegionWalk,
    private readonly helper: WalkHelper,
  ) {}

  get isActive(): boolean {
    return !this.failed && this.helper.isReady;
  }

  /**
   * The first walks, before the helper is ready: this thread's first walk keeps the best start
   * (the incumbent), and IN_FLIGHT walks from the next starts queue behind the helper's set-up, so
   * that the helper walks while this thread does. On ACAS Xu the optimum is often one or two walks
   * from the design's best points, and the helper's set-up reply would otherwise wait for the
   * first walk here (about a millisecond).
   */
  prime(): void {
    this.walk.reserveStart();
    this.send();
  }

  /** Evaluates the walks that have ended since the last call, and keeps IN_FLIGHT walks going. */
  async pump(ctx: SearchContext): Promise<void> {
    if (this.done.length > 0) {
      const points = this.done.splice(0);
      const { values } = await ctx.evaluate(points, false);
      this.walk.record(points, values);
    }
    if (this.isActive) this.send();
  }

  /** Posts walks until IN_FLIGHT are in flight (requests queue behind the helper's set-up). */
  private send(): void {
    while (this.inFlight < IN_FLIGHT && !this.failed) {
      this.inFlight++;
      this.helper.walk(this.walk.claimStart(), MAX_REGIONS, MAX_WALK_MS).then(
        (r) => {
          this.inFlight--;
          this.walk.walkedTo(r.x);
          this.done.push(r.x);
        },
        () => {
          this.inFlight--;
          this.failed = true;
        },
      );
    }
  }
}

/**
 * The coordinates' bits as a string (two bytes a character): equal keys for equal points (-0 and
 * 0 apart, which at worst walks from one point twice). At 5 inputs 0.14 us, against 0.74 us for
 * the decimal text of the coordinates.
 */
function key(x: Float64Array): string {
  return String.fromCharCode.apply(null, new Uint16Array(x.buffer, x.byteOffset, x.length * 4) as unknown as number[]);
}
