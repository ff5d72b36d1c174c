import { Rng } from '@nnmax/core';
import { forwardAll } from '@nnmax/onnx';
import { describe, expect, it } from 'vitest';
import { analyseGraph } from './graph-info.js';
import type { IntervalBatch } from './interval-batch.js';
import { BOUND_OPS } from './ops/bound-ops.js';
import { computeContext, deadNeurons } from './propagate.js';
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

describe('dead ReLU neurons: their coefficients are skipped without changing any bound', () => {
  // small boxes, as deep in branch-and-bound, where most ReLUs are stable and many are off
  const graph = denseReluNet(5, [3, 24, 24, 24, 2], true);
  const info = analyseGraph(graph);
  const rng = new Rng(9);
  const n = 30;
  const lo = new Float64Array(3 * n);
  const hi = new Float64Array(3 * n);
  for (let i = 0; i < 3 * n; i++) {
    const w = rng.uniform(0.01, 0.4);
    lo[i] = rng.uniform(-1, 1 - w);
    hi[i] = lo[i] + w;
  }
  const ctx = computeContext(info, lo, hi, n);
  const pairs = graph.nodes.flatMap((node) => (node.kind === 'affine' && graph.nodes[node.inputs[0]].kind === 'relu' ? [node] : []));

  it('marks exactly the neurons whose ReLU input is <= 0 on the box', () => {
    expect(pairs.length).toBe(3);
    for (const affine of pairs) {
      const relu = graph.nodes[affine.inputs[0]];
      const pre = ctx.intervals.get(relu.inputs[0]) as IntervalBatch;
      const dead = deadNeurons(ctx, relu.id) as Uint8Array;
      let count = 0;
      for (let q = 0; q < dead.length; q++) {
        expect(dead[q]).toBe(pre.hi[q] <= 0 ? 1 : 0);
        count += dead[q];
      }
      expect(count).toBeGreaterThan(dead.length / 5); // the skip matters here: the test can fail
    }
    expect(deadNeurons(ctx, pairs[0].id)).toBeUndefined(); // not an activation
  });

  it('affine then ReLU backward steps give the same coefficients, bias and slack with and without the skip', () => {
    for (const affine of pairs) {
      if (affine.kind !== 'affine') continue;
      const relu = graph.nodes[affine.inputs[0]];
      const pre = ctx.intervals.get(relu.inputs[0]) as IntervalBatch;
      const post = ctx.intervals.get(relu.id) as IntervalBatch;
      // rows in runs of 1 to 20 per box (longer than a kernel block), coefficients with zeros
      const boxes: number[] = [];
      for (let b = 0; b < n; b++) for (let k = 1 + rng.int(20); k > 0; k--) boxes.push(b);
      const rowBox = Int32Array.from(boxes);
      const nRows = rowBox.length;
      const A = Float64Array.from({ length: nRows * affine.size }, () => (rng.next() < 0.3 ? 0 : rng.normal()));
      const run = (deadInput: Uint8Array | undefined) => {
        const s1 = BOUND_OPS.affine.backward(affine, { nRows, size: affine.size, A, rowBox }, [post], ctx.intervals.get(affine.id) as IntervalBatch, { errorFactor: info.errorFactor, deadInput });
        const onRelu = s1.inputCoeffs[0] as Float64Array;
        const s2 = BOUND_OPS.relu.backward(relu as never, { nRows, size: relu.size, A: onRelu, rowBox }, [pre], post, { errorFactor: info.errorFactor, relaxation: ctx.relaxations.get(relu.id) } as never);
        return { onRelu, s1, s2 };
      };
      const dense = run(undefined);
      const skipped = run(deadNeurons(ctx, relu.id));
      let zeroed = 0;
      for (let q = 0; q < dense.onRelu.length; q++) if (skipped.onRelu[q] === 0 && dense.onRelu[q] !== 0) zeroed++;
      expect(zeroed).toBeGreaterThan(0);
      for (const [a, b] of [
        [dense.s1.bias, skipped.s1.bias],
        [dense.s1.slack, skipped.s1.slack],
        [dense.s2.inputCoeffs[0], skipped.s2.inputCoeffs[0]],
        [dense.s2.bias, skipped.s2.bias],
        [dense.s2.slack, skipped.s2.slack],
      ] as const) {
        expect(Array.from(b as Float64Array, (v) => v + 0)).toEqual(Array.from(a as Float64Array, (v) => v + 0)); // +0: -0 and 0 alike
      }
    }
  });
});
