import { Rng } from '@nnmax/core';
import { forward64, type ActivationKind, type IrGraph, type IrNode } from '@nnmax/onnx';
import { describe, expect, it } from 'vitest';

/** Options of a random test network. */
export interface RandomGraphOptions {
  readonly nIn: number;
  readonly nOut: number;
  readonly width: number;
  readonly depth: number;
  /** Activation of each hidden layer (cycled). */
  readonly activations: readonly ActivationKind[];
  /** Probability that a hidden block is a two-branch block joined by add or concat. */
  readonly branchProbability?: number;
  readonly weightScale?: number;
}

/**
 * A random IR network: hidden blocks of affine + activation, some of them two parallel branches
 * joined by `add` (a residual-style sum) or `concat`, then an affine output layer.
 */
export function randomGraph(rng: Rng, o: RandomGraphOptions): IrGraph {
  const nodes: IrNode[] = [];
  type NodeSpec = IrNode extends infer T ? (T extends IrNode ? Omit<T, 'id' | 'name'> : never) : never;
  const push = (n: NodeSpec): number => {
    const id = nodes.length;
    nodes.push({ ...n, id, name: `${n.kind}_${id}` } as unknown as IrNode);
    return id;
  };
  const affine = (input: number, nIn: number, size: number): number => {
    const W = new Float64Array(size * nIn);
    const scale = (o.weightScale ?? 1.5) / Math.sqrt(nIn);
    for (let i = 0; i < W.length; i++) W[i] = rng.normal() * scale;
    const b = new Float64Array(size);
    for (let i = 0; i < size; i++) b[i] = rng.normal() * 0.3;
    return push({ kind: 'affine', size, inputs: [input], nIn, W, b });
  };
  const act = (input: number, size: number, kind: ActivationKind): number => {
    switch (kind) {
      case 'leakyrelu':
        return push({ kind, size, inputs: [input], alpha: 0.1 });
      case 'elu':
        return push({ kind, size, inputs: [input], alpha: 1 });
      case 'gelu':
        return push({ kind, size, inputs: [input], approximate: rng.next() < 0.5 ? 'none' : 'tanh' });
      default:
        return push({ kind, size, inputs: [input] });
    }
  };
  const input = push({ kind: 'input', size: o.nIn, inputs: [] });
  let cur = input;
  let curSize = o.nIn;
  for (let l = 0; l < o.depth; l++) {
    const kind = o.activations[l % o.activations.length];
    if (rng.next() < (o.branchProbability ?? 0.3) && l > 0) {
      const a = act(affine(cur, curSize, o.width), o.width, kind);
      const b = act(affine(cur, curSize, o.width), o.width, kind);
      if (rng.next() < 0.5) {
        // residual-style: the block input joins the sum when sizes match
        const inputs = curSize === o.width ? [a, b, cur] : [a, b];
        cur = push({ kind: 'add', size: o.width, inputs });
        curSize = o.width;
      } else {
        cur = push({ kind: 'concat', size: 2 * o.width, inputs: [a, b] });
        curSize = 2 * o.width;
      }
    } else {
      cur = act(affine(cur, curSize, o.width), o.width, kind);
      curSize = o.width;
    }
  }
  const output = affine(cur, curSize, o.nOut);
  return { nodes, input, output, nIn: o.nIn, nOut: o.nOut };
}

/** n uniform points in the box, `[n, nIn]`. */
export function samplePoints(rng: Rng, lo: Float64Array, hi: Float64Array, n: number): Float64Array {
  const d = lo.length;
  const x = new Float64Array(n * d);
  for (let s = 0; s < n; s++) {
    for (let k = 0; k < d; k++) {
      // include the corners now and then: extremes of ReLU nets often sit there
      const u = rng.next();
      const v = u < 0.05 ? 0 : u > 0.95 ? 1 : rng.next();
      x[s * d + k] = lo[k] + (hi[k] - lo[k]) * v;
    }
  }
  return x;
}

describe('randomGraph', () => {
  it('builds topologically ordered graphs that the reference forward evaluates', () => {
    const rng = new Rng(1);
    for (let t = 0; t < 20; t++) {
      const g = randomGraph(rng, { nIn: 3, nOut: 2, width: 4, depth: 3, activations: ['relu', 'tanh'], branchProbability: 0.5 });
      g.nodes.forEach((n, i) => {
        expect(n.id).toBe(i);
        for (const j of n.inputs) expect(j).toBeLessThan(i);
      });
      const y = forward64(g, new Float64Array([0.1, -0.2, 0.3]), 1);
      expect(y.length).toBe(2);
      expect(Number.isFinite(y[0])).toBe(true);
    }
  });
});
