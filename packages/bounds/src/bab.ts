import { invariant, InvalidOptionError, Rng, ShapeError, type Box } from '@nnmax/core';
import { forward64, type IrGraph } from '@nnmax/onnx';
import {
  centre,
  DomainBounder,
  reluLayout,
  wallClock,
  type BabDomain,
  type BounderInit,
  type BounderSettings,
  type BoundingHelper,
  type BoundOutcome,
  type PruneState,
  type ReluLayout,
  splitPoint,
} from './bab-bounding.js';
import { localAscent } from './local-ascent.js';
import { validatePolytope, type InputPolytope } from './polytope-bound.js';
import { MaxHeap } from './priority-queue.js';
import { evaluateSpec, linearSpec, validateSpec, type MaxMinSpec } from './spec.js';

export type BabStatus = 'optimal' | 'timeout' | 'memory' | 'aborted' | 'target' | 'stalled';

export interface BabProgress {
  readonly elapsedMs: number;
  /** The incumbent value (a lower bound of the maximum), -Infinity before the first one. */
  readonly lowerBound: number;
  /** The certified upper bound of the maximum. */
  readonly upperBound: number;
  /** Open domains. */
  readonly frontier: number;
  readonly boxesBounded: number;
}

export interface BabIncumbent {
  readonly x: Float64Array;
  readonly value: number;
}

export interface BabResult {
  /**
   * 'optimal': upperBound - incumbent <= tol. 'target': see `targetOutcome`. 'timeout',
   * 'aborted': stopped by timeLimitMs or the signal. 'memory': the frontier exceeded maxFrontier.
   * 'stalled': the largest open bound belongs to a domain that cannot be split further (every
   * input of its box is down to float resolution).
   */
  readonly status: BabStatus;
  /** With a target: 'reached' (incumbent >= target) or 'excluded' (upperBound < target, a proof). */
  readonly targetOutcome?: 'reached' | 'excluded';
  readonly incumbent: BabIncumbent | undefined;
  /** Certified: the objective is <= upperBound on the whole domain (exact real arithmetic). */
  readonly upperBound: number;
  /** upperBound - incumbent value (Infinity without incumbent). */
  readonly gap: number;
  readonly boxesBounded: number;
  readonly frontier: number;
  readonly elapsedMs: number;
  readonly split: 'input' | 'relu';
}

export interface BabOptions {
  /** Absolute gap at which the search stops as optimal (default 1e-4). */
  readonly tol?: number;
  /** Default Infinity. */
  readonly timeLimitMs?: number;
  /** Largest number of open domains before stopping with 'memory' (default 1,000,000). */
  readonly maxFrontier?: number;
  /**
   * Stop as soon as the incumbent reaches the target (falsification) or the upper bound falls
   * strictly below it (proof); domains whose bound is below the target are pruned.
   */
  readonly target?: number;
  /** BabDomains popped and split per round (default 128; fewer when a full round would outlast the time limit). */
  readonly batchSize?: number;
  /**
   * 'input': split input boxes; 'relu': split unstable ReLUs (then inputs, once a domain has no
   * unstable ReLU left); 'auto' (default): input when nIn <= 12 or the net has no ReLU, else ReLU
   * splits, but input splits in a domain with an integer input left to split or at most 6 free
   * inputs (see RELU_MODE_INPUT_SPLIT_MAX_FREE).
   */
  readonly split?: 'auto' | 'input' | 'relu';
  /**
   * alpha-CROWN steps on domains CROWN does not prune (default 4, RELU_ALPHA_ITERATIONS with ReLU
   * splits on at most RELU_ALPHA_MAX_INPUTS inputs; 0 disables it). Children start
   * from their parent's optimised slopes, so a few steps per domain keep improving them. With ReLU
   * splits the same steps optimise the splits' beta-CROWN multipliers (Wang et al. 2021), which
   * children inherit too: on a 20-input ReLU net (24-16), proving its maximum below the optimum
   * plus 0.03 took 2.2 s with them and did not finish in 60 s without (bound 41.6 for 40.17).
   */
  readonly alphaIterations?: number;
  /** Local ascent steps from the best candidates of each round (default 24; 0 disables it). */
  readonly ascentIterations?: number;
  readonly onProgress?: (progress: BabProgress) => void;
  /** Minimum time between onProgress calls (default 200). */
  readonly progressIntervalMs?: number;
  readonly signal?: AbortSignal;
  /**
   * Values of the objective at candidate points; the default is the float64 reference forward.
   * A custom evaluator must compute the same objective (its values become the incumbent's); it
   * may return -Infinity (or NaN) for a point that must not become the incumbent.
   */
  readonly evaluate?: (points: readonly Float64Array[]) => Float64Array | Promise<Float64Array>;
  /**
   * Starts a helper that bounds part of each batch on another thread (`nnmax/node` passes one
   * backed by a worker thread); branch-and-bound closes it when it returns. Without it, or until
   * it is ready, every domain is bounded on the calling thread.
   */
  readonly helper?: (init: BounderInit) => BoundingHelper;
  /**
   * Called every round: points found elsewhere (e.g. by a concurrent search) to try as incumbent.
   * They are clamped to the domain and evaluated like any candidate.
   */
  readonly pollCandidates?: () => readonly Float64Array[] | undefined;
  /**
   * Linear constraints A x <= b: the domain is the part of the boxes that meets them. Each domain's
   * rows are bounded over that part (the dual of a small LP per row, see `polytopeBound`), a box
   * that one row excludes is dropped, and only points that meet every row (in float64) become the
   * incumbent.
   */
  readonly polytope?: InputPolytope;
  /**
   * Inputs that take integer values only: the boxes' bounds on them are rounded inward, they
   * split between two integers, and only points integral there become the incumbent.
   */
  readonly integers?: readonly number[];
}

