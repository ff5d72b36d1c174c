import { InternalError, invariant, nextUp } from '@nnmax/core';
import { giveF64, takeF64 } from './scratch.js';
import { activationDerivative, isActivation, type IrNode, type NodeId } from '@nnmax/onnx';
import type { GraphInfo } from './graph-info.js';
import { magnitudes, type IntervalBatch } from './interval-batch.js';
import { absolute, rowsTimesMatrix, rowsTimesRowsT, rowsTimesRowsTSkipping } from './kernels.js';
import type { ActivationBound, Relaxation } from './ops/activation-bound.js';
import { BOUND_OPS, boundOpOf } from './ops/bound-ops.js';
import { UNDERFLOW_FLOOR } from './soundness.js';

/**
 * The only traversal of the bounds package: IBP in topological order, CROWN back-substitution in
 * reverse order with out-degree counting, and two passes without a soundness role (the interval
 * input gradient for branching, the relaxed forward pass for alpha-CROWN's gradient). Results
 * live in maps keyed by node id.
 */

/** Per-box ReLU split decisions: for an activation node, `[nBoxes, size]` of +1 (input >= 0), -1 (input <= 0) or 0. */
export type SplitMap = ReadonlyMap<NodeId, Int8Array>;

export interface BoundContext {
  readonly info: GraphInfo;
  readonly nBoxes: number;
  /** Sound interval of every node's output. */
  readonly intervals: Map<NodeId, IntervalBatch>;
  /** relax() of each activation node over its (final) input interval. */
  readonly relaxations: Map<NodeId, Relaxation>;
  /** [nBoxes] 1 when a box's intervals overflowed to infinity: its bounds are +-Infinity. */
  readonly overflow: Uint8Array;
  /** [nBoxes] 1 when a box's split constraints are contradictory: its domain is empty. */
  readonly infeasible: Uint8Array;
  /** Per-node data derived from final intervals by backward rules (see `BackwardOptions.memo`). */
  readonly memo: Map<string, Float64Array>;
  /** `deadNeurons` of each activation node asked for so far (undefined: none dead). */
  readonly dead: Map<NodeId, Uint8Array | undefined>;
}

export type IntermediateMethod = 'ibp' | 'crown';

export interface ContextOptions {
  /** How pre-activation intervals are computed: IBP only, or IBP tightened by CROWN (default). */
  readonly method?: IntermediateMethod;
  readonly splits?: SplitMap;
  /** Rows per back-substitution call when tightening intermediate bounds (memory cap). */
  readonly maxRowsPerPass?: number;
  /**
   * Known sound intervals of some nodes over each box's domain (e.g. an ancestor domain's, which
   * hold on its subdomains), `[nBoxes, size]`; NaN ends mean unknown. Each node's interval is
   * intersected with them before CROWN tightening.
   */
  readonly prior?: ReadonlyMap<NodeId, IntervalBatch>;
}

const DEFAULT_MAX_ROWS = 8192;

function activationOp(node: IrNode): ActivationBound {
  return BOUND_OPS[node.kind] as unknown as ActivationBound;
}

/**
 * Intervals (and relaxations) of every node for a batch of input boxes `[nBoxes, nIn]`.
 */
export function computeContext(
  info: GraphInfo,
  boxLo: Float64Array,
  boxHi: Float64Array,
  nBoxes: number,
  options: ContextOptions = {},
): BoundContext {
  const { graph } = info;
  const method = options.method ?? 'crown';
  const ctx: BoundContext = {
    info,
    nBoxes,
    intervals: new Map(),
    relaxations: new Map(),
    overflow: new Uint8Array(nBoxes),
    infeasible: new Uint8Array(nBoxes),
    memo: new Map(),
    dead: new Map(),
  };
  for (const node of graph.nodes) {
    let iv: IntervalBatch;
    if (node.kind === 'input') {
      iv = { nBoxes, size: node.size, lo: Float64Array.from(boxLo), hi: Float64Array.from(boxHi) };
    } else {
      if (isActivation(node)) {
        const input = ctx.intervals.get(node.inputs[0]) as IntervalBatch;
        ctx.relaxations.set(node.id, activationOp(node).relax(input.lo, input.hi, node as never));
      }
      const inputs = node.inputs.map((i) => ctx.intervals.get(i) as IntervalBatch);
      iv = boundOpOf(node).interval(node, inputs, info.errorFactor);
    }
    sanitize(ctx, iv, node);
    ctx.intervals.set(node.id, iv);
    if (info.activationConsumers[node.id].length === 0) continue;
    const prior = options.prior?.get(node.id);
    if (prior !== undefined) intersectPrior(iv, prior);
    if (options.splits !== undefined) applySplits(ctx, node, iv, options.splits);
    if (method === 'crown' && !isExactByIbp(ctx, node)) {
      tightenWithCrown(ctx, node, options.maxRowsPerPass ?? DEFAULT_MAX_ROWS, options.splits !== undefined);
    }
  }
  return ctx;
}

