import { Rng } from '@nnmax/core';
import { forward64 } from '@nnmax/onnx';
import { describe, expect, it } from 'vitest';
import { optimiseAlpha } from './alpha.js';
import { analyseGraph } from './graph-info.js';
import { backSubstitute, computeContext } from './propagate.js';
import { denseReluNet } from '../../../test/helpers/random-ir.js';

describe('optimiseAlpha warm start', () => {
  const graph = denseReluNet(5, [3, 12, 12, 2], false); // enough unstable neurons for alpha to matter
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

  it('given the rows\' CROWN bound, gives the same result as computing it; given a tighter one, keeps it where no step beats it', () => {
    const own = optimiseAlpha(ctx, graph.output, C, rowBox, undefined, { iterations: 3 });
    const crown = backSubstitute(ctx, graph.output, C, rowBox, undefined, {});
    const given = optimiseAlpha(ctx, graph.output, C, rowBox, undefined, { iterations: 3, crown });
    expect(Array.from(given.upper)).toEqual(Array.from(own.upper));
    expect(Array.from(given.inputA)).toEqual(Array.from(own.inputA));
    const tighter = { ...crown, upper: Float64Array.from(own.upper, (u) => u - 1) };
    expect(Array.from(optimiseAlpha(ctx, graph.output, C, rowBox, undefined, { iterations: 3, crown: tighter }).upper)).toEqual(Array.from(tighter.upper));
  });
});