/**
 * alpha-CROWN steps per domain with ReLU splits on networks of at most RELU_ALPHA_MAX_INPUTS inputs
 * (where the split rows apply): the slopes and the split multipliers converge over more steps, and
 * a step costs less than the rest of a domain's bounding. Proving the maximum of random 24-16 ReLU
 * nets to 1e-4 (branch-and-bound alone): 14 inputs 4.2 s and 14,400 domains with 12 steps, 5.7 s
 * with 8, 15-26 s and 83,000 domains with 4; 20 inputs 2.5 s against 3.1 s. Not measured on the
 * 784-input MNIST nets, which keep 4.
 */
const RELU_ALPHA_ITERATIONS = 12;
const RELU_ALPHA_MAX_INPUTS = 64;

const DEFAULTS = {
  tol: 1e-4,
  timeLimitMs: Infinity,
  maxFrontier: 1_000_000,
  batchSize: 128,
  split: 'auto',
  alphaIterations: 4,
  ascentIterations: 24,
  progressIntervalMs: 200,
} as const satisfies BabOptions;

/** How often the loop yields to the event loop so that an AbortSignal can fire. */
const YIELD_INTERVAL_MS = 50;
/** Start points of the local ascent per round: the best candidates, and as many promising domains. */
const ASCENT_STARTS = 2;
/**
 * Random start points of the local ascent before the search: INITIAL_ASCENTS, fewer on large
 * networks so that the ascents cost about INITIAL_ASCENT_MACS multiply-adds (0.1 to 0.5 s).
 */
const INITIAL_ASCENTS = 32;
const INITIAL_ASCENT_MACS = 2e8;
/**
 * With a target the initial ascents only look for a point above it, beside the search portfolio
 * that does most of that work: they start from the centres and this many random points (about
 * 60 ms less per cold process on ACAS Xu).
 */
const TARGET_INITIAL_ASCENTS = 4;
/** The longest period, in rounds, between local ascents (see `ascendFrom`). */
const MAX_ASCENT_PERIOD = 16;
/**
 * alpha-CROWN costs about a third of a domain's bounding. With input splits a round gets it only
 * while it pays: while at least ALPHA_MIN_YIELD of the domains it refines are pruned thanks to it
 * (counts decayed by ALPHA_DECAY per refined round, judged once ALPHA_MIN_SAMPLE domains are
 * counted), and every ALPHA_PROBE_PERIOD-th round otherwise, to notice when it pays again. On ACAS
 * Xu it prunes 43% of the domains it refines on N4,2 property 2 (a max-min of four terms) and 4-7%
 * on property 1 (one term); the rule bounds 6-12% more domains there and takes 5-8% less time. The
 * search decides for each batch it pops, the helper's included.
 */
const ALPHA_MIN_YIELD = 0.15;
const ALPHA_MIN_SAMPLE = 64;
const ALPHA_DECAY = 0.9;
const ALPHA_PROBE_PERIOD = 8;

/**
 * The helper thread works through a queue of its own batches, popped from the same frontier:
 * up to HELPER_QUEUE in flight, so that it starts the next as soon as one ends, while this thread
 * bounds its own batches and absorbs the helper's results between them. (Handing it half of each
 * round and waiting for both halves left each thread idle for 15-25% of the time on ACAS Xu.)
 */
