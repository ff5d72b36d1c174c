import { clampToBox, type Box } from '@nnmax/core';
import type { IrGraph } from '@nnmax/onnx';
import { maximizeSmallLp } from './small-lp.js';
import type { MaxMinSpec } from './spec.js';

/**
 * Exact local ascent on a piecewise-linear network (affine, add, concat, ReLU and LeakyReLU
 * nodes): fix the activation pattern at the start point, and the network is one affine map on
 * the polytope of inputs with that pattern (its "linear region"). A linear programme over that
 * region and the box gives the region's best vertex. There, each neuron whose sign constraint
 * blocks the ascent (positive multiplier) is flipped in turn, and the LP over the neighbouring
 * region starts from the vertex (which lies on the boundary of both); the first flip that gains
 * moves the walk. It ends at a vertex no single flip improves, or after `maxRegions` LPs.
 *
 * Gradient steps stall on the kinks where ReLU networks peak, and black-box searches converge to
 * them slowly; the walk lands on the vertex exactly. A spec with several terms is maximised in
 * epigraph form (max t with t <= each term of the disjunct active at the start point).
 *
 * A search heuristic: the caller evaluates the returned point with the network itself.
 */
export interface RegionAscentResult {
  /** The final vertex, inside the box. */
  readonly x: Float64Array;
  /** Its value predicted by the region's affine map (the network's value up to round-off). */
  readonly value: number;
  /** LPs solved (regions visited or tried). */
  readonly regions: number;
}

/** True when the walk applies: every node is input, affine, add, concat, ReLU or LeakyReLU. */
export function isPiecewiseLinear(ir: IrGraph): boolean {
  return ir.nodes.every((n) => n.kind === 'input' || n.kind === 'affine' || n.kind === 'add' || n.kind === 'concat' || n.kind === 'relu' || n.kind === 'leakyrelu');
}

/**
 * Multiply-adds of one full propagation of the affine maps (the start of every walk): (n + 1)
 * times the affine weights. A walk's first step cannot be cut short, so callers skip the walk on
 * networks where this alone would block the thread for long.
 */
export function regionAscentCost(ir: IrGraph, nFree: number): number {
  let weights = 0;
  for (const node of ir.nodes) if (node.kind === 'affine') weights += node.W.length;
  return (nFree + 1) * weights;
}

/**
 * Views of the given lengths on one new buffer: the buffer of a typed array over 64 bytes lives
 * outside V8's heap, and allocating one costs 1-4 us in a loop (scratch.ts), a view on an existing
 * buffer under 0.1 us. A walker has three buffers per node.
 */
function views<T extends Float64Array | Int32Array>(type: { new (n: number): T }, lengths: readonly number[]): T[] {
  const all = new type(lengths.reduce((a, b) => a + b, 0));
  let o = 0;
  return lengths.map((len) => all.subarray(o, (o += len)) as T);
}

/**
 * out[oo + r] = sum over t < nnz of W[r, k] * x[xo + k] with k = nz[t] (the nonzero entries of x),
 * for r < size (W is [size, nIn] row-major). Four rows per pass share the loads of x; each sum
 * keeps the order of t. Both the propagation at a walk's start and the flips' rank-one updates
 * spend most of their time here (four rows per pass: the walk 11% faster).
 */
function sparseMatVec(W: Float64Array, nIn: number, size: number, nz: Int32Array, nnz: number, x: Float64Array, xo: number, out: Float64Array, oo: number): void {
  let r = 0;
  for (; r + 4 <= size; r += 4) {
    const w0 = r * nIn;
    const w1 = w0 + nIn;
    const w2 = w1 + nIn;
    const w3 = w2 + nIn;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    for (let t = 0; t < nnz; t++) {
      const k = nz[t];
      const v = x[xo + k];
      s0 += W[w0 + k] * v;
      s1 += W[w1 + k] * v;
      s2 += W[w2 + k] * v;
      s3 += W[w3 + k] * v;
    }
    out[oo + r] = s0;
    out[oo + r + 1] = s1;
    out[oo + r + 2] = s2;
    out[oo + r + 3] = s3;
  }
  for (; r < size; r++) {
    const wo = r * nIn;
    let s = 0;
    for (let t = 0; t < nnz; t++) {
      const k = nz[t];
      s += W[wo + k] * x[xo + k];
    }
    out[oo + r] = s;
  }
}