/** An affine map of the input box: IBP in centre/radius form is already exact (up to rounding). */
function isExactByIbp(ctx: BoundContext, node: IrNode): boolean {
  return node.kind === 'affine' && ctx.info.graph.nodes[node.inputs[0]].kind === 'input';
}

/**
 * Intersects a pre-activation interval with the sign constraints of its ReLU-like consumers
 * (+1: input >= 0, -1: input <= 0). The domain is the set of points of the box that satisfy every
 * constraint, so the intersection is a sound interval over it; an empty intersection proves the
 * domain empty (the box is marked infeasible and the neuron's interval set to [0, 0]).
 */
function applySplits(ctx: BoundContext, node: IrNode, iv: IntervalBatch, splits: SplitMap): void {
  const { lo, hi, size } = iv;
  for (const actId of ctx.info.activationConsumers[node.id]) {
    const split = splits.get(actId);
    if (split === undefined) continue;
    for (let i = 0; i < split.length; i++) {
      const s = split[i];
      if (s === 0) continue;
      if (s > 0) {
        if (lo[i] < 0) lo[i] = 0;
      } else if (hi[i] > 0) {
        hi[i] = 0;
      }
      if (lo[i] > hi[i]) {
        ctx.infeasible[Math.floor(i / size)] = 1;
        lo[i] = 0;
        hi[i] = 0;
      }
    }
  }
}

/** Intersects an interval with known ones (NaN: unknown). Both are sound, so the result is nonempty up to rounding; a crossing is left to the split checks. */
function intersectPrior(iv: IntervalBatch, prior: IntervalBatch): void {
  const { lo, hi } = iv;
  for (let i = 0; i < lo.length; i++) {
    const pl = prior.lo[i];
    const ph = prior.hi[i];
    if (pl > lo[i] && pl <= hi[i]) lo[i] = pl;
    if (ph < hi[i] && ph >= lo[i]) hi[i] = ph;
  }
}

/** NaN is a bug; an infinite end marks the box as overflowed and is clamped to keep arithmetic NaN-free. */
function sanitize(ctx: BoundContext, iv: IntervalBatch, node: IrNode): void {
  const { lo, hi, size } = iv;
  for (let i = 0; i < lo.length; i++) {
    const l = lo[i];
    const h = hi[i];
    if (Number.isNaN(l) || Number.isNaN(h)) {
      throw new InternalError(`bounds: NaN in the interval of node '${node.name}' (${node.kind}) at index ${i}`);
    }
    if (l === -Infinity || h === Infinity) {
      ctx.overflow[Math.floor(i / size)] = 1;
      if (l === -Infinity) lo[i] = -Number.MAX_VALUE;
      if (h === Infinity) hi[i] = Number.MAX_VALUE;
    }
  }
}