const HELPER_QUEUE = 3;
/** Fewest domains popped for the helper in one batch (and the frontier must hold twice as many). */
const MIN_HELPER_BATCH = 4;
/** Input mode is chosen by 'auto' up to this many inputs. */
const AUTO_INPUT_SPLIT_MAX_INPUTS = 12;

function validateOptions(o: BabOptions): void {
  const nonNegative = (name: string, v: number | undefined, isPositive: boolean, isInteger: boolean): void => {
    if (v === undefined) return;
    if (Number.isNaN(v) || v < 0 || (isPositive && v === 0) || (isInteger && !Number.isInteger(v))) {
      throw new InvalidOptionError(name, v, `${isInteger ? 'an integer' : 'a number'} ${isPositive ? '> 0' : '>= 0'}`);
    }
  };
  nonNegative('tol', o.tol, false, false);
  nonNegative('timeLimitMs', o.timeLimitMs, false, false);
  nonNegative('maxFrontier', o.maxFrontier, true, true);
  nonNegative('batchSize', o.batchSize, true, true);
  nonNegative('alphaIterations', o.alphaIterations, false, true);
  nonNegative('ascentIterations', o.ascentIterations, false, true);
  nonNegative('progressIntervalMs', o.progressIntervalMs, false, false);
  if (o.target !== undefined && Number.isNaN(o.target)) throw new InvalidOptionError('target', o.target, 'a number');
  if (o.split !== undefined && !['auto', 'input', 'relu'].includes(o.split)) {
    throw new InvalidOptionError('split', o.split, "'auto', 'input' or 'relu'");
  }
}

/**
 * Anytime branch-and-bound for the maximum over the domain of the objective (a weight vector c
 * for c . F(x), or a max-min spec). BabDomains are kept in a priority queue by upper bound; each
 * round pops the `batchSize` largest, splits each in two (the input with the largest
 * |linear-bound coefficient| x width, or the unstable ReLU with the largest intercept
 * contribution), bounds the children in one batch with CROWN (alpha-CROWN for those CROWN does
 * not prune), prunes children whose bound is <= incumbent + tol (or < target), and evaluates
 * candidates (each child's centre, the maximisers of its linear bounds, and a short local ascent
 * from the best of them) in float64 to improve the incumbent.
 *
 * The certified `upperBound` is the largest bound of any open, pruned or unsplittable domain
 * (and of any disjunct dropped from a domain), so it bounds the objective on the whole domain.
 */
export async function branchAndBound(
  graph: IrGraph,
  objective: Float64Array | MaxMinSpec,
  domain: Box | readonly Box[],
  options: BabOptions = {},
): Promise<BabResult> {
  validateOptions(options);
  const o: ResolvedOptions = { ...DEFAULTS, ...options };
  const spec = objective instanceof Float64Array ? linearSpec(objective) : objective;
  validateSpec(spec, graph.nOut);
  const boxes = Array.isArray(domain) ? (domain as readonly Box[]) : [domain as Box];
  if (boxes.length === 0) throw new InvalidOptionError('domain', 'no boxes', 'at least one box');
  for (const [i, b] of boxes.entries()) {
    if (b.lo.length !== graph.nIn || b.hi.length !== graph.nIn) throw new ShapeError(`domain box ${i}`, `${graph.nIn} inputs`, `${b.lo.length}`);
    for (let k = 0; k < graph.nIn; k++) {
      if (!Number.isFinite(b.lo[k]) || !Number.isFinite(b.hi[k]) || !(b.lo[k] <= b.hi[k])) {
        throw new InvalidOptionError(`domain box ${i} input ${k}`, `${b.lo[k]}:${b.hi[k]}`, 'finite bounds with lo <= hi');
      }
    }
  }
  let integers: Uint8Array | undefined;
  if (options.polytope !== undefined) validatePolytope(options.polytope, graph.nIn);
  if (options.integers !== undefined && options.integers.length > 0) {
    integers = new Uint8Array(graph.nIn);
    for (const k of options.integers) {
      if (!Number.isInteger(k) || k < 0 || k >= graph.nIn) throw new InvalidOptionError('integers', k, `input indices 0..${graph.nIn - 1}`);
      integers[k] = 1;
    }
  }
  const roots = integers === undefined ? boxes : integralBoxes(boxes, integers);
  const layout = reluLayout(graph);
  const split: 'input' | 'relu' =
    o.split === 'auto' ? (graph.nIn <= AUTO_INPUT_SPLIT_MAX_INPUTS || layout.total === 0 ? 'input' : 'relu') : o.split;
  if (split === 'relu' && layout.total === 0) {
    throw new InvalidOptionError('split', 'relu', "a network with ReLU or LeakyReLU units for 'relu' splitting; use 'input'");
  }
  const alphaIterations = options.alphaIterations ?? (split === 'relu' && graph.nIn <= RELU_ALPHA_MAX_INPUTS ? RELU_ALPHA_ITERATIONS : o.alphaIterations);
  const settings: BounderSettings = { split, adaptiveSplit: o.split === 'auto', alphaIterations, polytope: o.polytope, integers };
  const helper = o.helper?.({ graph, spec, settings });
  try {
    return await new BabSearch(graph, spec, o, split, layout, roots, new DomainBounder(graph, spec, settings), helper, integers).run();
  } finally {
    helper?.close();
  }
}

