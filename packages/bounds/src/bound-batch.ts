import { InvalidOptionError, ShapeError, nextUp, type Box } from '@nnmax/core';
import type { IrGraph, NodeId } from '@nnmax/onnx';
import { optimiseAlpha, type AlphaOptions } from './alpha.js';
import { analyseGraph, type GraphInfo } from './graph-info.js';
import type { IntervalBatch } from './interval-batch.js';
import { backSubstitute, computeContext, type BackSubstituteResult, type BoundContext } from './propagate.js';
import { UNDERFLOW_FLOOR } from './soundness.js';
import { validateSpec, type MaxMinSpec } from './spec.js';

/** 'ibp': intervals only; 'crown': back-substitution; 'alpha-crown': CROWN with optimised slopes. */
export type BoundMethod = 'ibp' | 'crown' | 'alpha-crown';

export interface BoundOptions {
  /** Default 'crown'. */
  readonly method?: BoundMethod;
  readonly alpha?: AlphaOptions;
}

/** A batch of input boxes: `lo`, `hi` are `[nBoxes, nIn]` row-major. */
export type BoxBatch = IntervalBatch;

/** Packs boxes into a batch. */
export function boxBatch(boxes: readonly Box[]): BoxBatch {
  const nBoxes = boxes.length;
  const size = nBoxes > 0 ? boxes[0].lo.length : 0;
  const lo = new Float64Array(nBoxes * size);
  const hi = new Float64Array(nBoxes * size);
  boxes.forEach((b, i) => {
    if (b.lo.length !== size || b.hi.length !== size) throw new ShapeError(`box ${i}`, `${size} inputs`, `${b.lo.length}`);
    lo.set(b.lo, i * size);
    hi.set(b.hi, i * size);
  });
  return { nBoxes, size, lo, hi };
}

const METHODS: readonly BoundMethod[] = ['ibp', 'crown', 'alpha-crown'];

/** The method of the options (default 'crown'), after checking every option. */
function resolveMethod(options: BoundOptions): BoundMethod {
  const method = options.method ?? 'crown';
  if (!METHODS.includes(method)) throw new InvalidOptionError('method', method, "'ibp', 'crown' or 'alpha-crown'");
  const it = options.alpha?.iterations;
  if (it !== undefined && !(Number.isInteger(it) && it >= 0)) throw new InvalidOptionError('alpha.iterations', it, 'an integer >= 0');
  const lr = options.alpha?.learningRate;
  if (lr !== undefined && !(lr > 0 && Number.isFinite(lr))) throw new InvalidOptionError('alpha.learningRate', lr, 'a finite number > 0');
  return method;
}

function checkBoxes(graph: IrGraph, boxes: BoxBatch): void {
  if (boxes.size !== graph.nIn) throw new ShapeError('boxes', `${graph.nIn} inputs per box`, `${boxes.size}`);
  for (let i = 0; i < boxes.lo.length; i++) {
    const l = boxes.lo[i];
    const h = boxes.hi[i];
    if (!Number.isFinite(l) || !Number.isFinite(h) || !(l <= h)) {
      throw new InvalidOptionError(`box ${Math.floor(i / boxes.size)} input ${i % boxes.size}`, `${l}:${h}`, 'finite bounds with lo <= hi');
    }
  }
}

/**
 * Sound intervals of every node over each box (IBP): for every x in box b, every node's value
 * lies in its interval for b. A box whose arithmetic overflowed gets (-inf, inf) for every node
 * but the input.
 */
export function intervalBounds(graph: IrGraph, boxes: BoxBatch): Map<NodeId, IntervalBatch> {
  checkBoxes(graph, boxes);
  const ctx = computeContext(analyseGraph(graph), boxes.lo, boxes.hi, boxes.nBoxes, { method: 'ibp' });
  for (const [id, iv] of ctx.intervals) {
    if (id === graph.input) continue;
    for (let b = 0; b < iv.nBoxes; b++) {
      if (!ctx.overflow[b]) continue;
      iv.lo.fill(-Infinity, b * iv.size, (b + 1) * iv.size);
      iv.hi.fill(Infinity, b * iv.size, (b + 1) * iv.size);
    }
  }
  return ctx.intervals;
}

/**
 * Upper bounds of the rows C . F(x) + d over each box, for rows `C` ([nRows, nOut]) and
 * offsets `d` ([nRows]) given per box: `rowBox[r]` names the box of row r.
 */
export function boundRows(
  info: GraphInfo,
  ctx: BoundContext,
  C: Float64Array,
  d: Float64Array,
  rowBox: Int32Array,
  method: BoundMethod,
  alpha?: AlphaOptions,
): BackSubstituteResult {
  const { graph } = info;
  const viaIbp = ibpRows(info, ctx, C, d, rowBox);
  if (method === 'ibp') return viaIbp;
  const res =
    method === 'alpha-crown'
      ? optimiseAlpha(ctx, graph.output, C, rowBox, d, alpha)
      : backSubstitute(ctx, graph.output, C, rowBox, d, {});
  // both are sound, so the smaller one is too
  const upper = res.upper;
  for (let r = 0; r < upper.length; r++) if (viaIbp.upper[r] < upper[r]) upper[r] = viaIbp.upper[r];
  return res;
}