/** Tightens a pre-activation node's interval with CROWN rows (+e_j and -e_j) for neurons that need it. */
function tightenWithCrown(ctx: BoundContext, node: IrNode, maxRows: number, hasSplits: boolean): void {
  const iv = ctx.intervals.get(node.id) as IntervalBatch;
  const size = node.size;
  const acts = ctx.info.activationConsumers[node.id].map((id) => ctx.info.graph.nodes[id]);
  const picks: number[] = []; // flat index b * size + j
  for (let b = 0; b < ctx.nBoxes; b++) {
    if (ctx.overflow[b] || ctx.infeasible[b]) continue;
    for (let j = 0; j < size; j++) {
      const q = b * size + j;
      const l = iv.lo[q];
      const u = iv.hi[q];
      let settled = true;
      for (const a of acts) if (!activationOp(a).isSettled(l, u, a as never)) settled = false;
      if (!settled) picks.push(q);
    }
  }
  const perPass = Math.max(1, Math.floor(maxRows / 2));
  for (let start = 0; start < picks.length; start += perPass) {
    const chunk = picks.slice(start, start + perPass);
    const nRows = 2 * chunk.length;
    const A = new Float64Array(nRows * size);
    const rowBox = new Int32Array(nRows);
    for (let i = 0; i < chunk.length; i++) {
      const q = chunk[i];
      const b = Math.floor(q / size);
      const j = q - b * size;
      A[2 * i * size + j] = 1;
      A[(2 * i + 1) * size + j] = -1;
      rowBox[2 * i] = b;
      rowBox[2 * i + 1] = b;
    }
    const { upper } = backSubstitute(ctx, node.id, A, rowBox, undefined, {});
    for (let i = 0; i < chunk.length; i++) {
      const q = chunk[i];
      const u = upper[2 * i];
      const l = -upper[2 * i + 1];
      if (u < iv.hi[q]) iv.hi[q] = u;
      if (l > iv.lo[q]) iv.lo[q] = l;
      if (iv.lo[q] > iv.hi[q]) {
        // both ends are sound, so crossing ends prove that no point of the domain exists: only
        // split constraints can make a domain empty; otherwise it is a bug
        const b = Math.floor(q / size);
        if (!hasSplits) {
          throw new InternalError(`bounds: node '${node.name}' neuron ${q - b * size} of box ${b}: CROWN bounds [${l}, ${u}] cross the interval`);
        }
        ctx.infeasible[b] = 1;
        iv.lo[q] = 0;
        iv.hi[q] = 0;
      }
    }
  }
}

export interface BackSubstituteOptions {
  /** Optimised lower slopes per activation node, `[nRows, size]`. */
  readonly alpha?: ReadonlyMap<NodeId, Float64Array>;
  /** When given, receives the coefficients on each activation node's output, `[nRows, size]`. */
  readonly record?: Map<NodeId, Float64Array>;
  /**
   * beta-CROWN (Wang et al. 2021): per activation node, `[nRows, size]`, the split multipliers times
   * the split signs (beta s with beta >= 0, s = +1 for a split input >= 0, -1 for input <= 0, 0
   * where the neuron is not split), added to the rows' coefficients on the node's input. On a
   * domain where every split holds, s z >= 0, so the row plus sum beta s z is at least the row, and
   * its bound bounds the row (weak duality); any beta >= 0 is sound, so rounding in the sums cannot
   * break it (fl(a + beta s) - a has the sign of s or is 0).
   */
  readonly beta?: ReadonlyMap<NodeId, Float64Array>;
}

export interface BackSubstituteResult {
  /** `[nRows]` upper bound of each row over its box. */
  readonly upper: Float64Array;
  /** `[nRows, nIn]` the rows' final coefficients on the input (the linear bound). */
  readonly inputA: Float64Array;
  /** `[nRows]` constant of the final linear bound, slack included (upper = max over box of inputA . x + inputBias). */
  readonly inputBias: Float64Array;
}

/**
 * `[nBoxes, size]` 1 where activation node `id` is a constant 0 whose coefficient cannot change a
 * bound: both lines 0 and the neuron not unstable (so no alpha slope applies either). Undefined
 * when `id` is not an activation or no neuron is dead. Kept in the context (intervals are final).
 */
