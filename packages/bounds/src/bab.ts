import { InvalidOptionError, invariant, Rng, ShapeError, type Box } from '@nnmax/core';
import { forward64, isActivation, type IrGraph, type NodeId } from '@nnmax/onnx';
import { optimiseAlpha } from './alpha.js';
import { ibpRows } from './bound-batch.js';
import { combineTerms } from './combine-terms.js';
import { analyseGraph, type GraphInfo } from './graph-info.js';
import type { IntervalBatch } from './interval-batch.js';
import { localAscent } from './local-ascent.js';
import type { ActivationBound } from './ops/activation-bound.js';
import { BOUND_OPS } from './ops/bound-ops.js';
import { MaxHeap } from './priority-queue.js';
import { backSubstitute, computeContext, gradientMagnitudes, type BoundContext } from './propagate.js';
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
  /** Domains popped and split per round (default 128). */
  readonly batchSize?: number;
  /**
   * 'input': split input boxes; 'relu': split unstable ReLUs (then inputs, once a domain has no
   * unstable ReLU left); 'auto' (default): input when nIn <= 12 or the net has no ReLU.
   */
  readonly split?: 'auto' | 'input' | 'relu';
  /**
   * alpha-CROWN steps on domains CROWN does not prune (default 4; 0 disables it). Children start
   * from their parent's optimised slopes, so a few steps per domain keep improving them.
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
   * Called every round: points found elsewhere (e.g. by a concurrent search) to try as incumbent.
   * They are clamped to the domain and evaluated like any candidate.
   */
  readonly pollCandidates?: () => readonly Float64Array[] | undefined;
}

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
/** The longest period, in rounds, between local ascents (see `ascendFrom`). */
const MAX_ASCENT_PERIOD = 16;
/** Memory for the slopes that children inherit (`Domain.alpha`); beyond it, children start afresh. */
const ALPHA_STORE_BYTES = 256 * 2 ** 20;
/** Input mode is chosen by 'auto' up to this many inputs. */
const AUTO_INPUT_SPLIT_MAX_INPUTS = 12;

interface Domain {
  readonly lo: Float64Array;
  readonly hi: Float64Array;
  /**
   * Sign constraints on the splittable neurons (`ReluLayout` order): +1 input >= 0, -1 input <= 0,
   * 0 free. ReLU splits set them; stability proven on an ancestor domain is inherited (it holds on
   * every subdomain), which spares the children the work of proving it again.
   */
  readonly signs: Int8Array;
  /** 1 for each disjunct whose bound is still above the pruning threshold. */
  readonly live: Uint8Array;
  /**
   * Whether some sign in `signs` is a ReLU split (a constraint that can make the domain empty)
   * rather than only inherited stability (a fact of a nonempty box).
   */
  readonly hasReluSplits: boolean;
  ub: number;
  /** The input (splitKind 'input') or the flat neuron ('relu') to split; -1: none can be split. */
  splitAt: number;
  /**
   * ReLU mode splits neurons until none is unstable, then inputs: with every sign fixed the
   * network is linear on the domain, but its bound (over the box, not the polyhedron that the
   * signs cut out) only converges as the box shrinks.
   */
  splitKind: 'input' | 'relu';
  /** The maximiser of the linear bound of the domain's critical row (or its centre), once bounded. */
  candidate?: Float64Array;
  /**
   * The optimised alpha-CROWN slopes of the domain's rows per activation node, `[nTerms, size]`
   * over all terms of the spec (NaN where not optimised), inherited by its children as their
   * starting point. Float32: a slope is a heuristic choice (any value in range is sound).
   */
  alpha?: ReadonlyMap<NodeId, Float32Array>;
}

