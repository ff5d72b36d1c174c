import { isActivation, type NodeId } from '@nnmax/onnx';
import type { IntervalBatch } from './interval-batch.js';
import { giveF64, takeF64 } from './scratch.js';
import type { ActivationBound } from './ops/activation-bound.js';
import { BOUND_OPS } from './ops/bound-ops.js';
import { backSubstitute, relaxedForward, type BackSubstituteResult, type BoundContext } from './propagate.js';

export interface AlphaOptions {
  /** Projected-gradient steps (default 20). */
  readonly iterations?: number;
  /** Adam step size on the slopes (default 0.2), decayed by 0.95 per step. */
  readonly learningRate?: number;
  /**
   * Starting slopes per activation node, `[nRows, size]` (e.g. a parent domain's optimised ones);
   * NaN entries, and nodes or rows not given, start from the context's lower slopes.
   */
  readonly init?: ReadonlyMap<NodeId, Float64Array>;
  /**
   * A sound bound of the rows that the caller has already (their plain CROWN bound, possibly
   * tightened elsewhere): it is the starting best, in place of a CROWN pass of its own. Branch-
   * and-bound passes its CROWN rows: the pass repeated them, a fifth of alpha-CROWN's passes.
   */
  readonly crown?: BackSubstituteResult;
  /**
   * beta-CROWN (Wang et al. 2021): the split constraints of each box per activation node,
   * `[nBoxes, size]` (+1: the neuron's input >= 0, -1: <= 0, 0: not split). Their multipliers
   * (see `BackSubstituteOptions.beta`) are optimised with the slopes, from 0 or `betaInit`.
   */
  readonly splits?: ReadonlyMap<NodeId, Int8Array>;
  /** Starting multipliers per activation node, `[nRows, size]`; NaN entries, and nodes not given, start at 0. */
  readonly betaInit?: ReadonlyMap<NodeId, Float64Array>;
  /** Adam step size on the multipliers (default 0.1), decayed as the slopes' is. */
  readonly betaLearningRate?: number;
}

export interface AlphaResult extends BackSubstituteResult {
  /** The slopes of the last iterate per activation node, `[nRows, size]` (empty without iterations). */
  readonly alpha: ReadonlyMap<NodeId, Float64Array>;
  /** The split multipliers of the last iterate per activation node with splits, `[nRows, size]` (empty without iterations). */
  readonly beta: ReadonlyMap<NodeId, Float64Array>;
}

const ADAM_BETA1 = 0.9;
const ADAM_BETA2 = 0.999;
const ADAM_EPS = 1e-8;

/**
 * alpha-CROWN (Xu et al. 2021) for final rows: the lower slopes of unstable ReLU-like neurons
 * become per-row parameters, optimised by projected Adam on the rows' upper bounds. Intermediate
 * bounds stay those of the context. Every iterate is a sound bound, so the best per row is kept.
 *
 * Gradient: with line choices fixed, a row's linear bound is L(x) = C . RF(x), where RF is the
 * forward pass through the chosen lines; its bound is L(x*) at the box corner x* (Danskin), so
 * dBound/dalpha_j = (coefficient on the activation output j) * (RF pre-activation j at x*).
 * With `splits`, the same steps optimise beta-CROWN's split multipliers (Wang et al. 2021): the
 * bound of row + sum beta_j s_j z_j (see `BackSubstituteOptions.beta`) has, by the same argument,
 * dBound/dbeta_j = s_j * (RF pre-activation j at x*), and beta is projected onto beta >= 0.
 */
