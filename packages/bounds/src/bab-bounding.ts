import { invariant } from '@nnmax/core';
import { isActivation, type IrGraph, type NodeId } from '@nnmax/onnx';
import { optimiseAlpha } from './alpha.js';
import { ibpRows } from './bound-batch.js';
import { combinedRow, combinedRowBound, combineTerms, type CombinedBound, type CombinedRow } from './combine-terms.js';
import { analyseGraph, type GraphInfo } from './graph-info.js';
import type { IntervalBatch } from './interval-batch.js';
import type { ActivationBound } from './ops/activation-bound.js';
import { BOUND_OPS } from './ops/bound-ops.js';
import { backSubstitute, computeContext, gradientMagnitudes, type BoundContext } from './propagate.js';
import { polytopeBound, rowsCuttingBox, type InputPolytope } from './polytope-bound.js';
import type { MaxMinSpec } from './spec.js';

/** Memory for the slopes that children inherit (`BabDomain.alpha`); beyond it, children start afresh. */
const ALPHA_STORE_BYTES = 256 * 2 ** 20;
/** Memory for the intervals that children inherit (`BabDomain.intervals`). */
const INTERVAL_STORE_BYTES = 256 * 2 ** 20;
/**
 * In ReLU mode chosen by 'auto' (networks with many inputs), a domain splits its inputs instead while
 * an integer input is open (the integers first, as a MILP branches), and once at most this many
 * of its inputs are free (fixed and integer inputs leave fewer free than the network has). A
 * tabular-style domain (17 inputs: 4 continuous under a row, three one-hot groups of 4, an integer
 * in 0..5; ReLU net 24-16): optimal in 1.4 s, where ReLU splits timed out at 60 s with a gap of
 * 0.96 (integer splits first alone: 0.018); the MILP oracle takes 4.8 s. Since ReLU splits carry
 * beta-CROWN multipliers and split rows, 6 rather than 12 (the number of inputs up to which 'auto'
 * picks input mode for the whole network): with 8 continuous inputs and two one-hot groups 6.9 s
 * against 16.6 s, with 10 and three groups the gap at 30 s 2.0 against 9.0; with 4 and 6
 * continuous inputs the same times (0 instead: 3.8 s against 1.8 s with 4).
 */
const RELU_MODE_INPUT_SPLIT_MAX_FREE = 6;

/** A branch-and-bound domain: a box, with sign constraints in ReLU mode. Plain data (it crosses threads). */
export interface BabDomain {
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
  /** The neurons (`ReluLayout` order) that ReLU splits constrained, in the order of the splits. */
  readonly splits?: Int32Array;
  /**
   * The optimised beta-CROWN multipliers of the splits, `[nTerms, splits.length]` over all terms of
   * the spec (0 where not optimised), inherited by its children as their starting point (their
   * own new split starts at 0). Float32: any multiplier >= 0 is sound.
   */
  beta?: Float32Array;
  /**
   * Linear rows that every point of the domain meets, one per ReLU split (newest first, shared with
   * the ancestors): see `SplitRow`. Kept on networks of at most SPLIT_ROWS_MAX_INPUTS inputs.
   */
  readonly splitRows?: SplitRow;
  /**
   * Once the domain has chosen a ReLU split: the new rows of its two children (input >= 0, then
   * input <= 0), each followed by the domain's own.
   */
  childRows?: readonly [SplitRow, SplitRow];
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
  /**
   * The domain's final intervals of each node that feeds an activation, `[2, size]` (lows, then
   * highs), inherited by its children: they hold on every subdomain, and the children's own
   * intervals are intersected with them (tighter, and fewer neurons left to tighten by CROWN).
   */
  intervals?: ReadonlyMap<NodeId, Float64Array>;
}

/**
 * A linear row a . x <= b implied by a ReLU split s z >= 0 (z the neuron's input): with CROWN's
 * linear upper bound s z(x) <= u . x + c on the split domain's box (sound, slack included),
 * 0 <= s z(x) <= u . x + c, so -u . x <= c. A row in exact arithmetic on the stored floats, so
 * the LP bound over it (`polytopeBound`) needs no tolerance. With every neuron fixed the network
 * is affine on the polyhedron these rows approximate, and the LP bound closes domains that box
 * splits only converge on. A 20-input ReLU net (24-16, a box): optimal in 3.5 s with them, where
 * without them the gap was 3.6e-4 at 120 s (the MILP oracle: 18 s). Plain data (it crosses
 * threads).
 */
