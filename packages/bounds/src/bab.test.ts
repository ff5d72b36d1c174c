import { InvalidOptionError, makeBox, Rng, ShapeError, type Box } from '@nnmax/core';
import { forward64, type IrGraph, type IrNode } from '@nnmax/onnx';
import { describe, expect, it } from 'vitest';
import { splitPoint, type BoundingHelper } from './bab-bounding.js';
import { branchAndBound, type BabProgress } from './bab.js';
import { evaluateSpec, linearSpec, type MaxMinSpec } from './spec.js';
import { inThreadHelper } from '../../../test/helpers/in-thread-helper.js';
import { denseReluNet } from '../../../test/helpers/random-ir.js';

/** The largest value of the spec over n uniform samples of the boxes. */
function sampledMax(graph: IrGraph, spec: MaxMinSpec, boxes: readonly Box[], n: number): number {
  const rng = new Rng(5);
  let best = -Infinity;
  for (const box of boxes) {
    const x = Float64Array.from({ length: n * graph.nIn }, (_, i) => rng.uniform(box.lo[i % graph.nIn], box.hi[i % graph.nIn]));
    best = Math.max(best, ...evaluateSpec(spec, forward64(graph, x, n), n));
  }
  return best;
}

const NET = denseReluNet(3, [2, 8, 8, 3], true);
const BOX = makeBox([-1, -1], [1, 1]);