export function deadNeurons(ctx: BoundContext, id: NodeId): Uint8Array | undefined {
  if (ctx.dead.has(id)) return ctx.dead.get(id);
  const r = ctx.relaxations.get(id);
  let dead: Uint8Array | undefined;
  if (r !== undefined) {
    const inp = ctx.intervals.get(ctx.info.graph.nodes[id].inputs[0]) as IntervalBatch;
    const mask = new Uint8Array(r.upperSlope.length);
    let any = false;
    for (let q = 0; q < mask.length; q++) {
      if (r.upperSlope[q] !== 0 || r.upperIntercept[q] !== 0 || r.lowerSlope[q] !== 0 || r.lowerIntercept[q] !== 0) continue;
      if (inp.lo[q] < 0 && inp.hi[q] > 0) continue;
      mask[q] = 1;
      any = true;
    }
    if (any) dead = mask;
  }
  ctx.dead.set(id, dead);
  return dead;
}

/**
 * Upper bounds of the rows `A0 . value(start) + bias0` (`A0` is `[nRows, size(start)]`, row r
 * over box rowBox[r]) by back-substitution to the input. Lower bounds are upper bounds of the
 * negated rows.
 */
export function backSubstitute(
  ctx: BoundContext,
  start: NodeId,
  A0: Float64Array,
  rowBox: Int32Array,
  bias0: Float64Array | undefined,
  options: BackSubstituteOptions,
): BackSubstituteResult {
  const { info } = ctx;
  const { graph, errorFactor: G } = info;
  const nodes = graph.nodes;
  const nRows = rowBox.length;
  const anc = info.ancestors[start];
  const pending = new Int32Array(nodes.length);
  for (let id = 0; id <= start; id++) {
    if (!anc[id] || id === start) continue;
    for (const c of info.consumers[id]) if (anc[c]) pending[id]++;
  }
  const accum = new Map<NodeId, Float64Array>();
  accum.set(start, A0);
  // arrays made for this call's steps (pooled), the only ones it may recycle
  const owned = new Set<Float64Array>();
  const allocate = (n: number): Float64Array => {
    const a = takeF64(n);
    owned.add(a);
    return a;
  };
  // beta-CROWN's terms: added to the coefficients on an activation's input, in an array of this
  // call's own (never one that an op keeps, nor A0)
  const addBeta = (target: NodeId, terms: Float64Array): void => {
    const prev = accum.get(target);
    let acc = prev;
    if (acc === undefined || !owned.has(acc)) {
      acc = allocate(terms.length);
      if (prev === undefined) acc.fill(0);
      else acc.set(prev);
      accum.set(target, acc);
    }
    for (let q = 0; q < terms.length; q++) acc[q] += terms[q];
  };
  const bias = bias0 === undefined ? new Float64Array(nRows) : Float64Array.from(bias0);
  const slack = new Float64Array(nRows);
  let inputA: Float64Array | undefined;
  for (let id = start; id >= 0; id--) {
    if (!anc[id]) continue;
    const node = nodes[id];
    invariant(pending[id] === 0, () => `bounds: node '${node.name}' reached with ${pending[id]} consumers pending`);
    const A = accum.get(id);
    accum.delete(id);
    if (node.kind === 'input') {
      inputA = A;
      continue;
    }
    for (const i of node.inputs) pending[i]--;
    const betaTerms = options.beta?.get(id);
    if (A === undefined) {
      if (betaTerms !== undefined) addBeta(node.inputs[0], betaTerms);
      continue;
    }
    const recorded = options.record !== undefined && isActivation(node);
    if (recorded) options.record!.set(id, A);
    const inputs = node.inputs.map((i) => ctx.intervals.get(i) as IntervalBatch);
    const self = ctx.intervals.get(id) as IntervalBatch;
    const step = boundOpOf(node).backward(node, { nRows, size: node.size, A, rowBox }, inputs, self, {
      errorFactor: G,
      alpha: options.alpha?.get(id),
      relaxation: ctx.relaxations.get(id),
      memo: (key: string, compute: () => Float64Array): Float64Array => {
        const k = `${id}/${key}`;
        let v = ctx.memo.get(k);
        if (v === undefined) {
          v = compute();
          ctx.memo.set(k, v);
        }
        return v;
      },
      allocate,
      deadInput: node.kind === 'affine' ? deadNeurons(ctx, node.inputs[0]) : undefined,
    } as never);
    if (step.bias !== undefined || step.slack !== undefined) {
      const sb = step.bias;
      const ss = step.slack;
      for (let r = 0; r < nRows; r++) {
        if (sb !== undefined) bias[r] += sb[r];
        // the running sums' own rounding: covered by G |bias| (G >> 2u)
        slack[r] += (ss === undefined ? 0 : ss[r]) + G * Math.abs(bias[r]);
      }
    }
    const stored = new Set<Float64Array>();
    for (let k = 0; k < node.inputs.length; k++) {
      const coeff = step.inputCoeffs[k];
      if (coeff === undefined) continue;
      const target = node.inputs[k];
      const prev = accum.get(target);
      if (prev === undefined) {
        let kept = coeff;
        if (coeff === A) {
          kept = allocate(A.length);
          kept.set(A);
        }
        accum.set(target, kept);
        stored.add(kept);
      } else {
        // fan-out: adding coefficients rounds each sum by <= u |sum| (sums of subnormals are
        // exact), an error of at most u |sum| |x|max in the row, covered by G |sum| |x|max
        const mag = magnitudes(inputs[k]);
        const m = inputs[k].size;
        for (let r = 0; r < nRows; r++) {
          const ro = r * m;
          const bo = rowBox[r] * m;
          let err = 0;
          for (let t = 0; t < m; t++) {
            const v = prev[ro + t] + coeff[ro + t];
            prev[ro + t] = v;
            err += Math.abs(v) * mag[bo + t];
          }
          slack[r] += G * err;
        }
      }
    }
    // Recycle what this step leaves dead, of the arrays this call made (`owned`; never A0 or
    // anything an op keeps): A unless recorded, coefficients merged into an earlier one, and the
    // step's bias and slack, already added in. accum holds only `stored`.
    for (const a of [A, ...step.inputCoeffs, step.bias, step.slack]) {
      if (a === undefined || !owned.has(a) || stored.has(a) || (a === A && recorded)) continue;
      owned.delete(a);
      giveF64(a);
    }
    if (betaTerms !== undefined) addBeta(node.inputs[0], betaTerms);
  }
  const nIn = graph.nIn;
  const box = ctx.intervals.get(graph.input) as IntervalBatch;
  const finalA = inputA ?? new Float64Array(nRows * nIn);
  const upper = new Float64Array(nRows);
  const inputBias = new Float64Array(nRows);
  for (let r = 0; r < nRows; r++) {
    const b = rowBox[r];
    const bo = b * nIn;
    const ro = r * nIn;
    let sum = bias[r] + slack[r];
    let mag = Math.abs(bias[r]) + slack[r];
    for (let k = 0; k < nIn; k++) {
      const a = finalA[ro + k];
      const t = a >= 0 ? a * box.hi[bo + k] : a * box.lo[bo + k];
      sum += t;
      mag += Math.abs(t);
    }
    inputBias[r] = nextUp(bias[r] + slack[r]);
    if (ctx.infeasible[b]) {
      upper[r] = -Infinity;
    } else if (ctx.overflow[b]) {
      upper[r] = Infinity;
    } else {
      // sum of nIn + 2 terms: its rounding is within G |terms| (see errorFactor)
      const ub = nextUp(sum + G * mag + UNDERFLOW_FLOOR);
      if (Number.isNaN(ub)) throw new InternalError(`bounds: NaN in the bound of row ${r} (box ${b})`);
      upper[r] = ub;
    }
  }
  return { upper, inputA: finalA, inputBias };
}

