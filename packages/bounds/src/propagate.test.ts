import { Rng } from '@nnmax/core';
import { forwardAll } from '@nnmax/onnx';
import { describe, expect, it } from 'vitest';
import { analyseGraph } from './graph-info.js';
import type { IntervalBatch } from './interval-batch.js';
import { computeContext } from './propagate.js';
import { denseReluNet } from '../../../test/helpers/random-ir.js';

describe('computeContext with prior intervals (an ancestor domain\'s, inherited by its subdomains)', () => {
  const graph = denseReluNet(21, [3, 16, 16, 16, 2], true);
  const info = analyseGraph(graph);
  const fed = graph.nodes.filter((n) => info.activationConsumers[n.id].length > 0).map((n) => n.id);
  // a chain of halvings, as branch-and-bound makes them, each box bounded with its parent's final
  // intervals as the prior: the prior accumulates every ancestor's bounds
  let lo = Float64Array.of(-1, -1, -1);
  let hi = Float64Array.of(1, 1, 1);
  let prior: Map<number, IntervalBatch> | undefined;
  for (const k of [0, 1, 2, 0, 1]) {
    const ctx = computeContext(info, lo, hi, 1, { prior });
    prior = new Map(fed.map((id) => [id, ctx.intervals.get(id) as IntervalBatch]));
    const mid = 0.5 * lo[k] + 0.5 * hi[k];
    lo = Float64Array.from(lo);
    hi = Float64Array.from(hi);
    if (k % 2 === 0) hi[k] = mid;
    else lo[k] = mid;
  }

  it('stays within the prior, is tighter than without it on some neurons, and holds on sampled points', () => {
    // (not within the plain intervals everywhere: a neuron that the prior proves stable skips
    // CROWN, and its interval may then be wider than CROWN's; its relaxation is exact either way)
    const plain = computeContext(info, lo, hi, 1);
    const withPrior = computeContext(info, lo, hi, 1, { prior });
    const parentPrior = prior as Map<number, IntervalBatch>;
    let tighter = 0;
    for (const id of fed) {
      const a = withPrior.intervals.get(id) as IntervalBatch;
      const p = plain.intervals.get(id) as IntervalBatch;
      const q = parentPrior.get(id) as IntervalBatch;
      for (let j = 0; j < a.size; j++) {
        expect(a.lo[j]).toBeGreaterThanOrEqual(q.lo[j]);
        expect(a.hi[j]).toBeLessThanOrEqual(q.hi[j]);
        if (a.hi[j] - a.lo[j] < p.hi[j] - p.lo[j] - 1e-12) tighter++;
      }
    }
    expect(tighter).toBeGreaterThan(0); // the prior matters on this net: the test can fail
    const rng = new Rng(4);
    const n = 3000;
    const X = Float64Array.from({ length: 3 * n }, (_, i) => rng.uniform(lo[i % 3], hi[i % 3]));
    const values = forwardAll(graph, X, n);
    for (const id of fed) {
      const a = withPrior.intervals.get(id) as IntervalBatch;
      const v = values[id];
      for (let s = 0; s < n; s++) {
        for (let j = 0; j < a.size; j++) {
          expect(v[s * a.size + j]).toBeGreaterThanOrEqual(a.lo[j]);
          expect(v[s * a.size + j]).toBeLessThanOrEqual(a.hi[j]);
        }
      }
    }
  });

  it('ignores unknown (NaN) ends and ends that would cross the interval', () => {
    const plain = computeContext(info, lo, hi, 1);
    const unknown = new Map(fed.map((id) => [id, { nBoxes: 1, size: 16, lo: new Float64Array(16).fill(Number.NaN), hi: new Float64Array(16).fill(Number.NaN) }]));
    const viaNaN = computeContext(info, lo, hi, 1, { prior: unknown });
    const crossing = new Map(fed.map((id) => [id, { nBoxes: 1, size: 16, lo: new Float64Array(16).fill(1e9), hi: new Float64Array(16).fill(-1e9) }]));
    const viaCrossing = computeContext(info, lo, hi, 1, { prior: crossing });
    for (const id of fed) {
      const p = plain.intervals.get(id) as IntervalBatch;
      for (const c of [viaNaN, viaCrossing]) {
        const a = c.intervals.get(id) as IntervalBatch;
        expect(Array.from(a.lo)).toEqual(Array.from(p.lo));
        expect(Array.from(a.hi)).toEqual(Array.from(p.hi));
      }
    }
  });
});