export function optimiseAlpha(
  ctx: BoundContext,
  start: NodeId,
  A0: Float64Array,
  rowBox: Int32Array,
  bias0: Float64Array | undefined,
  options: AlphaOptions = {},
): AlphaResult {
  const iterations = options.iterations ?? 20;
  const lr0 = options.learningRate ?? 0.2;
  const { graph } = ctx.info;
  const nRows = rowBox.length;
  const anc = ctx.info.ancestors[start];
  const alpha = new Map<NodeId, Float64Array>();
  const ranges = new Map<NodeId, readonly [number, number]>();
  for (const node of graph.nodes) {
    if (!anc[node.id] || !isActivation(node)) continue;
    const op = BOUND_OPS[node.kind] as unknown as ActivationBound;
    const range = op.alphaRange(node as never);
    if (range === undefined) continue;
    const relax = ctx.relaxations.get(node.id);
    if (relax === undefined) continue;
    const size = node.size;
    const a = new Float64Array(nRows * size);
    for (let r = 0; r < nRows; r++) a.set(relax.lowerSlope.subarray(rowBox[r] * size, (rowBox[r] + 1) * size), r * size);
    const init = options.init?.get(node.id);
    if (init !== undefined) {
      const [aLo, aHi] = range;
      for (let q = 0; q < a.length; q++) {
        const v = init[q];
        if (!Number.isNaN(v)) a[q] = v < aLo ? aLo : v > aHi ? aHi : v;
      }
    }
    alpha.set(node.id, a);
    ranges.set(node.id, range);
  }
  const betas = splitMultipliers(ctx, start, rowBox, options);
  const first = options.crown ?? backSubstitute(ctx, start, A0, rowBox, bias0, {});
  if ((alpha.size === 0 && betas.size === 0) || iterations <= 0) return { ...first, alpha: new Map(), beta: new Map() };
  const lrBeta0 = options.betaLearningRate ?? 0.1;
  const signed = new Map([...betas].map(([id, b]) => [id, b.signed]));
  const keep = new Set(betas.keys());
  const best = first;
  const bestUpper = Float64Array.from(best.upper);
  const bestA = Float64Array.from(best.inputA);
  const bestBias = Float64Array.from(best.inputBias);
  const m1 = new Map<NodeId, Float64Array>();
  const m2 = new Map<NodeId, Float64Array>();
  for (const [id, a] of alpha) {
    m1.set(id, new Float64Array(a.length));
    m2.set(id, new Float64Array(a.length));
  }
  const nIn = graph.nIn;
  const unstable = new Map<NodeId, UnstableLists>();
  for (const id of alpha.keys()) unstable.set(id, unstableLists(ctx.intervals.get(graph.nodes[id].inputs[0]) as IntervalBatch));
  for (let it = 1; it <= iterations; it++) {
    const record = new Map<NodeId, Float64Array>();
    for (const b of betas.values()) b.sign();
    const res = backSubstitute(ctx, start, A0, rowBox, bias0, { alpha, record, beta: signed });
    for (let r = 0; r < nRows; r++) {
      if (res.upper[r] < bestUpper[r]) {
        bestUpper[r] = res.upper[r];
        bestA.set(res.inputA.subarray(r * nIn, (r + 1) * nIn), r * nIn);
        bestBias[r] = res.inputBias[r];
      }
    }
    if (it === iterations) {
      recycle(res, record, A0);
      break;
    }
    const pre = relaxedForward(ctx, start, res.inputA, rowBox, alpha, record, takeF64, keep);
    const lr = lr0 * 0.95 ** (it - 1);
    const c1 = 1 - ADAM_BETA1 ** it;
    const c2 = 1 - ADAM_BETA2 ** it;
    // a multiplier's gradient is s times the relaxed network's split input at the bound's maximiser
    for (const [id, b] of betas) b.step(pre.get(graph.nodes[id].inputs[0]) as Float64Array, lrBeta0 * 0.95 ** (it - 1), c1, c2);
    for (const [id, a] of alpha) {
      const coef = record.get(id);
      if (coef === undefined) continue;
      const node = graph.nodes[id];
      const size = node.size;
      const y = pre.get(node.inputs[0]) as Float64Array;
      const [lo, hi] = ranges.get(id) as readonly [number, number];
      const mm = m1.get(id) as Float64Array;
      const vv = m2.get(id) as Float64Array;
      const { start: ustart, index: uindex } = unstable.get(id) as UnstableLists;
      for (let r = 0; r < nRows; r++) {
        const box = rowBox[r];
        // only unstable neurons have a slope to optimise (elsewhere g = 0 and the moments stay 0)
        for (let u = ustart[box]; u < ustart[box + 1]; u++) {
          const j = uindex[u];
          const q = r * size + j;
          const c = coef[q];
          const g = c < 0 ? c * y[q] : 0;
          const step = adamStep(mm, vv, q, g, lr, c1, c2);
          if (step === 0) continue;
          const v = a[q] - step;
          a[q] = v < lo ? lo : v > hi ? hi : v;
        }
      }
    }
    for (const v of pre.values()) giveF64(v);
    recycle(res, record, A0);
  }
  return { upper: bestUpper, inputA: bestA, inputBias: bestBias, alpha, beta: new Map([...betas].map(([id, b]) => [id, b.beta])) };
}