export interface SplitRow {
  /** `[nIn]` */
  readonly a: Float64Array;
  readonly b: number;
  /** The rows of the earlier splits. */
  readonly next: SplitRow | undefined;
  /** Rows in the list from this one on (this one and all of `next`). */
  readonly count: number;
}

/**
 * Split rows (see `SplitRow`) are kept up to this many inputs: a row has a coefficient per input,
 * and every domain carries one per split on its path (shared in memory, copied to a helper thread).
 */
const SPLIT_ROWS_MAX_INPUTS = 64;
/**
 * Memory for split rows, counted without the sharing (a domain's rows as if its own, as they are
 * once copied to and from a helper thread); beyond it, children get no new row (their parent's
 * hold on them). The count overstates: on a 20-input net the rows added 180 MB to a peak of
 * 1.9 GB after 90 s, and at 256 MB the 14-input net of the tests took 14 s instead of 13.
 */
const SPLIT_ROW_STORE_BYTES = 2 ** 30;

/**
 * Per slot (domain i, disjunct k at i * nD + k) of a batch: the disjunct's bound (-Infinity when
 * dropped), the maximiser of the combination behind it (undefined: its critical row's corner),
 * combineTerms' multipliers, and the bound of the combined row (see `boundCombinedRows`).
 */
interface DisjunctBounds {
  readonly ub: Float64Array;
  readonly x: (Float64Array | undefined)[];
  readonly lambda: (Float64Array | undefined)[];
  readonly row: (CombinedBound | undefined)[];
}

/** A domain's linear rows as one polytope, and those that cut its box (see `DomainBounder.domainPolytope`). */
interface DomainPolytope {
  readonly p: InputPolytope;
  readonly rows: readonly number[];
}

/** The piecewise-linear activation nodes whose neurons may be split or inherit signs, flattened. */
export interface ReluLayout {
  readonly nodes: readonly NodeId[];
  readonly offsets: readonly number[];
  readonly total: number;
}

/** What a `DomainBounder` needs besides the graph and the spec: the resolved branch-and-bound settings. */
export interface BounderSettings {
  readonly split: 'input' | 'relu';
  /** In ReLU mode, whether a domain splits inputs instead by RELU_MODE_INPUT_SPLIT_MAX_FREE's rule ('auto' only). */
  readonly adaptiveSplit?: boolean;
  readonly alphaIterations: number;
  /** Linear constraints of the domain beside its boxes (see `BabOptions.polytope`). */
  readonly polytope?: InputPolytope;
  /** 1 for each input that takes integer values only (see `BabOptions.integers`), `[nIn]`. */
  readonly integers?: Uint8Array;
}

/** The pruning state at the time a batch is bounded. */
export interface PruneState {
  /** Bounds <= threshold are pruned (the incumbent plus tol; -Infinity without incumbent). */
  readonly threshold: number;
  /** Bounds < target are pruned too. */
  readonly target: number | undefined;
  /** Open domains (for the memory cap of inherited slopes). */
  readonly frontier: number;
  /** Whether the batch gets alpha-CROWN (the search decides, see `alphaPays` in bab.ts). */
  readonly alpha: boolean;
}

export interface BoundOutcome {
  /** The domains that stay open (bounded, split chosen), in batch order. */
  readonly kept: BabDomain[];
  /** Points to evaluate for the incumbent: each kept domain's centre and linear-bound maximisers. */
  readonly candidates: Float64Array[];
  /** The largest bound of what the batch closed (pruned domains, dropped disjuncts); -Infinity if none. */
  readonly closedUb: number;
  /** Domains that alpha-CROWN refined, and how many of them it pruned (CROWN alone did not). */
  readonly alphaRefined: number;
  readonly alphaPruned: number;
  /** Time spent bounding (on the thread that did it). */
  readonly elapsedMs: number;
  /** When the bounding finished, by `wallClock()` (comparable across threads). */
  readonly finishedAt: number;
}

/** Milliseconds on a clock that every thread of the process shares (timeOrigin differs per thread). */
export function wallClock(): number {
  return performance.timeOrigin + performance.now();
}

/** Everything a bounder on another thread is built from (plain data). */
export interface BounderInit {
  readonly graph: IrGraph;
  readonly spec: MaxMinSpec;
  readonly settings: BounderSettings;
}

/**
 * A `DomainBounder` on another thread (Node: a worker thread, see `nnmax/node`). Branch-and-bound
 * gives it part of each batch once it is ready and bounds the rest itself meanwhile.
 */