/** The piecewise-linear activation nodes whose neurons may be split or inherit signs, flattened. */
interface ReluLayout {
  readonly nodes: readonly NodeId[];
  readonly offsets: readonly number[];
  readonly total: number;
}

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
 * for c . F(x), or a max-min spec). Domains are kept in a priority queue by upper bound; each
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
  const roots = Array.isArray(domain) ? (domain as readonly Box[]) : [domain as Box];
  if (roots.length === 0) throw new InvalidOptionError('domain', 'no boxes', 'at least one box');
  for (const [i, b] of roots.entries()) {
    if (b.lo.length !== graph.nIn || b.hi.length !== graph.nIn) throw new ShapeError(`domain box ${i}`, `${graph.nIn} inputs`, `${b.lo.length}`);
    for (let k = 0; k < graph.nIn; k++) {
      if (!Number.isFinite(b.lo[k]) || !Number.isFinite(b.hi[k]) || !(b.lo[k] <= b.hi[k])) {
        throw new InvalidOptionError(`domain box ${i} input ${k}`, `${b.lo[k]}:${b.hi[k]}`, 'finite bounds with lo <= hi');
      }
    }
  }
  const info = analyseGraph(graph);
  const layout = reluLayout(graph);
  const split: 'input' | 'relu' =
    o.split === 'auto' ? (graph.nIn <= AUTO_INPUT_SPLIT_MAX_INPUTS || layout.total === 0 ? 'input' : 'relu') : o.split;
  if (split === 'relu' && layout.total === 0) {
    throw new InvalidOptionError('split', 'relu', "a network with ReLU or LeakyReLU units for 'relu' splitting; use 'input'");
  }
  const search = new BabSearch(graph, info, spec, o, split, layout, roots);
  return search.run();
}

function activationOp(kind: keyof typeof BOUND_OPS): ActivationBound {
  return BOUND_OPS[kind] as unknown as ActivationBound;
}

function reluLayout(graph: IrGraph): ReluLayout {
  const nodes: NodeId[] = [];
  const offsets: number[] = [];
  let total = 0;
  for (const node of graph.nodes) {
    if (!isActivation(node) || !activationOp(node.kind).isPiecewiseLinear(node)) continue;
    nodes.push(node.id);
    offsets.push(total);
    total += node.size;
  }
  return { nodes, offsets, total };
}

type ResolvedOptions = Omit<BabOptions, keyof typeof DEFAULTS> & { -readonly [K in keyof typeof DEFAULTS]: NonNullable<BabOptions[K]> };

class BabSearch {
  private readonly heap = new MaxHeap<Domain>();
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
  /** Terms over all disjuncts of the spec. */
  private readonly nTerms: number;

  constructor(
    private readonly graph: IrGraph,
    private readonly info: GraphInfo,
    private readonly spec: MaxMinSpec,
    private readonly o: ResolvedOptions,
    private readonly split: 'input' | 'relu',
    private readonly layout: ReluLayout,
    private readonly roots: readonly Box[],
  ) {
    this.nIn = graph.nIn;
    this.nD = spec.disjuncts.length;
    this.nTerms = spec.disjuncts.reduce((t, dj) => t + dj.e.length, 0);
  }