/** Gains below this (relative to 1 + |value|) do not move the walk. */
const MIN_GAIN = 1e-12;

/**
 * Per node, its affine map over the free inputs under a pattern: [n + 1, size] row-major, row f < n
 * the coefficients of free input f, row n the constant (so each row is one matrix-vector product
 * per affine node).
 */
type Maps = Float64Array[];
type Pattern = (Uint8Array | undefined)[];

export class RegionAscent {
  /** Indices of the box's free inputs (lo < hi). */
  private readonly free: number[] = [];
  private readonly n: number;
  /** The neuron rows of the LP, in node order: which activation node and unit each is. */
  private readonly rowNode: Int32Array;
  private readonly rowUnit: Int32Array;
  /** Per neuron row, its activation node's input node and size (read on every LP). */
  private readonly rowInput: Int32Array;
  private readonly rowSize: Int32Array;
  /** Per node, the length of its map ((n + 1) times its size). */
  private readonly mapSizes: number[];
  /** Spare per-node buffers for trial maps (swapped with the current ones on a move). */
  private spare: Maps;
  /**
   * The other buffer of each node, for the maps of a walk's current region: kept across walks
   * (undefined while a walk holds them).
   */
  private current: Maps | undefined;
  /** Per node, the vector u of a rank-one flip update; delta, the flipped unit's input row. */
  private readonly du: Float64Array[];
  private readonly delta: Float64Array;
  private readonly isAffected: Uint8Array;
  /** Indices of a vector's nonzero entries (scratch of propagateFlip, as long as the widest node). */
  private readonly nz: Int32Array;
  private readonly nTermsMax: number;
  // LP buffers, reused: A [m, dim], b [m], g [dim]
  private readonly A: Float64Array;
  private readonly b: Float64Array;
  private readonly g: Float64Array;

  constructor(
    private readonly ir: IrGraph,
    private readonly spec: MaxMinSpec,
    private readonly box: Box,
  ) {
    if (!isPiecewiseLinear(ir)) throw new Error('RegionAscent: the network is not piecewise linear');
    for (let i = 0; i < box.lo.length; i++) if (box.lo[i] < box.hi[i]) this.free.push(i);
    const n = (this.n = this.free.length);
    const rowNode: number[] = [];
    const rowUnit: number[] = [];
    const rowInput: number[] = [];
    for (const node of ir.nodes) {
      if (node.kind !== 'relu' && node.kind !== 'leakyrelu') continue;
      for (let r = 0; r < node.size; r++) {
        rowNode.push(node.id);
        rowUnit.push(r);
        rowInput.push(node.inputs[0]);
      }
    }
    this.nTermsMax = Math.max(...spec.disjuncts.map((d) => d.e.length));
    const dim = this.nTermsMax > 1 ? n + 1 : n;
    const m = rowNode.length + 2 * n + (this.nTermsMax > 1 ? this.nTermsMax : 0);
    const nNodes = ir.nodes.length;
    const widest = Math.max(1, ...ir.nodes.map((node) => (node.kind === 'affine' ? Math.max(node.size, node.nIn) : node.size)));
    // every buffer a view on one allocation per type (see views)
    this.mapSizes = ir.nodes.map((node) => (n + 1) * node.size);
    const f64 = views(Float64Array, [...this.mapSizes, ...this.mapSizes, ...ir.nodes.map((node) => node.size), n + 1, m * dim, m, dim]);
    this.spare = f64.slice(0, nNodes);
    this.current = f64.slice(nNodes, 2 * nNodes);
    this.du = f64.slice(2 * nNodes, 3 * nNodes);
    [this.delta, this.A, this.b, this.g] = f64.slice(3 * nNodes);
    const nRows = rowNode.length;
    [this.rowNode, this.rowUnit, this.rowInput, this.rowSize, this.nz] = views(Int32Array, [nRows, nRows, nRows, nRows, widest]);
    this.rowNode.set(rowNode);
    this.rowUnit.set(rowUnit);
    this.rowInput.set(rowInput);
    for (let i = 0; i < nRows; i++) this.rowSize[i] = ir.nodes[rowNode[i]].size;
    this.isAffected = new Uint8Array(nNodes);
  }

