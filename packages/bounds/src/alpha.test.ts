import { Rng } from '@nnmax/core';
import { forward64, forwardAll } from '@nnmax/onnx';
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

describe('optimiseAlpha with split multipliers (beta-CROWN)', () => {
  // 3 inputs, two ReLU layers of 12: split first-layer neurons, bound the output over the split domain
  const graph = denseReluNet(7, [3, 12, 12, 1], false);
  const info = analyseGraph(graph);
  const lo = Float64Array.of(-1, -1, -1);
  const hi = Float64Array.of(1, 1, 1);
  const relus = graph.nodes.filter((n) => n.kind === 'relu');
  const first = relus[0];
  const pre = first.inputs[0];
  const C = Float64Array.of(1, -1); // [2, 1]: the output, up and down
  const rowBox = new Int32Array(2);
  const rng = new Rng(11);
  const n = 20000;
  const X = Float64Array.from({ length: 3 * n }, () => rng.uniform(-1, 1));
  const all = forwardAll(graph, X, n);
  const Z = all[pre];
  const Y = all[graph.output];
  const ctx0 = computeContext(info, lo, hi, 1);
  const preIv = ctx0.intervals.get(pre)!;
  const unstable = Array.from({ length: first.size }, (_, j) => j).filter((j) => preIv.lo[j] < 0 && preIv.hi[j] > 0);

  it('is sound on the split domain and tighter than the slopes alone', () => {
    expect(unstable.length).toBeGreaterThanOrEqual(4);
    let tighter = 0;
    // every sign pattern of four unstable first-layer neurons
    for (let mask = 0; mask < 16; mask++) {
      const signs = new Int8Array(first.size);
      unstable.slice(0, 4).forEach((j, t) => (signs[j] = mask & (1 << t) ? 1 : -1));
      const splits = new Map([[first.id, signs]]);
      const ctx = computeContext(info, lo, hi, 1, { method: 'crown', splits });
      const alphaOnly = optimiseAlpha(ctx, graph.output, C, rowBox, undefined, { iterations: 40 });
      const withBeta = optimiseAlpha(ctx, graph.output, C, rowBox, undefined, { iterations: 40, splits });
      for (const b of withBeta.beta.values()) for (const v of b) expect(v).toBeGreaterThanOrEqual(0);
      // and the bound of one iterate at fixed multipliers, small to large (any beta >= 0 is sound);
      // without the CROWN rows as the starting best, an iterate's own bound is what is checked
      const fixed = [0.5, 2, 8].map((v) => {
        const betaInit = new Map([[first.id, Float64Array.from({ length: 2 * first.size }, (_, q) => (signs[q % first.size] !== 0 ? v : 0))]]);
        const huge = { upper: Float64Array.of(Infinity, Infinity), inputA: new Float64Array(6), inputBias: new Float64Array(2) };
        return optimiseAlpha(ctx, graph.output, C, rowBox, undefined, { iterations: 1, splits, betaInit, crown: huge });
      });
      for (const f of fixed) for (let r = 0; r < 2; r++) expect(Number.isFinite(f.upper[r])).toBe(true);
      for (let s = 0; s < n; s++) {
        let inDomain = true;
        for (let j = 0; j < first.size && inDomain; j++) if (signs[j] !== 0 && signs[j] * Z[s * first.size + j] < 0) inDomain = false;
        if (!inDomain) continue;
        for (const b of [withBeta, ...fixed]) {
          expect(Y[s]).toBeLessThanOrEqual(b.upper[0]);
          expect(-Y[s]).toBeLessThanOrEqual(b.upper[1]);
        }
      }
      for (let r = 0; r < 2; r++) if (withBeta.upper[r] < alphaOnly.upper[r] - 1e-6 * (1 + Math.abs(alphaOnly.upper[r]))) tighter++;
    }
    expect(tighter).toBeGreaterThan(4);
  });

  it('starts from the given multipliers: a warm start of one step matches a long cold run better than a cold step', () => {
    const signs = new Int8Array(first.size);
    unstable.slice(0, 4).forEach((j, t) => (signs[j] = t % 2 ? 1 : -1));
    const splits = new Map([[first.id, signs]]);
    const ctx = computeContext(info, lo, hi, 1, { method: 'crown', splits });
    const long = optimiseAlpha(ctx, graph.output, C, rowBox, undefined, { iterations: 60, splits });
    const cold = optimiseAlpha(ctx, graph.output, C, rowBox, undefined, { iterations: 2, splits, init: long.alpha });
    const warm = optimiseAlpha(ctx, graph.output, C, rowBox, undefined, { iterations: 2, splits, init: long.alpha, betaInit: long.beta });
    expect([...long.beta.values()].some((b) => b.some((v) => v > 0))).toBe(true);
    for (let r = 0; r < 2; r++) expect(warm.upper[r]).toBeLessThanOrEqual(cold.upper[r]);
    expect(warm.upper[0] + warm.upper[1]).toBeLessThan(cold.upper[0] + cold.upper[1]);
  });
});