/**
 * Adam's step for gradient g on the parameter whose moments are m[i] and v[i] (updated), with the
 * bias corrections c1 = 1 - beta1^t and c2 = 1 - beta2^t; 0 while gradient and momentum are 0.
 */
function adamStep(m: Float64Array, v: Float64Array, i: number, g: number, lr: number, c1: number, c2: number): number {
  m[i] = ADAM_BETA1 * m[i] + (1 - ADAM_BETA1) * g;
  v[i] = ADAM_BETA2 * v[i] + (1 - ADAM_BETA2) * g * g;
  if (g === 0 && m[i] === 0) return 0;
  return (lr * (m[i] / c1)) / (Math.sqrt(v[i] / c2) + ADAM_EPS);
}

/** One activation node's split multipliers under optimisation (see `splitMultipliers`). */
interface SplitMultipliers {
  /** `[nRows, size]` beta >= 0 (0 where the row's box does not split the neuron). */
  readonly beta: Float64Array;
  /** `[nRows, size]` beta times the split sign, as `backSubstitute` takes it (written by `sign`). */
  readonly signed: Float64Array;
  /** Writes `signed` from `beta`. */
  sign(): void;
  /** One projected Adam step on beta, given the relaxed forward values of the node's input. */
  step(z: Float64Array, lr: number, c1: number, c2: number): void;
}

/** The multipliers of the rows' split neurons, per activation node that `start` depends on. */
function splitMultipliers(ctx: BoundContext, start: NodeId, rowBox: Int32Array, options: AlphaOptions): Map<NodeId, SplitMultipliers> {
  const out = new Map<NodeId, SplitMultipliers>();
  if (options.splits === undefined) return out;
  const anc = ctx.info.ancestors[start];
  const nRows = rowBox.length;
  for (const [id, signs] of options.splits) {
    if (!anc[id]) continue;
    const size = ctx.info.graph.nodes[id].size;
    // per row, its split neurons q = r * size + j and their signs
    const qs: number[] = [];
    const ss: number[] = [];
    for (let r = 0; r < nRows; r++) {
      const bo = rowBox[r] * size;
      for (let j = 0; j < size; j++) {
        const s = signs[bo + j];
        if (s === 0) continue;
        qs.push(r * size + j);
        ss.push(s);
      }
    }
    if (qs.length === 0) continue;
    const index = Int32Array.from(qs);
    const sgn = Int8Array.from(ss);
    const beta = new Float64Array(nRows * size);
    const init = options.betaInit?.get(id);
    if (init !== undefined) for (const q of index) if (init[q] > 0) beta[q] = init[q];
    const signed = new Float64Array(nRows * size);
    const m1 = new Float64Array(index.length);
    const m2 = new Float64Array(index.length);
    out.set(id, {
      beta,
      signed,
      sign: () => {
        for (let t = 0; t < index.length; t++) signed[index[t]] = sgn[t] * beta[index[t]];
      },
      step: (z, lr, c1, c2) => {
        for (let t = 0; t < index.length; t++) {
          const q = index[t];
          const v = beta[q] - adamStep(m1, m2, t, sgn[t] * z[q], lr, c1, c2);
          beta[q] = v > 0 ? v : 0;
        }
      },
    });
  }
  return out;
}

/**
 * Returns one iteration's dead arrays to the pool: its input coefficients (copied into the best
 * ones already) and the recorded coefficients, never the caller's A0 (recorded when the start
 * node is an activation).
 */
function recycle(res: BackSubstituteResult, record: ReadonlyMap<NodeId, Float64Array>, A0: Float64Array): void {
  const dead = new Set<Float64Array>([res.inputA, ...record.values()]);
  dead.delete(A0);
  for (const a of dead) giveF64(a);
}

/** Per box, the neurons with l < 0 < u: `index[start[b]] .. index[start[b + 1] - 1]`. */
interface UnstableLists {
  readonly start: Int32Array;
  readonly index: Int32Array;
}

function unstableLists(iv: IntervalBatch): UnstableLists {
  const { nBoxes, size, lo, hi } = iv;
  const start = new Int32Array(nBoxes + 1);
  const all: number[] = [];
  for (let b = 0; b < nBoxes; b++) {
    start[b] = all.length;
    for (let j = 0; j < size; j++) if (lo[b * size + j] < 0 && hi[b * size + j] > 0) all.push(j);
  }
  start[nBoxes] = all.length;
  return { start, index: Int32Array.from(all) };
}