/**
 * Branching heuristic, no soundness role: for each row `A0[r] . value(start)` an interval of its
 * gradient with respect to the input over the row's box, carried backward with interval
 * arithmetic (the "smear" of ReluVal, Wang et al. 2018); returns `[nRows, nIn]` the largest
 * |partial derivative| per input. Activation derivative ranges are exact for ReLU-like units and
 * sampled (ends, midpoint, 0) for smooth ones.
 */
export function gradientMagnitudes(ctx: BoundContext, start: NodeId, A0: Float64Array, rowBox: Int32Array): Float64Array {
  const { info } = ctx;
  const nodes = info.graph.nodes;
  const nRows = rowBox.length;
  const anc = info.ancestors[start];
  const pending = new Int32Array(nodes.length);
  for (let id = 0; id < start; id++) {
    if (!anc[id]) continue;
    for (const c of info.consumers[id]) if (anc[c]) pending[id]++;
  }
  const acc = new Map<NodeId, { lo: Float64Array; hi: Float64Array }>();
  acc.set(start, { lo: Float64Array.from(A0), hi: Float64Array.from(A0) });
  const give = (id: NodeId, lo: Float64Array, hi: Float64Array): void => {
    const prev = acc.get(id);
    if (prev === undefined) {
      acc.set(id, { lo, hi });
      return;
    }
    for (let i = 0; i < lo.length; i++) {
      prev.lo[i] += lo[i];
      prev.hi[i] += hi[i];
    }
  };
  const result = new Float64Array(nRows * info.graph.nIn);
  for (let id = start; id >= 0; id--) {
    if (!anc[id]) continue;
    const node = nodes[id];
    const g = acc.get(id);
    acc.delete(id);
    if (node.kind === 'input') {
      if (g !== undefined) for (let i = 0; i < result.length; i++) result[i] = Math.max(Math.abs(g.lo[i]), Math.abs(g.hi[i]));
      continue;
    }
    for (const i of node.inputs) pending[i]--;
    if (g === undefined) continue;
    const size = node.size;
    switch (node.kind) {
      case 'affine': {
        const { W, nIn } = node;
        const c = new Float64Array(nRows * size);
        const r = new Float64Array(nRows * size);
        for (let i = 0; i < c.length; i++) {
          c[i] = 0.5 * g.lo[i] + 0.5 * g.hi[i];
          r[i] = 0.5 * g.hi[i] - 0.5 * g.lo[i];
        }
        const absW = absolute(W);
        const cIn = new Float64Array(nRows * nIn);
        const rIn = new Float64Array(nRows * nIn);
        rowsTimesMatrix(c, nRows, size, W, nIn, cIn);
        rowsTimesMatrix(r, nRows, size, absW, nIn, rIn);
        for (let i = 0; i < cIn.length; i++) {
          const lo = cIn[i] - rIn[i];
          rIn[i] = cIn[i] + rIn[i];
          cIn[i] = lo;
        }
        give(node.inputs[0], cIn, rIn);
        break;
      }
      case 'add':
        for (const i of node.inputs) give(i, Float64Array.from(g.lo), Float64Array.from(g.hi));
        break;
      case 'concat': {
        let offset = 0;
        for (const i of node.inputs) {
          const m = nodes[i].size;
          const lo = new Float64Array(nRows * m);
          const hi = new Float64Array(nRows * m);
          for (let r = 0; r < nRows; r++) {
            lo.set(g.lo.subarray(r * size + offset, r * size + offset + m), r * m);
            hi.set(g.hi.subarray(r * size + offset, r * size + offset + m), r * m);
          }
          give(i, lo, hi);
          offset += m;
        }
        break;
      }
      default: {
        const inp = ctx.intervals.get(node.inputs[0]) as IntervalBatch;
        const lo = new Float64Array(nRows * size);
        const hi = new Float64Array(nRows * size);
        for (let r = 0; r < nRows; r++) {
          const bo = rowBox[r] * size;
          for (let j = 0; j < size; j++) {
            const l = inp.lo[bo + j];
            const u = inp.hi[bo + j];
            let dLo = Infinity;
            let dHi = -Infinity;
            for (const x of l < 0 && u > 0 ? [l, u, 0.5 * l + 0.5 * u, 0] : [l, u, 0.5 * l + 0.5 * u]) {
              const d = activationDerivative(node, x);
              if (d < dLo) dLo = d;
              if (d > dHi) dHi = d;
            }
            const q = r * size + j;
            const p1 = g.lo[q] * dLo;
            const p2 = g.lo[q] * dHi;
            const p3 = g.hi[q] * dLo;
            const p4 = g.hi[q] * dHi;
            lo[q] = Math.min(p1, p2, p3, p4);
            hi[q] = Math.max(p1, p2, p3, p4);
          }
        }
        give(node.inputs[0], lo, hi);
      }
    }
  }
  return result;
}