  /**
   * Walks from x0 (clamped into the box), solving at most `maxRegions` LPs and starting none after
   * `deadline` (a performance.now() time).
   */
  ascend(x0: Float64Array, maxRegions = 64, deadline = Infinity): RegionAscentResult {
    const { box, n } = this;
    const x = clampToBox(Float64Array.from(x0), box);
    const pattern: Pattern = [];
    // the buffers the last walk left (fresh ones if it never returned)
    let maps: Maps = this.current ?? views(Float64Array, this.mapSizes);
    this.current = undefined;
    this.propagate(maps, 0, pattern, x);
    if (n === 0) {
      this.current = maps;
      return { x, value: this.terms(maps, x).value, regions: 0 };
    }
    let current = this.solve(maps, pattern, x);
    let regions = 1;
    // flips of blocking neurons, largest multiplier first, until none gains
    outer: while (regions < maxRegions) {
      for (const row of current.blocking) {
        if (regions >= maxRegions || performance.now() > deadline) break outer;
        const node = this.rowNode[row];
        const flipped = pattern.slice();
        flipped[node] = pattern[node]!.slice();
        flipped[node]![this.rowUnit[row]] ^= 1;
        const trial = this.propagateFlip(maps, node, this.rowUnit[row], flipped);
        const next = this.solve(trial, flipped, current.x, current.active);
        regions++;
        if (next.value > current.value + MIN_GAIN * (1 + Math.abs(current.value))) {
          for (let id = node; id < trial.length; id++) if (trial[id] !== maps[id]) this.spare[id] = maps[id];
          maps = trial;
          for (let id = 0; id < pattern.length; id++) pattern[id] = flipped[id];
          current = next;
          continue outer;
        }
      }
      break;
    }
    this.current = maps;
    return { x: current.x, value: current.value, regions };
  }

  /**
   * The maps after flipping one unit of an activation node (already flipped in `pattern`), as a
   * rank-one update: every changed map is the current one plus u (per node) times delta (the
   * flipped unit's input row over the free inputs and the constant), and u propagates through the
   * graph linearly. Changed maps are written into the spare buffers; unchanged ones are shared.
   */
  private propagateFlip(maps: Maps, flippedNode: number, unit: number, pattern: Pattern): Maps {
    const { ir, n, du } = this;
    const trial = maps.slice();
    const at = ir.nodes[flippedNode];
    if (at.kind !== 'relu' && at.kind !== 'leakyrelu') throw new Error('RegionAscent: flip of a non-activation node');
    const S = maps[at.inputs[0]];
    const delta = this.delta;
    for (let f = 0; f <= n; f++) delta[f] = S[f * at.size + unit];
    const slope = at.kind === 'relu' ? 0 : at.alpha;
    const isAffected = this.isAffected;
    isAffected.fill(0);
    for (let id = flippedNode; id < ir.nodes.length; id++) {
      const node = ir.nodes[id];
      const u = du[id];
      const size = node.size;
      if (id === flippedNode) {
        u.fill(0);
        u[unit] = pattern[id]![unit] ? 1 - slope : slope - 1;
      } else {
        if (!node.inputs.some((i) => isAffected[i])) continue;
        switch (node.kind) {
          case 'affine': {
            // u's input is sparse after a ReLU (the units it switches off): the nonzero entries only
            const ui = du[node.inputs[0]];
            const { W, nIn } = node;
            const nz = this.nz;
            let nnz = 0;
            for (let k = 0; k < nIn; k++) if (ui[k] !== 0) nz[nnz++] = k;
            sparseMatVec(W, nIn, size, nz, nnz, ui, 0, u, 0);
            break;
          }
          case 'add':
            u.fill(0);
            for (const i of node.inputs) if (isAffected[i]) for (let r = 0; r < size; r++) u[r] += du[i][r];
            break;
          case 'concat': {
            let o = 0;
            for (const i of node.inputs) {
              const si = ir.nodes[i].size;
              if (isAffected[i]) u.set(du[i], o);
              else u.fill(0, o, o + si);
              o += si;
            }
            break;
          }
          case 'relu':
          case 'leakyrelu': {
            const ui = du[node.inputs[0]];
            const p = pattern[id]!;
            const sl = node.kind === 'relu' ? 0 : node.alpha;
            for (let r = 0; r < size; r++) u[r] = p[r] ? ui[r] : sl * ui[r];
            break;
          }
          default:
            throw new Error(`RegionAscent: node ${node.name} (${node.kind}) is not piecewise linear`);
        }
      }
      isAffected[id] = 1;
      const T = maps[id];
      const out = this.spare[id];
      out.set(T);
      const nz = this.nz;
      let nnz = 0;
      for (let r = 0; r < size; r++) if (u[r] !== 0) nz[nnz++] = r;
      for (let f = 0; f <= n; f++) {
        const o = f * size;
        const df = delta[f];
        if (df === 0) continue;
        for (let t = 0; t < nnz; t++) {
          const r = nz[t];
          out[o + r] += u[r] * df;
        }
      }
      trial[id] = out;
    }
    return trial;
  }