type ResolvedOptions = Omit<BabOptions, keyof typeof DEFAULTS> & { -readonly [K in keyof typeof DEFAULTS]: NonNullable<BabOptions[K]> };

class BabSearch {
  private readonly heap = new MaxHeap<BabDomain>();
  private incumbent: BabIncumbent | undefined;
  /** The largest bound of any pruned domain or dropped disjunct. */
  private maxClosedUb = -Infinity;
  /** The largest bound of any domain that could not be split. */
  private stalledUb = -Infinity;
  private boxesBounded = 0;
  private ascentPeriod = 1;
  private roundsSinceAscent = 0;
  private readonly t0 = now();
  private lastProgress = -Infinity;
  private lastYield = now();
  private readonly nIn: number;
  private readonly nD: number;
  /** Cost per domain bounded here (candidates and ascents included) and on the helper: moving averages, undefined before the first sample. */
  private localMsPerDomain: number | undefined;
  private remoteMsPerDomain: number | undefined;
  /** The helper's batches in flight, oldest first: their domains are out of the heap until absorbed. */
  private readonly jobs: HelperJob[] = [];
  /** When the helper finished its last batch, by `wallClock()`. */
  private helperFinishedAt = -Infinity;
  /** alpha-CROWN's record (see ALPHA_MIN_YIELD): domains refined and pruned thanks to it (decayed), rounds. */
  private alphaRefined = 0;
  private alphaPruned = 0;
  private rounds = 0;

  constructor(
    private readonly graph: IrGraph,
    private readonly spec: MaxMinSpec,
    private readonly o: ResolvedOptions,
    private readonly split: 'input' | 'relu',
    private readonly layout: ReluLayout,
    private readonly roots: readonly Box[],
    private readonly bounder: DomainBounder,
    private readonly helper: BoundingHelper | undefined,
    private readonly integers: Uint8Array | undefined,
  ) {
    this.nIn = graph.nIn;
    this.nD = spec.disjuncts.length;
  }

  async run(): Promise<BabResult> {
    const rootDomains: BabDomain[] = this.roots.map((b) => ({
      lo: Float64Array.from(b.lo),
      hi: Float64Array.from(b.hi),
      signs: new Int8Array(this.layout.total),
      live: new Uint8Array(this.nD).fill(1),
      hasReluSplits: false,
      ub: Infinity,
      splitAt: -1,
      splitKind: this.split,
    }));
    // an incumbent from the start, for pruning: the centres, and local ascents from them and
    // from random points of the roots (a fixed seed: same problem, same run)
    const rng = new Rng(1);
    const starts = rootDomains.map((d) => centre(d.lo, d.hi));
    let macs = 1; // multiply-adds of one forward pass
    for (const node of this.graph.nodes) if (node.kind === 'affine') macs += node.W.length;
    // each ascent step is about three forward passes
    const nRandom = Math.max(2, Math.min(INITIAL_ASCENTS, Math.floor(INITIAL_ASCENT_MACS / (3 * macs * Math.max(1, this.o.ascentIterations)))));
    for (let s = 0; s < nRandom; s++) {
      const d = rootDomains[s % rootDomains.length];
      starts.push(Float64Array.from(d.lo, (l, k) => rng.uniform(l, d.hi[k])));
    }
    await this.tryPoints(starts);
    if (this.o.target === undefined) {
      await this.ascendFrom(starts);
      await this.boundAndPush(rootDomains);
    } else {
      // with a target the ascents only look for a point above it, and the roots' bounds often
      // exclude it outright (most verification instances end there): bound first
      await this.boundAndPush(rootDomains);
      if (this.checkStop() === undefined) await this.ascendFrom(starts.slice(0, rootDomains.length + TARGET_INITIAL_ASCENTS));
    }
    for (;;) {
      const stop = this.checkStop();
      if (stop !== undefined) return stop;
      this.feedHelper();
      const children = this.popChildren(this.roundLimit(this.localMsPerDomain));
      if (children.length > 0) await this.boundAndPush(children);
      // the helper's finished batches; with nothing to bound here, wait for the oldest
      await this.absorbHelperJobs(children.length === 0);
      const polled = this.o.pollCandidates?.();
      if (polled !== undefined && polled.length > 0) await this.tryPoints(polled.map((p) => this.clampToBabDomain(p)));
      this.reportProgress(false);
      if (now() - this.lastYield > YIELD_INTERVAL_MS) {
        await new Promise((resolve) => setTimeout(resolve, 0));
        this.lastYield = now();
      }
    }
  }