describe('branchAndBound', () => {
  it('rejects bad options with InvalidOptionError naming the option, and mismatched shapes with ShapeError', async () => {
    const c = Float64Array.of(1, 0, 0);
    for (const [option, options] of [
      ['tol', { tol: -1 }],
      ['batchSize', { batchSize: 0 }],
      ['batchSize', { batchSize: 2.5 }],
      ['maxFrontier', { maxFrontier: 0 }],
      ['alphaIterations', { alphaIterations: -1 }],
      ['target', { target: NaN }],
      ['split', { split: 'sideways' as 'input' }],
    ] as const) {
      await expect(branchAndBound(NET, c, BOX, options)).rejects.toMatchObject({ constructor: InvalidOptionError, option });
    }
    await expect(branchAndBound(NET, Float64Array.of(1, 0), BOX)).rejects.toBeInstanceOf(ShapeError);
    await expect(branchAndBound(NET, c, makeBox([0], [1]))).rejects.toBeInstanceOf(ShapeError);
  });

  it('a max-min objective: the bound is above the incumbent and every sample, also when disjuncts are dropped from domains', async () => {
    // three disjuncts that take the lead in different parts of the box; each gets dropped from the
    // domains where it is below the incumbent, and its bound must still count
    const spec: MaxMinSpec = {
      nOut: 3,
      disjuncts: [
        { D: Float64Array.of(1, 0, 0, 0, -1, 0), e: Float64Array.of(0, 0.5) },
        { D: Float64Array.of(0, 1, 0), e: Float64Array.of(-0.05) },
        { D: Float64Array.of(0, 0, 1, -1, 0, 0), e: Float64Array.of(0.1, 0) },
      ],
    };
    for (const split of ['input', 'relu'] as const) {
      const r = await branchAndBound(NET, spec, BOX, { tol: 1e-6, split });
      expect(r.status).toBe('optimal');
      const inc = r.incumbent?.value ?? -Infinity;
      expect(r.upperBound).toBeGreaterThanOrEqual(inc);
      expect(r.upperBound).toBeGreaterThanOrEqual(sampledMax(NET, spec, [BOX], 20_000));
      expect(r.upperBound - inc).toBeLessThanOrEqual(1e-6);
      expect(evaluateSpec(spec, forward64(NET, r.incumbent?.x as Float64Array, 1), 1)[0]).toBe(inc);
    }
  });

  it('regression: the bound of a disjunct dropped from a live domain still counts (g = max(0.5, min(x, -x)) on [-1, 1])', async () => {
    // the first disjunct (0.5) is dropped at the root, where the incumbent already attains it, while
    // the second (bound 1 at the root, 0 after one split) keeps the domain open; the certified
    // bound must stay >= 0.5 after the children are pruned with bound 0
    const nodes: IrNode[] = [
      { id: 0, name: 'x', kind: 'input', size: 1, inputs: [] },
      { id: 1, name: 'y', kind: 'affine', size: 2, inputs: [0], nIn: 1, W: Float64Array.of(0, 1), b: Float64Array.of(0.5, 0) },
    ];
    const graph: IrGraph = { nodes, input: 0, output: 1, nIn: 1, nOut: 2 };
    const spec: MaxMinSpec = {
      nOut: 2,
      disjuncts: [
        { D: Float64Array.of(1, 0), e: Float64Array.of(0) },
        { D: Float64Array.of(0, 1, 0, -1), e: Float64Array.of(0, 0) },
      ],
    };
    const r = await branchAndBound(graph, spec, makeBox([-1], [1]), { tol: 1e-6, alphaIterations: 0, ascentIterations: 0 });
    expect(r.status).toBe('optimal');
    expect(r.incumbent?.value).toBe(0.5);
    expect(r.upperBound).toBeGreaterThanOrEqual(0.5);
  });

  it('a domain of several boxes: the bound covers all of them and the incumbent lies in one', async () => {
    const boxes = [makeBox([-1, -1], [-0.5, 0]), makeBox([0.2, 0.3], [0.9, 1])];
    const c = Float64Array.of(0, 1, -1);
    const spec: MaxMinSpec = { nOut: 3, disjuncts: [{ D: c, e: Float64Array.of(0) }] };
    const r = await branchAndBound(NET, c, boxes, { tol: 1e-6 });
    expect(r.status).toBe('optimal');
    expect(r.upperBound).toBeGreaterThanOrEqual(sampledMax(NET, spec, boxes, 20_000));
    const x = r.incumbent?.x as Float64Array;
    expect(boxes.some((b) => x.every((v, k) => v >= b.lo[k] && v <= b.hi[k]))).toBe(true);
  });

  it('stops on time, abort and frontier limits with a sound bound', async () => {
    const c = Float64Array.of(1, -1, 0.5);
    const spec: MaxMinSpec = { nOut: 3, disjuncts: [{ D: c, e: Float64Array.of(0) }] };
    const best = sampledMax(NET, spec, [BOX], 20_000);
    const timeout = await branchAndBound(NET, c, BOX, { tol: 0, timeLimitMs: 0 });
    expect(timeout.status).toBe('timeout');
    const controller = new AbortController();
    controller.abort();
    const aborted = await branchAndBound(NET, c, BOX, { tol: 0, signal: controller.signal });
    expect(aborted.status).toBe('aborted');
    const memory = await branchAndBound(NET, c, BOX, { tol: 0, maxFrontier: 1, batchSize: 1 });
    expect(memory.status).toBe('memory');
    for (const r of [timeout, aborted, memory]) expect(r.upperBound).toBeGreaterThanOrEqual(best);
  });

  it('with a target: reached when a point attains it, excluded (a proof) when the bound falls below it', async () => {
    const c = Float64Array.of(1, 0, 0);
    const exact = await branchAndBound(NET, c, BOX, { tol: 1e-9 });
    const max = exact.incumbent?.value as number;
    const reached = await branchAndBound(NET, c, BOX, { target: max - 0.01 });
    expect([reached.status, reached.targetOutcome]).toEqual(['target', 'reached']);
    expect(reached.incumbent?.value).toBeGreaterThanOrEqual(max - 0.01);
    const excluded = await branchAndBound(NET, c, BOX, { target: max + 0.01 });
    expect([excluded.status, excluded.targetOutcome]).toEqual(['target', 'excluded']);
    expect(excluded.upperBound).toBeLessThan(max + 0.01);
  });

  it('reports progress with a nonincreasing bound and a nondecreasing incumbent, and takes polled candidates', async () => {
    const c = Float64Array.of(-1, 1, 1);
    const events: BabProgress[] = [];
    const polled = Float64Array.of(0.25, -0.75);
    const r = await branchAndBound(NET, c, BOX, {
      tol: 1e-9,
      progressIntervalMs: 0,
      onProgress: (p) => events.push(p),
      pollCandidates: () => [polled],
      // a custom evaluator sees every candidate; here it only counts them
      evaluate: (points) => evaluateSpec({ nOut: 3, disjuncts: [{ D: c, e: Float64Array.of(0) }] }, forward64(NET, concat(points), points.length), points.length),
    });
    expect(r.status).toBe('optimal');
    expect(events.length).toBeGreaterThan(1);
    for (let i = 1; i < events.length; i++) {
      expect(events[i].upperBound).toBeLessThanOrEqual(events[i - 1].upperBound);
      expect(events[i].lowerBound).toBeGreaterThanOrEqual(events[i - 1].lowerBound);
    }
    const atPolled = evaluateSpec({ nOut: 3, disjuncts: [{ D: c, e: Float64Array.of(0) }] }, forward64(NET, polled, 1), 1)[0];
    expect(r.incumbent?.value).toBeGreaterThanOrEqual(atPolled);
  });

  describe('with a helper thread (here an in-thread stand-in that copies domains as a worker would)', () => {
    const c = Float64Array.of(1, -1, 0.5);
    // a frontier wide enough for the helper to get batches (it gets some once 8 domains are open)
    const deep = denseReluNet(11, [4, 24, 24, 3], true);
    const BOX4 = makeBox([-1, -1, -1, -1], [1, 1, 1, 1]);
    it('bounds part of the frontier on the helper: the same status, incumbent and bound (within tol) as one thread, and is closed once', async () => {
      let calls = 0;
      const helper = inThreadHelper({ onBound: () => calls++ });
      const alone = await branchAndBound(deep, c, BOX4, { tol: 1e-4, batchSize: 4 });
      const shared = await branchAndBound(deep, c, BOX4, { tol: 1e-4, batchSize: 4, helper });
      expect(calls).toBeGreaterThan(0);
      expect(helper.closed).toBe(1);
      expect(alone.status).toBe('optimal');
      expect(shared.status).toBe('optimal');
      expect(Math.abs((shared.incumbent?.value as number) - (alone.incumbent?.value as number))).toBeLessThanOrEqual(1e-4);
      expect(shared.upperBound).toBeGreaterThanOrEqual(sampledMax(deep, linearSpec(c), [BOX4], 20_000));
    });

    it('counts the domains on a slow helper in the bound: stopped with batches in flight, the bound still holds and the gap is not called closed', async () => {
      const truth = sampledMax(deep, linearSpec(c), [BOX4], 50_000);
      let calls = 0;
      const slow = inThreadHelper({ onBound: () => calls++, delayMs: 40 });
      const r = await branchAndBound(deep, c, BOX4, { tol: 0, batchSize: 2, timeLimitMs: 400, helper: slow });
      expect(calls).toBeGreaterThan(1);
      expect(r.status).toBe('timeout');
      expect(r.upperBound).toBeGreaterThanOrEqual(truth);
      // with a target that only the helper's domains could still reach, the search waits for them
      const target = await branchAndBound(deep, c, BOX4, { tol: 0, batchSize: 2, target: truth - 1e-3, timeLimitMs: 5000, helper: inThreadHelper({ delayMs: 5 }) });
      expect(target.targetOutcome).toBe('reached');
    });

    it("stops with the helper's error, and runs alone while the helper is not ready", async () => {
      const broken = inThreadHelper({ fail: true });
      await expect(branchAndBound(deep, c, BOX4, { tol: 1e-6, batchSize: 4, helper: broken })).rejects.toThrow('helper broke');
      expect(broken.closed).toBe(1);
      let calls = 0;
      const notReady = (): BoundingHelper => ({ isReady: false, bound: async () => { calls++; throw new Error('not ready'); }, close: () => undefined });
      const r = await branchAndBound(NET, c, BOX, { tol: 1e-6, batchSize: 32, helper: notReady });
      expect(r.status).toBe('optimal');
      expect(calls).toBe(0);
    });
  });
});

function concat(points: readonly Float64Array[]): Float64Array {
  const out = new Float64Array(points.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of points) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

describe('splitPoint: where an input interval splits', () => {
  it('an integer interval splits between two integers, so that the children hold every integer once; a continuous one at its midpoint', () => {
    for (let lo = -4; lo <= 2; lo++) {
      for (let hi = lo; hi <= lo + 9; hi++) {
        const at = splitPoint(lo, hi, true);
        if (hi === lo) {
          expect(at).toBeUndefined();
          continue;
        }
        const { left, right } = at as { left: number; right: number };
        expect(right).toBe(left + 1);
        expect(left).toBeGreaterThanOrEqual(lo);
        expect(right).toBeLessThanOrEqual(hi);
        // both halves hold at least floor of half the integers
        expect(Math.min(left - lo + 1, hi - right + 1)).toBeGreaterThanOrEqual(Math.floor((hi - lo + 1) / 2));
      }
    }
    expect(splitPoint(0, 1, false)).toEqual({ left: 0.5, right: 0.5 });
    expect(splitPoint(1, 1, false)).toBeUndefined();
    expect(splitPoint(1, 1 + 2 ** -52, false)).toBeUndefined(); // no float strictly between
  });
});