/**
 * Forward pass of each row's relaxed network at the maximiser of its linear bound: returns the
 * values `[nRows, size]` of every ancestor node. Used only for gradients (no soundness role).
 * The inputs of dead activation neurons are left 0, except for the activation nodes in `keep`
 * (beta-CROWN's gradient reads the inputs of split neurons, dead ones included).
 */
export function relaxedForward(
  ctx: BoundContext,
  start: NodeId,
  inputA: Float64Array,
  rowBox: Int32Array,
  alpha: ReadonlyMap<NodeId, Float64Array>,
  record: ReadonlyMap<NodeId, Float64Array>,
  allocate: (n: number) => Float64Array = (n) => new Float64Array(n),
  keep?: ReadonlySet<NodeId>,
): Map<NodeId, Float64Array> {
  const { graph } = ctx.info;
  const nRows = rowBox.length;
  const anc = ctx.info.ancestors[start];
  const values = new Map<NodeId, Float64Array>();
  const nIn = graph.nIn;
  const box = ctx.intervals.get(graph.input) as IntervalBatch;
  for (const node of graph.nodes) {
    if (!anc[node.id]) continue;
    const size = node.size;
    const out = allocate(nRows * size);
    switch (node.kind) {
      case 'input':
        for (let r = 0; r < nRows; r++) {
          const bo = rowBox[r] * nIn;
          for (let k = 0; k < nIn; k++) {
            const a = inputA[r * nIn + k];
            out[r * nIn + k] = a > 0 ? box.hi[bo + k] : a < 0 ? box.lo[bo + k] : 0.5 * (box.lo[bo + k] + box.hi[bo + k]);
          }
        }
        break;
      case 'affine': {
        const x = values.get(node.inputs[0]) as Float64Array;
        const { W, b, nIn: m } = node;
        // values feeding only a dead activation neuron are never read: left 0
        const consumers = ctx.info.consumers[node.id];
        const dead = consumers.length === 1 && anc[consumers[0]] && !keep?.has(consumers[0]) ? deadNeurons(ctx, consumers[0]) : undefined;
        if (dead === undefined) rowsTimesRowsT(x, nRows, W, size, m, out);
        else rowsTimesRowsTSkipping(x, nRows, m, W, size, out, { rowBox, dead });
        for (let r = 0; r < nRows; r++) for (let j = 0; j < size; j++) out[r * size + j] += b[j];
        break;
      }
      case 'add':
        for (const i of node.inputs) {
          const x = values.get(i) as Float64Array;
          for (let t = 0; t < out.length; t++) out[t] += x[t];
        }
        break;
      case 'concat': {
        let offset = 0;
        for (const i of node.inputs) {
          const x = values.get(i) as Float64Array;
          const m = graph.nodes[i].size;
          for (let r = 0; r < nRows; r++) out.set(x.subarray(r * m, (r + 1) * m), r * size + offset);
          offset += m;
        }
        break;
      }
      default: {
        const y = values.get(node.inputs[0]) as Float64Array;
        const relax = ctx.relaxations.get(node.id);
        const coef = record.get(node.id);
        const al = alpha.get(node.id);
        const inp = ctx.intervals.get(node.inputs[0]) as IntervalBatch;
        if (relax === undefined) break;
        for (let r = 0; r < nRows; r++) {
          const bo = rowBox[r] * size;
          for (let j = 0; j < size; j++) {
            const q = r * size + j;
            const c = coef === undefined ? 1 : coef[q];
            let s: number;
            let t: number;
            if (c >= 0) {
              s = relax.upperSlope[bo + j];
              t = relax.upperIntercept[bo + j];
            } else if (al !== undefined && inp.lo[bo + j] < 0 && inp.hi[bo + j] > 0) {
              s = al[q];
              t = 0;
            } else {
              s = relax.lowerSlope[bo + j];
              t = relax.lowerIntercept[bo + j];
            }
            out[q] = s * y[q] + t;
          }
        }
      }
    }
    values.set(node.id, out);
  }
  return values;
}