  /**
   * Domains split this round: `batchSize`, or fewer when the measured cost per child says a full
   * round would outlast the time limit (a round is not interrupted; on 784-input networks one
   * takes seconds). At least one.
   */
  private roundLimit(msPerChild: number | undefined): number {
    const left = this.o.timeLimitMs - (now() - this.t0);
    if (!Number.isFinite(left) || msPerChild === undefined) return this.o.batchSize;
    return Math.max(1, Math.min(this.o.batchSize, Math.floor(left / (2 * msPerChild))));
  }

  /** Pops up to `limit` domains to split (closing pruned ones, setting aside unsplittable ones) and returns their children. */
  private popChildren(limit: number): BabDomain[] {
    const children: BabDomain[] = [];
    let popped = 0;
    while (popped < limit && this.heap.size > 0) {
      const d = this.heap.pop() as BabDomain;
      if (this.isPruned(d.ub)) {
        this.close(d.ub);
        continue;
      }
      if (d.splitAt < 0) {
        this.stalledUb = Math.max(this.stalledUb, d.ub);
        continue;
      }
      children.push(...this.splitBabDomain(d));
      popped++;
    }
    return children;
  }

  /**
   * Tops up the helper's queue: batches of as many domains as take it about as long as a batch
   * here (by the measured costs), while the frontier holds enough for both threads.
   */
  private feedHelper(): void {
    const helper = this.helper;
    if (helper === undefined || !helper.isReady) return;
    while (this.jobs.length < HELPER_QUEUE && this.heap.size >= 2 * MIN_HELPER_BATCH) {
      const L = this.localMsPerDomain;
      const R = this.remoteMsPerDomain;
      const share = L === undefined || R === undefined ? this.o.batchSize : Math.round((this.o.batchSize * L) / R);
      const limit = Math.min(this.roundLimit(R), Math.max(MIN_HELPER_BATCH, Math.min(share, Math.floor(this.heap.size / 2))));
      const ub = this.heap.peekKey();
      const children = this.popChildren(limit);
      if (children.length === 0) return;
      const sentAt = wallClock();
      const reply = helper.bound(children, this.pruneState()).then((out) => {
        // the helper's cost from when it could start (the send, or the end of the batch before
        // this one) to the end of its bounding: the copy of the domains to it included, which
        // its own bounding time leaves out (that made it take too large a share)
        const started = Math.max(sentAt, this.helperFinishedAt);
        this.helperFinishedAt = out.finishedAt;
        this.remoteMsPerDomain = ema(this.remoteMsPerDomain, Math.max(out.elapsedMs, out.finishedAt - started) / children.length);
        return out;
      });
      const job: HelperJob = { ub, children, reply, done: false };
      const finished = (): void => {
        job.done = true;
      };
      // also keeps a failure from being unhandled until absorbHelperJobs awaits the reply
      reply.then(finished, finished);
      this.jobs.push(job);
    }
  }

  /** Absorbs the helper's finished batches, oldest first; with `wait`, waits for the oldest one first. */
  private async absorbHelperJobs(wait: boolean): Promise<void> {
    if (this.jobs.length === 0) return;
    // the helper's replies are messages: they arrive only when this thread yields
    if (wait) await this.jobs[0].reply;
    else await yieldToEventLoop();
    while (this.jobs.length > 0 && this.jobs[0].done) {
      const job = this.jobs.shift() as HelperJob;
      await this.absorb(job.children, await job.reply);
      this.feedHelper();
    }
  }