/** Rows closed over the output interval: sum_o max(C lo, C hi) + d, rounded up. */
export function ibpRows(info: GraphInfo, ctx: BoundContext, C: Float64Array, d: Float64Array, rowBox: Int32Array): BackSubstituteResult {
  const { graph, errorFactor: G } = info;
  const out = ctx.intervals.get(graph.output) as IntervalBatch;
  const nOut = graph.nOut;
  const nRows = rowBox.length;
  const upper = new Float64Array(nRows);
  for (let r = 0; r < nRows; r++) {
    const bo = rowBox[r] * nOut;
    let sum = d[r];
    let mag = Math.abs(d[r]);
    for (let o = 0; o < nOut; o++) {
      const c = C[r * nOut + o];
      const t = c >= 0 ? c * out.hi[bo + o] : c * out.lo[bo + o];
      sum += t;
      mag += Math.abs(t);
    }
    const b = rowBox[r];
    upper[r] = ctx.infeasible[b] ? -Infinity : ctx.overflow[b] ? Infinity : nextUp(sum + G * mag + UNDERFLOW_FLOOR);
  }
  return { upper, inputA: new Float64Array(nRows * graph.nIn), inputBias: Float64Array.from(upper) };
}

export interface LinearBounds {
  readonly upper: Float64Array; // [nBoxes, nRows] row-major
  readonly lower: Float64Array; // [nBoxes, nRows] row-major
}

/**
 * Certified bounds of C . F(x) + d over each box: lower <= C . F(x) + d <= upper for every x
 * in the box (exact real arithmetic on the network's float64 weights). `C` is `[nRows, nOut]`
 * row-major, `d` is `[nRows]` (default zeros).
 */
export function boundLinear(
  graph: IrGraph,
  boxes: BoxBatch,
  C: Float64Array,
  d?: Float64Array,
  options: BoundOptions = {},
): LinearBounds {
  checkBoxes(graph, boxes);
  const nOut = graph.nOut;
  if (C.length % nOut !== 0 || C.length === 0) throw new ShapeError('objective rows C', `a multiple of ${nOut} values`, `${C.length}`);
  const nSpec = C.length / nOut;
  const offsets = d ?? new Float64Array(nSpec);
  if (offsets.length !== nSpec) throw new ShapeError('objective offsets d', `${nSpec} values`, `${offsets.length}`);
  const method = resolveMethod(options);
  const info = analyseGraph(graph);
  const n = boxes.nBoxes;
  const ctx = computeContext(info, boxes.lo, boxes.hi, n, { method: method === 'ibp' ? 'ibp' : 'crown' });
  // rows: for box b, spec row i: +C_i (upper) at 2 (b nSpec + i), -C_i (lower) at 2 (b nSpec + i) + 1
  const nRows = 2 * n * nSpec;
  const rows = new Float64Array(nRows * nOut);
  const bias = new Float64Array(nRows);
  const rowBox = new Int32Array(nRows);
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < nSpec; i++) {
      const r = 2 * (b * nSpec + i);
      for (let o = 0; o < nOut; o++) {
        rows[r * nOut + o] = C[i * nOut + o];
        rows[(r + 1) * nOut + o] = -C[i * nOut + o];
      }
      bias[r] = offsets[i];
      bias[r + 1] = -offsets[i];
      rowBox[r] = b;
      rowBox[r + 1] = b;
    }
  }
  const res = boundRows(info, ctx, rows, bias, rowBox, method, options.alpha);
  const upper = new Float64Array(n * nSpec);
  const lower = new Float64Array(n * nSpec);
  for (let t = 0; t < n * nSpec; t++) {
    upper[t] = res.upper[2 * t];
    lower[t] = -res.upper[2 * t + 1];
  }
  return { upper, lower };
}

export interface MaxMinBounds {
  /** `[nBoxes]` upper bound of g(x) = max_k min_j (D_k[j] . F(x) + e_k[j]) over each box. */
  readonly upper: Float64Array;
  /** `[nBoxes, nDisjuncts]` upper bound of each disjunct's min over each box. */
  readonly disjunctUpper: Float64Array;
}

/**
 * Certified upper bounds of a max-min objective over each box. Every term is a row of one
 * backward pass; a disjunct's min is bounded by the least of its terms' upper bounds, and g by
 * the largest disjunct bound.
 */
export function boundMaxMin(graph: IrGraph, spec: MaxMinSpec, boxes: BoxBatch, options: BoundOptions = {}): MaxMinBounds {
  checkBoxes(graph, boxes);
  validateSpec(spec, graph.nOut);
  const method = resolveMethod(options);
  const info = analyseGraph(graph);
  const n = boxes.nBoxes;
  const ctx = computeContext(info, boxes.lo, boxes.hi, n, { method: method === 'ibp' ? 'ibp' : 'crown' });
  const nOut = graph.nOut;
  let perBox = 0;
  for (const dj of spec.disjuncts) perBox += dj.e.length;
  const C = new Float64Array(n * perBox * nOut);
  const bias = new Float64Array(n * perBox);
  const rowBox = new Int32Array(n * perBox);
  let r = 0;
  for (let b = 0; b < n; b++) {
    for (const dj of spec.disjuncts) {
      C.set(dj.D, r * nOut);
      bias.set(dj.e, r);
      rowBox.fill(b, r, r + dj.e.length);
      r += dj.e.length;
    }
  }
  const res = boundRows(info, ctx, C, bias, rowBox, method, options.alpha);
  const nD = spec.disjuncts.length;
  const upper = new Float64Array(n);
  const disjunctUpper = new Float64Array(n * nD);
  r = 0;
  for (let b = 0; b < n; b++) {
    let g = -Infinity;
    spec.disjuncts.forEach((dj, k) => {
      let m = Infinity;
      for (let j = 0; j < dj.e.length; j++) m = Math.min(m, res.upper[r + j]);
      r += dj.e.length;
      disjunctUpper[b * nD + k] = m;
      if (m > g) g = m;
    });
    upper[b] = g;
  }
  return { upper, disjunctUpper };
}