  /**
   * Writes the affine maps of nodes `from`.. under the pattern; with x, the pattern of those
   * nodes is first set from the signs at x.
   */
  private propagate(maps: Maps, from: number, pattern: Pattern, x: Float64Array | undefined): void {
    const { ir, free, n, box } = this;
    const z = x && Float64Array.from(free, (i) => x[i]);
    for (let id = from; id < ir.nodes.length; id++) {
      const node = ir.nodes[id];
      const T = maps[id];
      const size = node.size;
      switch (node.kind) {
        case 'input':
          T.fill(0);
          for (let i = 0; i < size; i++) T[n * size + i] = box.lo[i] === box.hi[i] ? box.lo[i] : 0;
          free.forEach((i, f) => (T[f * size + i] = 1));
          break;
        case 'affine': {
          // the input's columns that are not all zero (after a ReLU, the units it switches off are)
          const S = maps[node.inputs[0]];
          const { W, nIn } = node;
          const nz = this.nz;
          let nnz = 0;
          for (let k = 0; k < nIn; k++) {
            for (let f = 0; f <= n; f++) {
              if (S[f * nIn + k] !== 0) {
                nz[nnz++] = k;
                break;
              }
            }
          }
          for (let f = 0; f <= n; f++) sparseMatVec(W, nIn, size, nz, nnz, S, f * nIn, T, f * size);
          for (let r = 0; r < size; r++) T[n * size + r] += node.b[r];
          break;
        }
        case 'add':
          T.fill(0);
          for (const i of node.inputs) {
            const S = maps[i];
            for (let j = 0; j < T.length; j++) T[j] += S[j];
          }
          break;
        case 'concat': {
          let o = 0;
          for (const i of node.inputs) {
            const S = maps[i];
            const si = ir.nodes[i].size;
            for (let f = 0; f <= n; f++) T.set(S.subarray(f * si, (f + 1) * si), f * size + o);
            o += si;
          }
          break;
        }
        case 'relu':
        case 'leakyrelu': {
          const S = maps[node.inputs[0]];
          if (z) {
            const p = new Uint8Array(size);
            for (let r = 0; r < size; r++) {
              let v = S[n * size + r];
              for (let f = 0; f < n; f++) v += S[f * size + r] * z[f];
              p[r] = v > 0 ? 1 : 0;
            }
            pattern[id] = p;
          }
          const p = pattern[id]!;
          const slope = node.kind === 'relu' ? 0 : node.alpha;
          for (let f = 0; f <= n; f++) {
            const o = f * size;
            for (let r = 0; r < size; r++) T[o + r] = p[r] ? S[o + r] : slope * S[o + r];
          }
          break;
        }
        default:
          throw new Error(`RegionAscent: node ${node.name} (${node.kind}) is not piecewise linear`);
      }
    }
  }

  /** The active disjunct's terms at x (max over disjuncts of the min over terms), over the free inputs. */
  private terms(maps: Maps, x: Float64Array): { rows: Float64Array; consts: Float64Array; value: number } {
    const { free, n, spec } = this;
    const T = maps[this.ir.output];
    const nOut = spec.nOut;
    let best: { rows: Float64Array; consts: Float64Array; value: number } | undefined;
    for (const d of spec.disjuncts) {
      const t = d.e.length;
      const rows = new Float64Array(t * n); // [t, n]
      const consts = new Float64Array(t);
      let m = Infinity;
      for (let j = 0; j < t; j++) {
        let c = d.e[j];
        for (let o = 0; o < nOut; o++) {
          const w = d.D[j * nOut + o];
          if (w === 0) continue;
          c += w * T[n * nOut + o];
          for (let f = 0; f < n; f++) rows[j * n + f] += w * T[f * nOut + o];
        }
        consts[j] = c;
        let v = c;
        for (let f = 0; f < n; f++) v += rows[j * n + f] * x[free[f]];
        m = Math.min(m, v);
      }
      if (!best || m > best.value) best = { rows, consts, value: m };
    }
    return best!;
  }

