import { Rng } from '@nnmax/core';
import { forward64, type IrGraph, type IrNode } from '@nnmax/onnx';
import { describe, expect, it } from 'vitest';
import { optimiseAlpha } from './alpha.js';
import { analyseGraph } from './graph-info.js';
import { computeContext } from './propagate.js';

/** input(3) -> dense(12) -> relu -> dense(12) -> relu -> dense(2): enough unstable neurons for alpha to matter. */
function net(seed: number): IrGraph {
  const rng = new Rng(seed);
  const nodes: IrNode[] = [];
  const push = (n: Omit<IrNode, 'id'>): number => {
    nodes.push({ ...n, id: nodes.length } as IrNode);
    return nodes.length - 1;
  };
  const dense = (from: number, nIn: number, size: number): number =>
    push({ kind: 'affine', name: `d${nodes.length}`, nIn, size, inputs: [from], W: Float64Array.from({ length: nIn * size }, () => rng.normal()), b: Float64Array.from({ length: size }, () => 0.3 * rng.normal()) } as Omit<IrNode, 'id'>);
  const relu = (from: number, size: number): number => push({ kind: 'relu', name: `r${nodes.length}`, size, inputs: [from] } as Omit<IrNode, 'id'>);
  let cur = push({ kind: 'input', name: 'x', size: 3, inputs: [] });
  cur = relu(dense(cur, 3, 12), 12);
  cur = relu(dense(cur, 12, 12), 12);
  const out = dense(cur, 12, 2);
  return { nodes, input: 0, output: out, nIn: 3, nOut: 2 } as unknown as IrGraph;
}

describe('optimiseAlpha warm start', () => {
  const graph = net(5);
  const info = analyseGraph(graph);
  const lo = Float64Array.of(-1, -1, -1);
  const hi = Float64Array.of(1, 1, 1);
  const ctx = computeContext(info, lo, hi, 1);
  const C = Float64Array.of(1, 0, 0, 1, -1, 0, 0, -1); // [4, 2]: both outputs, up and down
  const rowBox = new Int32Array(4);

  it('starts from the given slopes: one step from optimised slopes beats one step from the default ones', () => {
    const cold1 = optimiseAlpha(ctx, graph.output, C, rowBox, undefined, { iterations: 1 });
    const long = optimiseAlpha(ctx, graph.output, C, rowBox, undefined, { iterations: 30 });
    const warm1 = optimiseAlpha(ctx, graph.output, C, rowBox, undefined, { iterations: 1, init: long.alpha });
    let better = 0;
    for (let r = 0; r < 4; r++) {
      expect(warm1.upper[r]).toBeLessThanOrEqual(cold1.upper[r]);
      if (warm1.upper[r] < cold1.upper[r] - 1e-9) better++;
    }
    expect(better).toBeGreaterThan(0);
  });

  it('treats NaN and out-of-range starting slopes as the default and as clamped, and stays sound', () => {
    const cold = optimiseAlpha(ctx, graph.output, C, rowBox, undefined, { iterations: 3 });
    const nanInit = new Map([...cold.alpha].map(([id, a]) => [id, new Float64Array(a.length).fill(Number.NaN)]));
    const viaNaN = optimiseAlpha(ctx, graph.output, C, rowBox, undefined, { iterations: 3, init: nanInit });
    expect(Array.from(viaNaN.upper)).toEqual(Array.from(cold.upper));
    const wild = new Map([...cold.alpha].map(([id, a]) => [id, Float64Array.from(a, (_v, q) => (q % 2 === 0 ? 7 : -7))]));
    const clamped = optimiseAlpha(ctx, graph.output, C, rowBox, undefined, { iterations: 3, init: wild });
    for (const a of clamped.alpha.values()) for (const v of a) expect(v >= 0 && v <= 1).toBe(true);
    // every row's bound holds on sampled points
    const rng = new Rng(9);
    const n = 4000;
    const X = Float64Array.from({ length: 3 * n }, () => rng.uniform(-1, 1));
    const Y = forward64(graph, X, n);
    for (let s = 0; s < n; s++) {
      for (let r = 0; r < 4; r++) {
        const v = C[2 * r] * Y[2 * s] + C[2 * r + 1] * Y[2 * s + 1];
        expect(v).toBeLessThanOrEqual(clamped.upper[r]);
      }
    }
  });
});