  async run(): Promise<BabResult> {
    const rootDomains: Domain[] = this.roots.map((b) => ({
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
    await this.ascendFrom(starts);
    await this.boundAndPush(rootDomains);
    for (;;) {
      const stop = this.checkStop();
      if (stop !== undefined) return stop;
      const batch: Domain[] = [];
      while (batch.length < this.o.batchSize && this.heap.size > 0) {
        const d = this.heap.pop() as Domain;
        if (this.isPruned(d.ub)) {
          this.close(d.ub);
          continue;
        }
        if (d.splitAt < 0) {
          this.stalledUb = Math.max(this.stalledUb, d.ub);
          continue;
        }
        batch.push(d);
      }
      const children: Domain[] = [];
      for (const d of batch) children.push(...this.splitDomain(d));
      if (children.length > 0) await this.boundAndPush(children);
      const polled = this.o.pollCandidates?.();
      if (polled !== undefined && polled.length > 0) await this.tryPoints(polled.map((p) => this.clampToDomain(p)));
      this.reportProgress(false);
      if (now() - this.lastYield > YIELD_INTERVAL_MS) {
        await new Promise((resolve) => setTimeout(resolve, 0));
        this.lastYield = now();
      }
    }
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
    return Math.max(this.heap.peekKey(), this.maxClosedUb, this.stalledUb);
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
      frontier: this.heap.size,
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
    if (this.heap.size === 0 || this.heap.peekKey() < this.stalledUb) {
      // nothing left to split, or the largest bound is a domain that cannot be split
      return this.result(this.stalledUb > -Infinity && this.stalledUb - inc > this.o.tol ? 'stalled' : 'optimal');
    }
    if (this.heap.size > this.o.maxFrontier) return this.result('memory');
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
      frontier: this.heap.size,
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

  private clampToDomain(p: Float64Array): Float64Array {
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
      if (!Number.isFinite(v)) continue;
      if (this.incumbent === undefined || v > this.incumbent.value) this.incumbent = { x: Float64Array.from(points[i]), value: v };
    }
    return values;
  }

  /**
   * Evaluates the candidates, then ascends from the best few of them and from `promising` (the
   * candidates of the domains with the largest bounds), and evaluates where that led.
   */
  private async tryCandidates(points: readonly Float64Array[], promising: readonly Float64Array[]): Promise<void> {
    const values = await this.tryPoints(points);
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

  private splitDomain(d: Domain): Domain[] {
    if (d.splitKind === 'input') {
      const k = d.splitAt;
      const mid = 0.5 * d.lo[k] + 0.5 * d.hi[k];
      const aHi = Float64Array.from(d.hi);
      aHi[k] = mid;
      const bLo = Float64Array.from(d.lo);
      bLo[k] = mid;
      return [
        { lo: d.lo, hi: aHi, signs: Int8Array.from(d.signs), live: Uint8Array.from(d.live), hasReluSplits: d.hasReluSplits, ub: d.ub, splitAt: -1, splitKind: this.split, alpha: d.alpha },
        { lo: bLo, hi: d.hi, signs: Int8Array.from(d.signs), live: Uint8Array.from(d.live), hasReluSplits: d.hasReluSplits, ub: d.ub, splitAt: -1, splitKind: this.split, alpha: d.alpha },
      ];
    }
    // the two children cover the parent: input >= 0 and input <= 0
    const a = Int8Array.from(d.signs);
    a[d.splitAt] = 1;
    const b = Int8Array.from(d.signs);
    b[d.splitAt] = -1;
    return [
      { lo: d.lo, hi: d.hi, signs: a, live: Uint8Array.from(d.live), hasReluSplits: true, ub: d.ub, splitAt: -1, splitKind: this.split, alpha: d.alpha },
      { lo: d.lo, hi: d.hi, signs: b, live: Uint8Array.from(d.live), hasReluSplits: true, ub: d.ub, splitAt: -1, splitKind: this.split, alpha: d.alpha },
    ];
  }

  /** Bounds the domains as one batch, updates the incumbent, and pushes those not pruned. */
  private async boundAndPush(domains: Domain[]): Promise<void> {
    const n = domains.length;
    const nIn = this.nIn;
    const nOut = this.graph.nOut;
    const lo = new Float64Array(n * nIn); // [n, nIn]
    const hi = new Float64Array(n * nIn); // [n, nIn]
    domains.forEach((d, i) => {
      lo.set(d.lo, i * nIn);
      hi.set(d.hi, i * nIn);
    });
    let splitMap: Map<NodeId, Int8Array> | undefined;
    if (this.layout.total > 0) {
      splitMap = new Map();
      this.layout.nodes.forEach((id, t) => {
        const size = this.graph.nodes[id].size;
        const off = this.layout.offsets[t];
        const arr = new Int8Array(n * size); // [n, size]
        domains.forEach((d, i) => arr.set(d.signs.subarray(off, off + size), i * size));
        splitMap?.set(id, arr);
      });
    }
    const ctx = computeContext(this.info, lo, hi, n, { method: 'crown', splits: splitMap });
    this.boxesBounded += n;
    // rows: every term of every live disjunct of every domain; firstRow[i][k] is the first row
    // of disjunct k of domain i, or -1 when the disjunct is dropped
    const firstRow: number[][] = [];
    let nRows = 0;
    for (const d of domains) {
      firstRow.push(this.spec.disjuncts.map((dj, k) => (d.live[k] ? (nRows += dj.e.length) - dj.e.length : -1)));
    }
    const C = new Float64Array(nRows * nOut); // [nRows, nOut]
    const bias = new Float64Array(nRows);
    const rowBox = new Int32Array(nRows);
    domains.forEach((_d, i) => {
      this.spec.disjuncts.forEach((dj, k) => {
        const f = firstRow[i][k];
        if (f < 0) return;
        C.set(dj.D, f * nOut);
        bias.set(dj.e, f);
        rowBox.fill(i, f, f + dj.e.length);
      });
    });
    const record = this.split === 'relu' ? new Map<NodeId, Float64Array>() : undefined;
    const crown = backSubstitute(ctx, this.graph.output, C, rowBox, bias, { record });
    const viaIbp = ibpRows(this.info, ctx, C, bias, rowBox);
    const upper = crown.upper;
    for (let r = 0; r < nRows; r++) if (viaIbp.upper[r] < upper[r]) upper[r] = viaIbp.upper[r];
    const inputA = crown.inputA;
    const inputBias = crown.inputBias;
    // [n, nD] the bound of each disjunct (-Infinity when dropped), and the maximiser of its combined linear bound
    const disjunctUb = new Float64Array(n * this.nD);
    const combinedX: (Float64Array | undefined)[] = new Array(n * this.nD);
    const boundDisjuncts = (which: readonly number[]): void => {
      for (const i of which) this.boundDisjuncts(i, firstRow[i], upper, inputA, inputBias, lo, hi, disjunctUb, combinedX);
    };
    boundDisjuncts(Array.from(domains.keys()));
    if (this.o.alphaIterations > 0) {
      const redo = domains.flatMap((d, i) => (this.isPruned(Math.min(d.ub, this.domainUb(i, disjunctUb))) ? [] : [i]));
      if (redo.length > 0) {
        this.refineWithAlpha(ctx, domains, redo, firstRow, C, bias, rowBox, upper, inputA, inputBias);
        boundDisjuncts(redo);
      }
    }
    let smear: Float64Array | undefined; // computed once per batch, when some domain splits an input
    const smearOf = (): Float64Array => (smear ??= gradientMagnitudes(ctx, this.graph.output, C, rowBox));
    const candidates: Float64Array[] = [];
    const keep: Domain[] = [];
    domains.forEach((d, i) => {
      if (ctx.infeasible[i]) {
        // only ReLU splits can empty a domain; inherited signs hold on the whole (nonempty) box
        invariant(d.hasReluSplits, () => `bounds: a box without ReLU splits was proven empty: [${Array.from(d.lo)}] to [${Array.from(d.hi)}]`);
        return; // an empty domain: nothing to bound
      }
      d.ub = Math.min(d.ub, this.domainUb(i, disjunctUb));
      // the critical row of each live disjunct: its least upper bound; a disjunct whose bound is
      // pruned is dropped, and its bound recorded
      const critical: number[] = [];
      const corners: Float64Array[] = [];
      this.spec.disjuncts.forEach((dj, k) => {
        const f = firstRow[i][k];
        if (f < 0) return;
        if (this.isPruned(disjunctUb[i * this.nD + k])) {
          d.live[k] = 0;
          this.close(disjunctUb[i * this.nD + k]);
          return;
        }
        let best = f;
        for (let j = 1; j < dj.e.length; j++) if (upper[f + j] < upper[best]) best = f + j;
        critical.push(best);
        corners.push(combinedX[i * this.nD + k] ?? corner(inputA, best, d.lo, d.hi));
      });
      if (this.isPruned(d.ub)) {
        // no point of a pruned domain can beat the incumbent by more than tol: no candidates
        this.close(d.ub);
        return;
      }
      candidates.push(centre(d.lo, d.hi), ...corners);
      d.candidate = candidates[candidates.length - 1];
      this.inheritSigns(ctx, d, i);
      d.splitKind = this.split;
      d.splitAt = this.split === 'relu' ? this.chooseRelu(ctx, record, critical, d, i) : -1;
      if (d.splitAt < 0) {
        d.splitKind = 'input';
        d.splitAt = chooseInput(smearOf(), critical, d, nIn);
      }
      keep.push(d);
    });
    // the maximisers of the linear bounds of the domains with the largest bounds
    const promising = [...keep]
      .sort((a, b) => b.ub - a.ub)
      .slice(0, ASCENT_STARTS)
      .map((d) => d.candidate as Float64Array);
    await this.tryCandidates(candidates, promising);
    for (const d of keep) {
      if (this.isPruned(d.ub)) this.close(d.ub);
      else this.heap.push(d.ub, d);
    }
  }

  /** Upper bound of g over domain i: the largest bound of its live disjuncts. */
  private domainUb(i: number, disjunctUb: Float64Array): number {
    let g = -Infinity;
    for (let k = 0; k < this.nD; k++) g = Math.max(g, disjunctUb[i * this.nD + k]);
    return g;
  }

  /**
   * The bound of each live disjunct of domain i (-Infinity for dropped ones): the least bound of
   * its terms, or, for several terms, the bound of their best convex combination when it is less
   * (see `combineTerms`); that combination's maximiser goes to `combinedX`.
   */
  private boundDisjuncts(
    i: number,
    firsts: readonly number[],
    upper: Float64Array,
    inputA: Float64Array,
    inputBias: Float64Array,
    lo: Float64Array,
    hi: Float64Array,
    disjunctUb: Float64Array,
    combinedX: (Float64Array | undefined)[],
  ): void {
    this.spec.disjuncts.forEach((dj, k) => {
      const f = firsts[k];
      const slot = i * this.nD + k;
      if (f < 0) {
        disjunctUb[slot] = -Infinity;
        return;
      }
      let m = Infinity;
      for (let j = 0; j < dj.e.length; j++) if (upper[f + j] < m) m = upper[f + j];
      disjunctUb[slot] = m;
      combinedX[slot] = undefined;
      if (dj.e.length < 2 || this.isPruned(m) || !Number.isFinite(m)) return;
      const rows = Array.from({ length: dj.e.length }, (_, j) => f + j);
      const comb = combineTerms(inputA, inputBias, rows, lo, hi, i * this.nIn, this.nIn);
      if (comb.ub < m) {
        disjunctUb[slot] = comb.ub;
        combinedX[slot] = comb.x;
      }
    });
  }

  /** Records the signs of the splittable neurons that are stable on domain i (they stay so on its subdomains). */
  private inheritSigns(ctx: BoundContext, d: Domain, i: number): void {
    this.layout.nodes.forEach((id, t) => {
      const node = this.graph.nodes[id];
      const size = node.size;
      const inp = ctx.intervals.get(node.inputs[0]) as IntervalBatch;
      const off = this.layout.offsets[t];
      for (let j = 0; j < size; j++) {
        if (d.signs[off + j] !== 0) continue;
        if (inp.lo[i * size + j] >= 0) d.signs[off + j] = 1;
        else if (inp.hi[i * size + j] <= 0) d.signs[off + j] = -1;
      }
    });
  }

  /**
   * alpha-CROWN on the rows of the domains `redo`, starting from each domain's inherited slopes;
   * improves `upper`, `inputA` and `inputBias` in place and stores the slopes for the children.
   */
  private refineWithAlpha(
    ctx: BoundContext,
    domains: readonly Domain[],
    redo: readonly number[],
    firstRow: readonly (readonly number[])[],
    C: Float64Array,
    bias: Float64Array,
    rowBox: Int32Array,
    upper: Float64Array,
    inputA: Float64Array,
    inputBias: Float64Array,
  ): void {
    const nOut = this.graph.nOut;
    const nIn = this.nIn;
    const rows: number[] = [];
    const owner: number[] = []; // per row: its domain
    const term: number[] = []; // per row: its term's index over all terms of the spec
    for (const i of redo) {
      let g = 0;
      this.spec.disjuncts.forEach((dj, k) => {
        const f = firstRow[i][k];
        if (f >= 0) {
          for (let j = 0; j < dj.e.length; j++) {
            rows.push(f + j);
            owner.push(i);
            term.push(g + j);
          }
        }
        g += dj.e.length;
      });
    }
    // starting slopes: the inherited ones, NaN (the default) where there are none
    const init = new Map<NodeId, Float64Array>();
    rows.forEach((_r, t) => {
      const inherited = domains[owner[t]].alpha;
      if (inherited === undefined) return;
      for (const [id, arr] of inherited) {
        const size = this.graph.nodes[id].size;
        let a = init.get(id);
        if (a === undefined) {
          a = new Float64Array(rows.length * size).fill(Number.NaN);
          init.set(id, a);
        }
        a.set(arr.subarray(term[t] * size, (term[t] + 1) * size), t * size);
      }
    });
    const subC = new Float64Array(rows.length * nOut);
    const subBias = new Float64Array(rows.length);
    const subBox = new Int32Array(rows.length);
    rows.forEach((r, t) => {
      subC.set(C.subarray(r * nOut, (r + 1) * nOut), t * nOut);
      subBias[t] = bias[r];
      subBox[t] = rowBox[r];
    });
    const res = optimiseAlpha(ctx, this.graph.output, subC, subBox, subBias, { iterations: this.o.alphaIterations, init });
    this.storeAlpha(domains, rows, owner, term, res.alpha);
    rows.forEach((r, t) => {
      if (res.upper[t] < upper[r]) {
        upper[r] = res.upper[t];
        inputA.set(res.inputA.subarray(t * nIn, (t + 1) * nIn), r * nIn);
        inputBias[r] = res.inputBias[t];
      }
    });
  }

  /** Keeps each domain's optimised slopes (rows of `alpha`, `[rows, size]`) for its children, within ALPHA_STORE_BYTES. */
  private storeAlpha(domains: readonly Domain[], rows: readonly number[], owner: readonly number[], term: readonly number[], alpha: ReadonlyMap<NodeId, Float64Array>): void {
    if (alpha.size === 0) return;
    let perDomain = 0;
    for (const id of alpha.keys()) perDomain += 4 * this.nTerms * this.graph.nodes[id].size;
    if (perDomain * (this.heap.size + domains.length) > ALPHA_STORE_BYTES) return;
    const stored = new Map<number, Map<NodeId, Float32Array>>();
    rows.forEach((_r, t) => {
      const i = owner[t];
      let m = stored.get(i);
      if (m === undefined) {
        m = new Map();
        stored.set(i, m);
      }
      for (const [id, a] of alpha) {
        const size = this.graph.nodes[id].size;
        let arr = m.get(id);
        if (arr === undefined) {
          arr = new Float32Array(this.nTerms * size).fill(Number.NaN);
          m.set(id, arr);
        }
        arr.set(a.subarray(t * size, (t + 1) * size), term[t] * size);
      }
    });
    for (const [i, m] of stored) domains[i].alpha = m;
  }

  /** BaBSR-style score: the upper-line intercept an unstable ReLU contributes to the critical rows. */
  private chooseRelu(
    ctx: BoundContext,
    record: Map<NodeId, Float64Array> | undefined,
    critical: readonly number[],
    d: Domain,
    box: number,
  ): number {
    let best = -1;
    let bestScore = -Infinity;
    this.layout.nodes.forEach((id, t) => {
      const node = this.graph.nodes[id];
      const size = node.size;
      const inp = ctx.intervals.get(node.inputs[0]) as IntervalBatch;
      const coef = record?.get(id);
      const off = this.layout.offsets[t];
      for (let j = 0; j < size; j++) {
        if (d.signs[off + j] !== 0) continue;
        const l = inp.lo[box * size + j];
        const u = inp.hi[box * size + j];
        if (!(l < 0 && u > 0)) continue;
        const intercept = (-l * u) / (u - l);
        let score = 1e-9 * intercept; // tie-break: the widest relaxation
        if (coef !== undefined) {
          for (const r of critical) {
            const c = coef[r * size + j];
            score += Math.max(c, 0) * intercept + 1e-6 * Math.abs(c) * intercept;
          }
        }
        if (score > bestScore) {
          bestScore = score;
          best = off + j;
        }
      }
    });
    return best;
  }
}

/**
 * The input with the largest sum over critical rows of max |partial derivative| x sqrt(width): a
 * variant of ReluVal's smear (|partial| x width); on the ACAS Xu maximisation problems the square
 * root needs 1.1 to 2.4 times fewer domains than the width itself, and ignoring the width fails.
 * -1 if no input can be split. `smear` is `[nRows, nIn]`.
 */
function chooseInput(smear: Float64Array, critical: readonly number[], d: Domain, nIn: number): number {
  let best = -1;
  let bestScore = -Infinity;
  for (let k = 0; k < nIn; k++) {
    const w = d.hi[k] - d.lo[k];
    const mid = 0.5 * d.lo[k] + 0.5 * d.hi[k];
    if (!(mid > d.lo[k] && mid < d.hi[k])) continue;
    let score = 1e-12 * w; // tie-break: the widest input
    const sw = Math.sqrt(w);
    for (const r of critical) score += smear[r * nIn + k] * sw;
    if (score > bestScore) {
      bestScore = score;
      best = k;
    }
  }
  return best;
}

/** The midpoint of [lo, hi] in each input, clamped into it (0.5 lo + 0.5 hi can underflow out of a subnormal interval). */
function midpoint(lo: number, hi: number): number {
  const m = 0.5 * lo + 0.5 * hi;
  return m < lo ? lo : m > hi ? hi : m;
}

function centre(lo: Float64Array, hi: Float64Array): Float64Array {
  const c = new Float64Array(lo.length);
  for (let k = 0; k < c.length; k++) c[k] = midpoint(lo[k], hi[k]);
  return c;
}

/** The maximiser over the box of row r's linear bound. */
function corner(inputA: Float64Array, r: number, lo: Float64Array, hi: Float64Array): Float64Array {
  const n = lo.length;
  const x = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    const a = inputA[r * n + k];
    x[k] = a > 0 ? hi[k] : a < 0 ? lo[k] : midpoint(lo[k], hi[k]);
  }
  return x;
}

function now(): number {
  return performance.now();
}