  /** The LP over the region of `maps` from x (in the region's closure). */
  private solve(maps: Maps, pattern: Pattern, x: Float64Array, warm?: readonly number[]): Step {
    const { free, n, box, A, b, g, rowNode, rowInput, rowSize } = this;
    const terms = this.terms(maps, x);
    const nTerms = terms.consts.length;
    const epigraph = this.nTermsMax > 1;
    const dim = epigraph ? n + 1 : n;
    const nNeurons = rowNode.length;
    const m = nNeurons + 2 * n + (epigraph ? this.nTermsMax : 0);
    // the neuron rows write their n columns (the epigraph's t column, and the other rows, are 0)
    A.fill(0, epigraph ? 0 : nNeurons * dim);
    for (let i = 0; i < nNeurons; ) {
      // the rows of one activation node are consecutive, in unit order
      const S = maps[rowInput[i]];
      const size = rowSize[i];
      const p = pattern[rowNode[i]]!;
      for (let r = 0; r < size; r++, i++) {
        // positive: -(C z + c0) <= 0; negative: C z + c0 <= 0
        const sgn = p[r] ? -1 : 1;
        const o = i * dim;
        for (let f = 0; f < n; f++) A[o + f] = sgn * S[f * size + r];
        b[i] = -sgn * S[n * size + r];
      }
    }
    for (let f = 0; f < n; f++) {
      const lo = nNeurons + 2 * f;
      A[lo * dim + f] = -1;
      b[lo] = -box.lo[free[f]];
      A[(lo + 1) * dim + f] = 1;
      b[lo + 1] = box.hi[free[f]];
    }
    const w0 = new Float64Array(dim);
    free.forEach((i, f) => (w0[f] = x[i]));
    g.fill(0);
    let constant = 0;
    if (epigraph) {
      // t - r_j . z <= c_j; rows beyond this disjunct's terms stay 0 <= 1
      for (let j = 0; j < this.nTermsMax; j++) {
        const r = nNeurons + 2 * n + j;
        if (j >= nTerms) {
          b[r] = 1;
          continue;
        }
        for (let f = 0; f < n; f++) A[r * dim + f] = -terms.rows[j * n + f];
        A[r * dim + n] = 1;
        b[r] = terms.consts[j];
      }
      w0[n] = terms.value;
      g[n] = 1;
    } else {
      g.set(terms.rows);
      constant = terms.consts[0];
    }
    const res = maximizeSmallLp({ dim, m, A, b, g }, w0, warm);
    const out = Float64Array.from(x);
    free.forEach((i, f) => (out[i] = Math.min(box.hi[i], Math.max(box.lo[i], res.w[f]))));
    let value = res.value + constant;
    if (epigraph) {
      // t may end below the smallest term (a row not tight); the region's value is that term
      value = Infinity;
      for (let j = 0; j < nTerms; j++) {
        let v = terms.consts[j];
        for (let f = 0; f < n; f++) v += terms.rows[j * n + f] * out[free[f]];
        value = Math.min(value, v);
      }
    }
    // blocking neuron rows, largest multiplier first
    const blocking = res.active
      .map((row, k) => ({ row, lambda: res.lambda[k] }))
      .filter((a) => a.row < nNeurons && a.lambda > 0)
      .sort((p, q) => q.lambda - p.lambda)
      .map((a) => a.row);
    return { x: out, value, blocking, active: res.active };
  }
}

interface Step {
  readonly x: Float64Array;
  readonly value: number;
  /** Neuron rows that block the ascent at x, largest multiplier first. */
  readonly blocking: readonly number[];
  /** The LP's final working rows (tight at x; a warm start for the neighbouring regions' LPs). */
  readonly active: readonly number[];
}
