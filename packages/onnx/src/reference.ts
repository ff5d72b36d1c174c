import { ShapeError } from '@nnmax/core';
import { activationDerivative, activationValue } from './activations.js';
import { isActivation, type IrGraph, type IrNode } from './ir.js';

/**
 * Makes the zero-filled arrays of a reference pass: `new Float64Array` by default; a caller that
 * evaluates in a loop may hand out recycled ones (zero-filled) and must then copy what it keeps.
 */
export type Float64Alloc = (n: number) => Float64Array;

const NEW: Float64Alloc = (n) => new Float64Array(n);

/**
 * Float64 reference forward over the IR, for tests and for reporting values.
 * `x` is `[n, nIn]` row-major; returns every node's values, each `[n, size]` row-major.
 */
export function forwardAll(graph: IrGraph, x: Float64Array, n: number, alloc: Float64Alloc = NEW): Float64Array[] {
  if (x.length !== n * graph.nIn) {
    throw new ShapeError('reference forward input', `${n} x ${graph.nIn} = ${n * graph.nIn} values`, `${x.length}`);
  }
  const values: Float64Array[] = [];
  for (const node of graph.nodes) values.push(evalNode(node, values, x, n, alloc));
  return values;
}

/** Float64 forward: `[n, nIn]` in, `[n, nOut]` out. */
export function forward64(graph: IrGraph, x: Float64Array, n = 1, alloc: Float64Alloc = NEW): Float64Array {
  return forwardAll(graph, x, n, alloc)[graph.output];
}

function evalNode(node: IrNode, values: readonly Float64Array[], x: Float64Array, n: number, alloc: Float64Alloc): Float64Array {
  const size = node.size;
  switch (node.kind) {
    case 'input':
      return x;
    case 'affine': {
      const inp = values[node.inputs[0]];
      const { W, b, nIn } = node;
      const out = alloc(n * size);
      for (let s = 0; s < n; s++) {
        const xo = s * nIn;
        const oo = s * size;
        let j = 0;
        // four neurons per pass share the loads of the input; each dot product still sums in
        // the textbook order, so the values are the same bit for bit
        for (; j + 4 <= size; j += 4) {
          let a0 = b[j];
          let a1 = b[j + 1];
          let a2 = b[j + 2];
          let a3 = b[j + 3];
          const w0 = j * nIn;
          const w1 = w0 + nIn;
          const w2 = w1 + nIn;
          const w3 = w2 + nIn;
          for (let k = 0; k < nIn; k++) {
            const v = inp[xo + k];
            a0 += W[w0 + k] * v;
            a1 += W[w1 + k] * v;
            a2 += W[w2 + k] * v;
            a3 += W[w3 + k] * v;
          }
          out[oo + j] = a0;
          out[oo + j + 1] = a1;
          out[oo + j + 2] = a2;
          out[oo + j + 3] = a3;
        }
        for (; j < size; j++) {
          let acc = b[j];
          const wo = j * nIn;
          for (let k = 0; k < nIn; k++) acc += W[wo + k] * inp[xo + k];
          out[oo + j] = acc;
        }
      }
      return out;
    }
    case 'add': {
      const out = alloc(n * size);
      for (const id of node.inputs) {
        const v = values[id];
        for (let i = 0; i < out.length; i++) out[i] += v[i];
      }
      return out;
    }
    case 'concat': {
      const out = alloc(n * size);
      let offset = 0;
      for (const id of node.inputs) {
        const v = values[id];
        const m = v.length / n;
        for (let s = 0; s < n; s++) out.set(v.subarray(s * m, (s + 1) * m), s * size + offset);
        offset += m;
      }
      return out;
    }
    default: {
      if (!isActivation(node)) throw new Error('unreachable');
      const v = values[node.inputs[0]];
      const out = alloc(v.length);
      for (let i = 0; i < v.length; i++) out[i] = activationValue(node, v[i]);
      return out;
    }
  }
}

/**
 * Float64 value and input gradient of `c . F(x)` for each of `n` points, by reverse-mode
 * differentiation over the IR. `c` is `[nOut]` (shared) or `[n, nOut]` (per point). `forward`,
 * when given, is `forwardAll(graph, x, n)` already computed by the caller (it is not recomputed).
 */
export function valueAndGradient64(
  graph: IrGraph,
  x: Float64Array,
  n: number,
  c: Float64Array,
  alloc: Float64Alloc = NEW,
  forward?: readonly Float64Array[],
): { values: Float64Array; gradients: Float64Array; outputs: Float64Array } {
  const { nIn, nOut } = graph;
  if (c.length !== nOut && c.length !== n * nOut) {
    throw new ShapeError('objective weights c', `${nOut} or ${n * nOut} values`, `${c.length}`);
  }
  const vals = forward ?? forwardAll(graph, x, n, alloc);
  const out = vals[graph.output];
  const values = alloc(n);
  const adj: (Float64Array | undefined)[] = new Array(graph.nodes.length);
  const seed = alloc(n * nOut);
  for (let s = 0; s < n; s++) {
    let v = 0;
    for (let j = 0; j < nOut; j++) {
      const cj = c.length === nOut ? c[j] : c[s * nOut + j];
      seed[s * nOut + j] = cj;
      v += cj * out[s * nOut + j];
    }
    values[s] = v;
  }
  adj[graph.output] = seed;
  const accumulate = (id: number, g: Float64Array): void => {
    const prev = adj[id];
    if (prev === undefined) adj[id] = g;
    else for (let i = 0; i < g.length; i++) prev[i] += g[i];
  };
  for (let i = graph.nodes.length - 1; i >= 0; i--) {
    const node = graph.nodes[i];
    const g = adj[i];
    if (g === undefined || node.kind === 'input') continue;
    switch (node.kind) {
      case 'affine': {
        const { W, nIn: k } = node;
        const size = node.size;
        const gi = alloc(n * k);
        for (let s = 0; s < n; s++) {
          for (let j = 0; j < size; j++) {
            const gj = g[s * size + j];
            if (gj === 0) continue;
            const wo = j * k;
            for (let t = 0; t < k; t++) gi[s * k + t] += gj * W[wo + t];
          }
        }
        accumulate(node.inputs[0], gi);
        break;
      }
      case 'add':
        for (const id of node.inputs) accumulate(id, copyOf(g, alloc));
        break;
      case 'concat': {
        let offset = 0;
        for (const id of node.inputs) {
          const m = graph.nodes[id].size;
          const gi = alloc(n * m);
          for (let s = 0; s < n; s++) gi.set(g.subarray(s * node.size + offset, s * node.size + offset + m), s * m);
          accumulate(id, gi);
          offset += m;
        }
        break;
      }
      default: {
        if (!isActivation(node)) throw new Error('unreachable');
        const z = vals[node.inputs[0]];
        const gi = alloc(g.length);
        for (let t = 0; t < g.length; t++) gi[t] = g[t] * activationDerivative(node, z[t]);
        accumulate(node.inputs[0], gi);
      }
    }
  }
  const gradients = adj[graph.input] ?? alloc(n * nIn);
  return { values, gradients, outputs: out };
}

function copyOf(a: Float64Array, alloc: Float64Alloc): Float64Array {
  const out = alloc(a.length);
  out.set(a);
  return out;
}