  /** Domains on the helper. */
  private inFlightCount(): number {
    let n = 0;
    for (const j of this.jobs) n += j.children.length;
    return n;
  }

  /** The largest bound of the domains on the helper (their parents' bounds), -Infinity if none. */
  private inFlightUb(): number {
    let ub = -Infinity;
    for (const j of this.jobs) ub = Math.max(ub, j.ub);
    return ub;
  }

  /** The pruning state for a batch popped now (and whether it gets alpha-CROWN: see `alphaPays`). */
  private pruneState(): PruneState {
    return { threshold: this.threshold(), target: this.o.target, frontier: this.heap.size + this.inFlightCount(), alpha: this.alphaPays() };
  }

  private threshold(): number {
    return this.incumbent === undefined ? -Infinity : this.incumbent.value + this.o.tol;
  }

  private isPruned(ub: number): boolean {
    return ub <= this.threshold() || (this.o.target !== undefined && ub < this.o.target);
  }

  /** Records the bound of a region that leaves the search (pruned domain or dropped disjunct). */
  private close(ub: number): void {
    if (ub > this.maxClosedUb) this.maxClosedUb = ub;
  }

  private upperBound(): number {
    return Math.max(this.heap.peekKey(), this.inFlightUb(), this.maxClosedUb, this.stalledUb);
  }

  private result(status: BabStatus, targetOutcome?: 'reached' | 'excluded'): BabResult {
    this.reportProgress(true);
    const upperBound = this.upperBound();
    const inc = this.incumbent;
    return {
      status,
      ...(targetOutcome === undefined ? {} : { targetOutcome }),
      incumbent: inc,
      upperBound,
      gap: inc === undefined ? Infinity : upperBound - inc.value,
      boxesBounded: this.boxesBounded,
      frontier: this.heap.size + this.inFlightCount(),
      elapsedMs: now() - this.t0,
      split: this.split,
    };
  }

  private checkStop(): BabResult | undefined {
    const ub = this.upperBound();
    const inc = this.incumbent?.value ?? -Infinity;
    const target = this.o.target;
    if (target !== undefined && inc >= target) return this.result('target', 'reached');
    if (target !== undefined && ub < target) return this.result('target', 'excluded');
    if (ub - inc <= this.o.tol) return this.result('optimal');
    const openUb = Math.max(this.heap.peekKey(), this.inFlightUb());
    if ((this.heap.size === 0 && this.jobs.length === 0) || openUb < this.stalledUb) {
      // nothing left to split, or the largest bound is a domain that cannot be split
      return this.result(this.stalledUb > -Infinity && this.stalledUb - inc > this.o.tol ? 'stalled' : 'optimal');
    }
    if (this.heap.size + this.inFlightCount() > this.o.maxFrontier) return this.result('memory');
    if (now() - this.t0 >= this.o.timeLimitMs) return this.result('timeout');
    if (this.o.signal?.aborted) return this.result('aborted');
    return undefined;
  }

  private reportProgress(force: boolean): void {
    const cb = this.o.onProgress;
    if (cb === undefined) return;
    const t = now();
    if (!force && t - this.lastProgress < this.o.progressIntervalMs) return;
    this.lastProgress = t;
    cb({
      elapsedMs: t - this.t0,
      lowerBound: this.incumbent?.value ?? -Infinity,
      upperBound: this.upperBound(),
      frontier: this.heap.size + this.inFlightCount(),
      boxesBounded: this.boxesBounded,
    });
  }

  /** The root box nearest to p (the one holding it, when one does). */
  private rootOf(p: Float64Array): Box {
    let best = this.roots[0];
    let bestDist = Infinity;
    for (const b of this.roots) {
      let dist = 0;
      for (let k = 0; k < this.nIn; k++) dist += Math.max(b.lo[k] - p[k], 0, p[k] - b.hi[k]);
      if (dist < bestDist) {
        bestDist = dist;
        best = b;
      }
    }
    return best;
  }

  private clampToBabDomain(p: Float64Array): Float64Array {
    if (p.length !== this.nIn) throw new ShapeError('polled candidate', `${this.nIn} inputs`, `${p.length}`);
    const box = this.rootOf(p);
    const x = new Float64Array(this.nIn);
    for (let k = 0; k < this.nIn; k++) x[k] = Math.min(box.hi[k], Math.max(box.lo[k], p[k]));
    return x;
  }