export interface BoundingHelper {
  readonly isReady: boolean;
  bound(domains: BabDomain[], prune: PruneState): Promise<BoundOutcome>;
  close(): void;
}

function activationOp(kind: keyof typeof BOUND_OPS): ActivationBound {
  return BOUND_OPS[kind] as unknown as ActivationBound;
}

export function reluLayout(graph: IrGraph): ReluLayout {
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

/**
 * The bounding step of branch-and-bound, free of its search state (incumbent, frontier) so that
 * the same code runs on the calling thread and on a helper thread.
 */
export class DomainBounder {
  private readonly info: GraphInfo;
  private readonly layout: ReluLayout;
  private readonly nIn: number;
  private readonly nD: number;
  /** Terms over all disjuncts of the spec. */
  private readonly nTerms: number;
  private readonly split: 'input' | 'relu';
  /** The nodes that feed an activation: their intervals are inherited by subdomains. */
  private readonly intervalNodes: readonly NodeId[];
  private prune: PruneState = { threshold: -Infinity, target: undefined, frontier: 0, alpha: true };

  constructor(
    private readonly graph: IrGraph,
    private readonly spec: MaxMinSpec,
    private readonly settings: BounderSettings,
  ) {
    this.info = analyseGraph(graph);
    this.layout = reluLayout(graph);
    this.nIn = graph.nIn;
    this.nD = spec.disjuncts.length;
    this.nTerms = spec.disjuncts.reduce((t, dj) => t + dj.e.length, 0);
    this.split = settings.split;
    this.intervalNodes = graph.nodes.filter((node) => this.info.activationConsumers[node.id].length > 0).map((node) => node.id);
  }

  /**
   * Bounds the domains as one batch (CROWN, IBP, alpha-CROWN on those not pruned, the term
   * combination), drops disjuncts and domains whose bound is pruned under `prune`, and chooses
   * each remaining domain's split. Mutates the domains it keeps.
   */
  bound(batch: BabDomain[], prune: PruneState): BoundOutcome {
    const t0 = performance.now();
    this.prune = prune;
    let closedUb = -Infinity;
    // with linear constraints (the domain's, and the split rows): the rows that cut each box; a
    // box that one row excludes is empty
    const polys: (DomainPolytope | undefined)[] = [];
    const domains = batch.filter((d) => {
      const p = this.domainPolytope(d);
      if (p === 'empty') return false;
      polys.push(p);
      return true;
    });
    const n = domains.length;
    if (n === 0) return { kept: [], candidates: [], closedUb, alphaRefined: 0, alphaPruned: 0, elapsedMs: performance.now() - t0, finishedAt: wallClock() };
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
    const ctx = computeContext(this.info, lo, hi, n, { method: 'crown', splits: splitMap, prior: this.priorIntervals(domains) });
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
    // the rows' bounds over the domain: over the box (upper, which alpha-CROWN compares its own
    // with), or less over the part of the box that meets the linear constraints
    const tight = polys.every((p) => p === undefined) ? upper : Float64Array.from(upper);
    const tighten = (which: readonly number[]): void => {
      for (const i of which) {
        const poly = polys[i];
        if (poly === undefined) continue;
        for (const [k, f] of firstRow[i].entries()) {
          if (f < 0) continue;
          for (let r = f; r < f + this.spec.disjuncts[k].e.length; r++) {
            if (upper[r] < tight[r]) tight[r] = upper[r];
            if (this.isPruned(tight[r])) continue;
            const ub = polytopeBound(inputA, r * nIn, inputBias[r], poly.p, poly.rows, lo, hi, i * nIn, nIn);
            if (ub < tight[r]) tight[r] = ub;
          }
        }
      }
    };
    const slots = n * this.nD;
    const bounds: DisjunctBounds = { ub: new Float64Array(slots), x: new Array(slots), lambda: new Array(slots), row: new Array(slots) };
    const disjunctUb = bounds.ub;
    const boundDisjuncts = (which: readonly number[]): void => {
      tighten(which);
      for (const i of which) this.boundDisjuncts(i, firstRow[i], tight, inputA, inputBias, lo, hi, bounds);
    };
    boundDisjuncts(Array.from(domains.keys()));
    this.boundCombinedRows(ctx, domains, firstRow, C, bias, bounds);
    let alphaRefined = 0;
    let alphaPruned = 0;
    if (this.settings.alphaIterations > 0 && prune.alpha) {
      const redo = domains.flatMap((d, i) => (this.isPruned(Math.min(d.ub, this.domainUb(i, disjunctUb))) ? [] : [i]));
      if (redo.length > 0) {
        this.refineWithAlpha(ctx, domains, redo, firstRow, C, bias, rowBox, upper, inputA, inputBias);
        boundDisjuncts(redo);
        alphaRefined = redo.length;
        for (const i of redo) if (this.isPruned(Math.min(domains[i].ub, this.domainUb(i, disjunctUb)))) alphaPruned++;
      }
    }
    const inputSplits: { readonly d: BabDomain; readonly critical: readonly number[]; readonly integersOnly: boolean }[] = []; // chosen after the loop
    const candidates: Float64Array[] = [];
    const kept: BabDomain[] = [];
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
          closedUb = Math.max(closedUb, disjunctUb[i * this.nD + k]);
          return;
        }
        let best = f;
        for (let j = 1; j < dj.e.length; j++) if (tight[f + j] < tight[best]) best = f + j;
        critical.push(best);
        corners.push(bounds.x[i * this.nD + k] ?? corner(inputA, best, d.lo, d.hi));
      });
      if (this.isPruned(d.ub)) {
        // no point of a pruned domain can beat the incumbent by more than tol: no candidates
        closedUb = Math.max(closedUb, d.ub);
        return;
      }
      candidates.push(centre(d.lo, d.hi), ...corners);
      d.candidate = candidates[candidates.length - 1];
      this.inheritSigns(ctx, d, i);
      d.splitKind = this.split;
      const isAdaptive = this.split === 'relu' && this.settings.adaptiveSplit === true;
      const integersFirst = isAdaptive && this.hasOpenInteger(d);
      const inputFirst = integersFirst || (isAdaptive && this.freeInputs(d) <= RELU_MODE_INPUT_SPLIT_MAX_FREE);
      d.splitAt = this.split === 'relu' && !inputFirst ? this.chooseRelu(ctx, record, critical, d, i) : -1;
      if (d.splitAt < 0) {
        d.splitKind = 'input';
        inputSplits.push({ d, critical, integersOnly: integersFirst });
      }
      kept.push(d);
    });
    this.storeIntervals(ctx, domains, kept);
    this.storeChildRows(ctx, domains, kept);
    if (inputSplits.length > 0) {
      // the smear of the critical rows only (the only ones chooseInput reads), in one batch
      const rows = [...new Set(inputSplits.flatMap((s) => s.critical))];
      const at = new Map(rows.map((r, t) => [r, t]));
      const sub = selectRows(rows, C, nOut, rowBox);
      const smear = gradientMagnitudes(ctx, this.graph.output, sub.C, sub.rowBox);
      for (const { d, critical, integersOnly } of inputSplits) {
        d.splitAt = chooseInput(smear, critical.map((r) => at.get(r) as number), d, nIn, this.settings.integers, integersOnly);
      }
    }
    return { kept, candidates, closedUb, alphaRefined, alphaPruned, elapsedMs: performance.now() - t0, finishedAt: wallClock() };
  }

  /**
   * The rows that cut domain d's box, of the domain's linear constraints and its split rows, as one
   * polytope; undefined when none cuts it, 'empty' when one row alone excludes the box.
   */
  private domainPolytope(d: BabDomain): DomainPolytope | undefined | 'empty' {
    const user = this.settings.polytope;
    const nIn = this.nIn;
    const k = d.splitRows?.count ?? 0;
    if (k === 0 && user === undefined) return undefined;
    let p: InputPolytope;
    if (k === 0) p = user!;
    else {
      const m0 = user?.m ?? 0;
      const A = new Float64Array((m0 + k) * nIn);
      const b = new Float64Array(m0 + k);
      if (user !== undefined) {
        A.set(user.A);
        b.set(user.b);
      }
      let j = m0;
      for (let row = d.splitRows; row !== undefined; row = row.next, j++) {
        A.set(row.a, j * nIn);
        b[j] = row.b;
      }
      p = { m: m0 + k, A, b };
    }
    const rows = rowsCuttingBox(p, d.lo, d.hi, 0, nIn);
    if (rows === 'empty') return 'empty';
    return rows.length === 0 ? undefined : { p, rows };
  }

  /**
   * For each kept domain that splits a ReLU, its children's split rows (see `SplitRow`): CROWN's
   * upper bounds of z and -z for the split neuron, on this domain's box, in one back-substitution
   * per activation node.
   */
  private storeChildRows(ctx: BoundContext, domains: readonly BabDomain[], kept: readonly BabDomain[]): void {
    const nIn = this.nIn;
    if (nIn > SPLIT_ROWS_MAX_INPUTS) return;
    const index = new Map(domains.map((d, i) => [d, i]));
    const byNode = new Map<NodeId, { d: BabDomain; i: number; j: number }[]>();
    for (const d of kept) {
      if (d.splitKind !== 'relu' || d.splitAt < 0) continue;
      const depth = (d.splitRows?.count ?? 0) + 1;
      if (8 * nIn * depth * (this.prune.frontier + kept.length) > SPLIT_ROW_STORE_BYTES) continue;
      const { id, j } = this.neuronAt(d.splitAt);
      orInsert(byNode, id, () => []).push({ d, i: index.get(d) as number, j });
    }
    for (const [id, list] of byNode) {
      const pre = this.graph.nodes[id].inputs[0];
      const size = this.graph.nodes[pre].size;
      const A0 = new Float64Array(2 * list.length * size);
      const rowBox = new Int32Array(2 * list.length);
      list.forEach(({ i, j }, t) => {
        A0[2 * t * size + j] = 1;
        A0[(2 * t + 1) * size + j] = -1;
        rowBox[2 * t] = i;
        rowBox[2 * t + 1] = i;
      });
      const { inputA, inputBias } = backSubstitute(ctx, pre, A0, rowBox, undefined, {});
      list.forEach(({ d }, t) => {
        // s z <= u . x + c on the box, so -u . x <= c on the child where s z >= 0
        const row = (r: number): SplitRow => ({ a: Float64Array.from(inputA.subarray(r * nIn, (r + 1) * nIn), (v) => -v), b: inputBias[r], next: d.splitRows, count: (d.splitRows?.count ?? 0) + 1 });
        d.childRows = [row(2 * t), row(2 * t + 1)];
      });
    }
  }

  /** The inherited intervals of the batch's domains, per node `[n, size]`, NaN where a domain has none. */
  private priorIntervals(domains: readonly BabDomain[]): Map<NodeId, IntervalBatch> | undefined {
    if (domains.every((d) => d.intervals === undefined)) return undefined;
    const n = domains.length;
    const prior = new Map<NodeId, IntervalBatch>();
    for (const id of this.intervalNodes) {
      const size = this.graph.nodes[id].size;
      const iv: IntervalBatch = { nBoxes: n, size, lo: new Float64Array(n * size).fill(Number.NaN), hi: new Float64Array(n * size).fill(Number.NaN) };
      domains.forEach((d, i) => {
        const own = d.intervals?.get(id);
        if (own === undefined) return;
        iv.lo.set(own.subarray(0, size), i * size);
        iv.hi.set(own.subarray(size), i * size);
      });
      prior.set(id, iv);
    }
    return prior;
  }

  /** Keeps each kept domain's final intervals for its children, within INTERVAL_STORE_BYTES. */
  private storeIntervals(ctx: BoundContext, domains: readonly BabDomain[], kept: readonly BabDomain[]): void {
    let perDomain = 0;
    for (const id of this.intervalNodes) perDomain += 16 * this.graph.nodes[id].size;
    if (perDomain === 0 || perDomain * (this.prune.frontier + kept.length) > INTERVAL_STORE_BYTES) return;
    const index = new Map(domains.map((d, i) => [d, i]));
    for (const d of kept) {
      const i = index.get(d) as number;
      const m = new Map<NodeId, Float64Array>();
      for (const id of this.intervalNodes) {
        const iv = ctx.intervals.get(id) as IntervalBatch;
        const size = iv.size;
        const arr = new Float64Array(2 * size);
        arr.set(iv.lo.subarray(i * size, (i + 1) * size));
        arr.set(iv.hi.subarray(i * size, (i + 1) * size), size);
        m.set(id, arr);
      }
      d.intervals = m;
    }
  }

  private isPruned(ub: number): boolean {
    const { threshold, target } = this.prune;
    return ub <= threshold || (target !== undefined && ub < target);
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
   * (see `combineTerms`), or the bound of the combined row (see `boundCombinedRows`) when it is
   * less still; the maximiser of the combination that gives the bound goes to `dj.x`.
   */
  private boundDisjuncts(
    i: number,
    firsts: readonly number[],
    upper: Float64Array,
    inputA: Float64Array,
    inputBias: Float64Array,
    lo: Float64Array,
    hi: Float64Array,
    dj: DisjunctBounds,
  ): void {
    this.spec.disjuncts.forEach((disjunct, k) => {
      const f = firsts[k];
      const slot = i * this.nD + k;
      if (f < 0) {
        dj.ub[slot] = -Infinity;
        return;
      }
      let m = Infinity;
      for (let j = 0; j < disjunct.e.length; j++) if (upper[f + j] < m) m = upper[f + j];
      dj.ub[slot] = m;
      dj.x[slot] = undefined;
      const row = dj.row[slot];
      if (row !== undefined && row.ub < m) {
        dj.ub[slot] = m = row.ub;
        dj.x[slot] = row.x;
      }
      if (disjunct.e.length < 2 || this.isPruned(m) || !Number.isFinite(m)) return;
      const rows = Array.from({ length: disjunct.e.length }, (_, j) => f + j);
      const comb = combineTerms(inputA, inputBias, rows, lo, hi, i * this.nIn, this.nIn);
      dj.lambda[slot] = comb.lambda;
      if (comb.ub < m) {
        dj.ub[slot] = comb.ub;
        dj.x[slot] = comb.x;
      }
    });
  }

  /**
   * CROWN on the combined row sum_j lambda_j (D_j . y + e_j) of each live disjunct whose best
   * multipliers (from `combineTerms`, in `dj.lambda`) mix several terms and whose bound is not
   * pruned: back-substituting the combination relaxes each neuron once, for the combined
   * coefficient, where combining the terms' bounds afterwards pays each term's relaxation gap.
   * Its bound over sum_j lambda_j bounds the disjunct's min_j term (see `combinedRow`). On the 90
   * ACAS Xu instances of properties 3 and 4 it cut the domains from 7,360 to 4,680; on property 2
   * the multipliers never mix, and the rows cost nothing. Updates `dj` and keeps the rows' bounds
   * in `dj.row` for `boundDisjuncts` after alpha-CROWN.
   */
  private boundCombinedRows(ctx: BoundContext, domains: readonly BabDomain[], firstRow: readonly (readonly number[])[], C: Float64Array, bias: Float64Array, dj: DisjunctBounds): void {
    const nOut = this.graph.nOut;
    const out = ctx.intervals.get(this.graph.output) as IntervalBatch;
    const slots: number[] = [];
    const rows: CombinedRow[] = [];
    domains.forEach((d, i) => {
      this.spec.disjuncts.forEach((disjunct, k) => {
        const slot = i * this.nD + k;
        const lambda = dj.lambda[slot];
        const f = firstRow[i][k];
        if (f < 0 || lambda === undefined || lambda.filter((w) => w > 0).length < 2 || this.isPruned(Math.min(d.ub, dj.ub[slot]))) return;
        const terms = Array.from({ length: disjunct.e.length }, (_, j) => f + j);
        const row = combinedRow(C, bias, terms, lambda, nOut, out.lo.subarray(i * nOut, (i + 1) * nOut), out.hi.subarray(i * nOut, (i + 1) * nOut));
        if (row === undefined) return;
        slots.push(slot);
        rows.push(row);
      });
    });
    if (rows.length === 0) return;
    const C2 = new Float64Array(rows.length * nOut);
    const e2 = new Float64Array(rows.length);
    const rowBox = new Int32Array(rows.length);
    rows.forEach((row, t) => {
      C2.set(row.c, t * nOut);
      e2[t] = row.e;
      rowBox[t] = Math.floor(slots[t] / this.nD);
    });
    const crown = backSubstitute(ctx, this.graph.output, C2, rowBox, e2, {});
    rows.forEach((row, t) => {
      const slot = slots[t];
      const d = domains[rowBox[t]];
      const ub = combinedRowBound(crown.upper[t], row);
      const bound = { ub, x: corner(crown.inputA, t, d.lo, d.hi), lambda: row.lambda };
      dj.row[slot] = bound;
      if (ub < dj.ub[slot]) {
        dj.ub[slot] = ub;
        dj.x[slot] = bound.x;
      }
    });
  }

  /** Inputs that the domain's box leaves free (lo < hi). */
  private freeInputs(d: BabDomain): number {
    let n = 0;
    for (let k = 0; k < this.nIn; k++) if (d.hi[k] > d.lo[k]) n++;
    return n;
  }

  /** Whether an integer input of the domain can still split. */
  private hasOpenInteger(d: BabDomain): boolean {
    const ints = this.settings.integers;
    if (ints === undefined) return false;
    for (let k = 0; k < this.nIn; k++) if (ints[k] === 1 && d.hi[k] - d.lo[k] >= 1) return true;
    return false;
  }

  /** Records the signs of the splittable neurons that are stable on domain i (they stay so on its subdomains). */
  private inheritSigns(ctx: BoundContext, d: BabDomain, i: number): void {
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
    domains: readonly BabDomain[],
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
        const a = orInsert(init, id, () => new Float64Array(rows.length * size).fill(Number.NaN));
        a.set(arr.subarray(term[t] * size, (term[t] + 1) * size), t * size);
      }
    });
    const sub = selectRows(rows, C, nOut, rowBox, bias);
    // the rows' CROWN bounds, computed already: alpha-CROWN starts from them
    const crown = { upper: new Float64Array(rows.length), inputA: new Float64Array(rows.length * nIn), inputBias: new Float64Array(rows.length) };
    rows.forEach((r, t) => {
      crown.upper[t] = upper[r];
      crown.inputA.set(inputA.subarray(r * nIn, (r + 1) * nIn), t * nIn);
      crown.inputBias[t] = inputBias[r];
    });
    const beta = this.splitMultipliers(domains, rows, owner, term);
    const res = optimiseAlpha(ctx, this.graph.output, sub.C, sub.rowBox, sub.bias, { iterations: this.settings.alphaIterations, init, crown, ...beta });
    this.storeAlpha(domains, rows, owner, term, res.alpha);
    this.storeBeta(domains, rows, owner, term, res.beta);
    rows.forEach((r, t) => {
      if (res.upper[t] < upper[r]) {
        upper[r] = res.upper[t];
        inputA.set(res.inputA.subarray(t * nIn, (t + 1) * nIn), r * nIn);
        inputBias[r] = res.inputBias[t];
      }
    });
  }

  /** Keeps each domain's optimised slopes (rows of `alpha`, `[rows, size]`) for its children, within ALPHA_STORE_BYTES. */
  private storeAlpha(domains: readonly BabDomain[], rows: readonly number[], owner: readonly number[], term: readonly number[], alpha: ReadonlyMap<NodeId, Float64Array>): void {
    if (alpha.size === 0) return;
    let perDomain = 0;
    for (const id of alpha.keys()) perDomain += 4 * this.nTerms * this.graph.nodes[id].size;
    if (perDomain * (this.prune.frontier + domains.length) > ALPHA_STORE_BYTES) return;
    const stored = new Map<number, Map<NodeId, Float32Array>>();
    rows.forEach((_r, t) => {
      const m = orInsert(stored, owner[t], () => new Map<NodeId, Float32Array>());
      for (const [id, a] of alpha) {
        const size = this.graph.nodes[id].size;
        const arr = orInsert(m, id, () => new Float32Array(this.nTerms * size).fill(Number.NaN));
        arr.set(a.subarray(t * size, (t + 1) * size), term[t] * size);
      }
    });
    for (const [i, m] of stored) domains[i].alpha = m;
  }

  /**
   * beta-CROWN's inputs for the rows of `refineWithAlpha`: each domain's split constraints per
   * activation node, `[nDomains, size]`, and the starting multipliers, `[nRows, size]` (the
   * inherited ones; a new split starts at 0).
   */
  private splitMultipliers(
    domains: readonly BabDomain[],
    rows: readonly number[],
    owner: readonly number[],
    term: readonly number[],
  ): { splits?: Map<NodeId, Int8Array>; betaInit?: Map<NodeId, Float64Array> } {
    if (!domains.some((d) => d.splits !== undefined && d.splits.length > 0)) return {};
    const n = domains.length;
    const splits = new Map<NodeId, Int8Array>();
    const betaInit = new Map<NodeId, Float64Array>();
    domains.forEach((d, i) => {
      d.splits?.forEach((f) => {
        const { id, j, size } = this.neuronAt(f);
        orInsert(splits, id, () => new Int8Array(n * size))[i * size + j] = d.signs[f];
      });
    });
    rows.forEach((_r, t) => {
      const d = domains[owner[t]];
      if (d.beta === undefined || d.splits === undefined) return;
      const nSplits = d.splits.length;
      // inherited from the parent: its splits are the first ones of the domain's
      const stride = d.beta.length / this.nTerms;
      for (let k = 0; k < nSplits && k < stride; k++) {
        const { id, j, size } = this.neuronAt(d.splits[k]);
        const v = d.beta[term[t] * stride + k];
        if (v > 0) orInsert(betaInit, id, () => new Float64Array(rows.length * size))[t * size + j] = v;
      }
    });
    return { splits, betaInit };
  }

  /** Keeps each domain's optimised split multipliers for its children (see `BabDomain.beta`). */
  private storeBeta(domains: readonly BabDomain[], rows: readonly number[], owner: readonly number[], term: readonly number[], beta: ReadonlyMap<NodeId, Float64Array>): void {
    if (beta.size === 0) return;
    const fresh = new Set<BabDomain>(); // a new array per domain: the inherited one is its sibling's too
    rows.forEach((_r, t) => {
      const d = domains[owner[t]];
      const splits = d.splits;
      if (splits === undefined || splits.length === 0) return;
      if (!fresh.has(d)) {
        const inherited = d.beta;
        d.beta = new Float32Array(this.nTerms * splits.length);
        if (inherited !== undefined && inherited.length === d.beta.length) d.beta.set(inherited);
        fresh.add(d);
      }
      for (let k = 0; k < splits.length; k++) {
        const { id, j, size } = this.neuronAt(splits[k]);
        const b = beta.get(id);
        d.beta![term[t] * splits.length + k] = b === undefined ? 0 : b[t * size + j];
      }
    });
  }

  /** The activation node, unit and node size of flat neuron f (`ReluLayout` order). */
  private neuronAt(f: number): { id: NodeId; j: number; size: number } {
    const { nodes, offsets } = this.layout;
    let t = nodes.length - 1;
    while (offsets[t] > f) t--;
    const id = nodes[t];
    return { id, j: f - offsets[t], size: this.graph.nodes[id].size };
  }

  /** BaBSR-style score: the upper-line intercept an unstable ReLU contributes to the critical rows. */
  private chooseRelu(
    ctx: BoundContext,
    record: Map<NodeId, Float64Array> | undefined,
    critical: readonly number[],
    d: BabDomain,
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
function chooseInput(smear: Float64Array, critical: readonly number[], d: BabDomain, nIn: number, integers: Uint8Array | undefined, integersOnly: boolean): number {
  let best = -1;
  let bestScore = -Infinity;
  for (let k = 0; k < nIn; k++) {
    if (integersOnly && integers?.[k] !== 1) continue;
    const w = d.hi[k] - d.lo[k];
    if (splitPoint(d.lo[k], d.hi[k], integers?.[k] === 1) === undefined) continue;
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

/**
 * Where an input interval splits: the children are [lo, left] and [right, hi]; undefined when it
 * cannot split. A continuous input splits at its midpoint (both children share it); an integer
 * input (integral bounds) splits between two integers, for no integer lies in between, and cannot
 * split once lo = hi.
 */
export function splitPoint(lo: number, hi: number, isInteger: boolean): { readonly left: number; readonly right: number } | undefined {
  if (isInteger) {
    if (!(hi - lo >= 1)) return undefined;
    const left = Math.min(hi - 1, Math.floor(0.5 * lo + 0.5 * hi));
    return { left, right: left + 1 };
  }
  const mid = 0.5 * lo + 0.5 * hi;
  return mid > lo && mid < hi ? { left: mid, right: mid } : undefined;
}

/** The midpoint of [lo, hi] in each input, clamped into it (0.5 lo + 0.5 hi can underflow out of a subnormal interval). */
export function midpoint(lo: number, hi: number): number {
  const m = 0.5 * lo + 0.5 * hi;
  return m < lo ? lo : m > hi ? hi : m;
}

export function centre(lo: Float64Array, hi: Float64Array): Float64Array {
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

/** Rows `rows` of a batch of rows: `C` `[*, nOut]`, their boxes and (when given) their biases. */
function selectRows(rows: readonly number[], C: Float64Array, nOut: number, rowBox: Int32Array, bias?: Float64Array): { C: Float64Array; rowBox: Int32Array; bias: Float64Array } {
  const sub = { C: new Float64Array(rows.length * nOut), rowBox: new Int32Array(rows.length), bias: new Float64Array(rows.length) };
  rows.forEach((r, t) => {
    sub.C.set(C.subarray(r * nOut, (r + 1) * nOut), t * nOut);
    sub.rowBox[t] = rowBox[r];
    if (bias !== undefined) sub.bias[t] = bias[r];
  });
  return sub;
}

/** The value of `key`, inserted from `make()` when missing. */
function orInsert<K, V>(map: Map<K, V>, key: K, make: () => V): V {
  let v = map.get(key);
  if (v === undefined) {
    v = make();
    map.set(key, v);
  }
  return v;
}