  /** Evaluates points (each inside a root box) and updates the incumbent; returns their values. */
  private async tryPoints(points: readonly Float64Array[]): Promise<Float64Array> {
    if (points.length === 0) return new Float64Array(0);
    let values: Float64Array;
    if (this.o.evaluate !== undefined) {
      values = await this.o.evaluate(points);
      if (values.length !== points.length) throw new ShapeError('evaluate() result', `${points.length} values`, `${values.length}`);
    } else {
      const X = new Float64Array(points.length * this.nIn);
      points.forEach((p, i) => X.set(p, i * this.nIn));
      values = evaluateSpec(this.spec, forward64(this.graph, X, points.length), points.length);
    }
    for (let i = 0; i < points.length; i++) {
      const v = values[i];
      if (!Number.isFinite(v) || !this.inDomain(points[i])) continue;
      if (this.incumbent === undefined || v > this.incumbent.value) this.incumbent = { x: Float64Array.from(points[i]), value: v };
    }
    return values;
  }

  /** Whether p meets the linear constraints (in float64) and is integral on the integer inputs. */
  private inDomain(p: Float64Array): boolean {
    const P = this.o.polytope;
    if (P !== undefined) {
      for (let j = 0; j < P.m; j++) {
        let s = 0;
        for (let k = 0; k < this.nIn; k++) s += P.A[j * this.nIn + k] * p[k];
        if (!(s <= P.b[j])) return false;
      }
    }
    if (this.integers !== undefined) for (let k = 0; k < this.nIn; k++) if (this.integers[k] === 1 && !Number.isInteger(p[k])) return false;
    return true;
  }

  /**
   * Ascends from the best few candidates (by their `values`) and from `promising` (the candidates
   * of the domains with the largest bounds), and evaluates where that led.
   */
  private async ascendFromCandidates(points: readonly Float64Array[], values: Float64Array, promising: readonly Float64Array[]): Promise<void> {
    const order = Array.from(values.keys())
      .filter((i) => Number.isFinite(values[i]))
      .sort((a, b) => values[b] - values[a])
      .slice(0, ASCENT_STARTS);
    await this.ascendFrom([...order.map((i) => points[i]), ...promising]);
  }

  /**
   * Local ascents from the starts, run every `ascentPeriod` rounds: the period doubles (up to
   * MAX_ASCENT_PERIOD) after an ascent that does not improve the incumbent and resets after one
   * that does, so the ascents cost little once the incumbent is optimal.
   */
  private async ascendFrom(starts: readonly Float64Array[]): Promise<void> {
    if (this.o.ascentIterations <= 0 || starts.length === 0) return;
    if (++this.roundsSinceAscent < this.ascentPeriod) return;
    this.roundsSinceAscent = 0;
    const before = this.incumbent?.value ?? -Infinity;
    const ends = localAscent(this.graph, this.spec, starts, starts.map((p) => this.rootOf(p)), { iterations: this.o.ascentIterations });
    await this.tryPoints(ends);
    const isBetter = (this.incumbent?.value ?? -Infinity) > before;
    this.ascentPeriod = isBetter ? 1 : Math.min(MAX_ASCENT_PERIOD, 2 * this.ascentPeriod);
  }

  private splitBabDomain(d: BabDomain): BabDomain[] {
    // a child inherits the parent's bound, slopes and intervals (all hold on it), not its split
    const child = (lo: Float64Array, hi: Float64Array, signs: Int8Array, hasReluSplits: boolean, splits = d.splits, splitRows = d.splitRows): BabDomain => ({
      lo, hi, signs, live: Uint8Array.from(d.live), hasReluSplits, splits, splitRows, ub: d.ub, splitAt: -1, splitKind: this.split, alpha: d.alpha, beta: d.beta, intervals: d.intervals,
    });
    if (d.splitKind === 'input') {
      const k = d.splitAt;
      const at = splitPoint(d.lo[k], d.hi[k], this.integers?.[k] === 1);
      invariant(at !== undefined, () => `branch-and-bound: input ${k} of a domain cannot split: [${d.lo[k]}, ${d.hi[k]}]`);
      const aHi = Float64Array.from(d.hi);
      aHi[k] = at.left;
      const bLo = Float64Array.from(d.lo);
      bLo[k] = at.right;
      return [child(d.lo, aHi, Int8Array.from(d.signs), d.hasReluSplits), child(bLo, d.hi, Int8Array.from(d.signs), d.hasReluSplits)];
    }
    // the two children cover the parent: input >= 0 and input <= 0
    const a = Int8Array.from(d.signs);
    a[d.splitAt] = 1;
    const b = Int8Array.from(d.signs);
    b[d.splitAt] = -1;
    const splits = Int32Array.from([...(d.splits ?? []), d.splitAt]);
    return [child(d.lo, d.hi, a, true, splits, d.childRows?.[0]), child(d.lo, d.hi, b, true, splits, d.childRows?.[1])];
  }

  /** Whether the next round gets alpha-CROWN (see ALPHA_MIN_YIELD); always with ReLU splits. */
  private alphaPays(): boolean {
    if (this.split !== 'input') return true;
    this.rounds++;
    if (this.alphaRefined < ALPHA_MIN_SAMPLE || this.alphaPruned >= ALPHA_MIN_YIELD * this.alphaRefined) return true;
    return this.rounds % ALPHA_PROBE_PERIOD === 0;
  }

  /**
   * Bounds the domains as one batch on this thread, then absorbs the outcome (see `absorb`); the
   * cost per domain of both feeds the sharing with the helper.
   */
  private async boundAndPush(domains: BabDomain[]): Promise<void> {
    const t0 = now();
    const outcome = this.bounder.bound(domains, this.pruneState());
    await this.absorb(domains, outcome);
    this.localMsPerDomain = ema(this.localMsPerDomain, (now() - t0) / domains.length);
  }

  /**
   * Takes in a bounded batch (from this thread or the helper): evaluates its candidates, ascends
   * from the best and from the domains with the largest bounds, and pushes the domains not pruned.
   */
  private async absorb(domains: readonly BabDomain[], outcome: BoundOutcome): Promise<void> {
    const values = await this.tryPoints(outcome.candidates);
    this.boxesBounded += domains.length;
    if (outcome.alphaRefined > 0) {
      this.alphaRefined = ALPHA_DECAY * this.alphaRefined + outcome.alphaRefined;
      this.alphaPruned = ALPHA_DECAY * this.alphaPruned + outcome.alphaPruned;
    }
    this.close(outcome.closedUb);
    const keep = outcome.kept;
    // the maximisers of the linear bounds of the domains with the largest bounds
    const promising = [...keep]
      .sort((a, b) => b.ub - a.ub)
      .slice(0, ASCENT_STARTS)
      .map((d) => d.candidate as Float64Array);
    await this.ascendFromCandidates(outcome.candidates, values, promising);
    for (const d of keep) {
      if (this.isPruned(d.ub)) this.close(d.ub);
      else this.heap.push(d.ub, d);
    }
  }
}

/**
 * A batch on the helper thread. Its domains are out of the heap until it is absorbed, so the
 * largest bound among them (`ub`: the popped parents' bounds, which their children inherit) counts
 * in the upper bound meanwhile.
 */
interface HelperJob {
  readonly ub: number;
  readonly children: BabDomain[];
  readonly reply: Promise<BoundOutcome>;
  /** Whether the reply has settled (set before any later reaction to it runs). */
  done: boolean;
}

/** Lets the event loop run once (the helper's replies are messages): setImmediate where there is one. */
function yieldToEventLoop(): Promise<void> {
  const immediate = (globalThis as { setImmediate?: (f: () => void) => unknown }).setImmediate;
  return new Promise((resolve) => (immediate === undefined ? setTimeout(resolve, 0) : immediate(resolve)));
}

/** Exponential moving average with weight 0.3 on the new sample. */
function ema(avg: number | undefined, sample: number): number {
  return avg === undefined ? sample : 0.7 * avg + 0.3 * sample;
}

function now(): number {
  return performance.now();
}

/** The boxes with their integer inputs' bounds rounded inward (ceil lo, floor hi); boxes left without an integer there are dropped. */
function integralBoxes(boxes: readonly Box[], integers: Uint8Array): Box[] {
  const out: Box[] = [];
  for (const b of boxes) {
    const lo = Float64Array.from(b.lo);
    const hi = Float64Array.from(b.hi);
    let isEmpty = false;
    for (let k = 0; k < lo.length; k++) {
      if (integers[k] !== 1) continue;
      lo[k] = Math.ceil(lo[k]);
      hi[k] = Math.floor(hi[k]);
      if (lo[k] > hi[k]) isEmpty = true;
    }
    if (!isEmpty) out.push({ lo, hi });
  }
  if (out.length === 0) throw new InvalidOptionError('integers', 'no integer point in any box', 'boxes that hold an integer value of every integer input');
  return out;
}
