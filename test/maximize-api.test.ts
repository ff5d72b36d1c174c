import { join } from 'node:path';
import { forward64 } from '@nnmax/onnx';
import { InvalidOptionError, isFeasible, loadModel, maximize, minimize, parseDomain, UnsupportedOpError, type ProgressEvent } from 'nnmax';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from './helpers/cli.js';
import { TestGraph, weights } from './helpers/onnx-builder.js';

const TLL = join(ROOT, 'examples/models/tll_2d.onnx');
type Loaded = Awaited<ReturnType<typeof loadModel>>;
let tll: Loaded;

beforeAll(async () => {
  tll = await loadModel(TLL);
});
afterAll(async () => {
  await tll.dispose();
});

/** The TLL net's objective on a dense grid of the box: an independent estimate of its max and min. */
function gridExtremes(lo: number[], hi: number[], k = 150): { max: number; min: number } {
  const n = k * k;
  const X = new Float64Array(2 * n);
  for (let i = 0; i < k; i++)
    for (let j = 0; j < k; j++) {
      X[2 * (i * k + j)] = lo[0] + ((hi[0] - lo[0]) * i) / (k - 1);
      X[2 * (i * k + j) + 1] = lo[1] + ((hi[1] - lo[1]) * j) / (k - 1);
    }
  const y = forward64(tll.requireIr(), X, n);
  let max = -Infinity;
  let min = Infinity;
  for (const v of y) {
    max = Math.max(max, v);
    min = Math.min(min, v);
  }
  return { max, min };
}

describe('maximize / minimize (library API)', () => {
  const box = { lo: [-2, -2], hi: [2, 2] };

  it('maximize reaches the dense-grid maximum of the TLL net and streams improving progress events', async () => {
    const events: ProgressEvent[] = [];
    const r = await maximize(tll, { box, timeLimitMs: 1500, onProgress: (e) => events.push(e) });
    const { max } = gridExtremes(box.lo, box.hi);
    expect(r.value).toBeGreaterThanOrEqual(max - 1e-6);
    expect(r.status).toBe('feasible');
    expect(r.certified).toBe(false);
    expect(events.length).toBeGreaterThan(0);
    for (let i = 1; i < events.length; i++) {
      expect(events[i].elapsedMs).toBeGreaterThanOrEqual(events[i - 1].elapsedMs);
      expect(events[i].value).toBeGreaterThanOrEqual(events[i - 1].value);
    }
    expect(r.value).toBeGreaterThanOrEqual(events[events.length - 1].value - 1e-6);
  });

  it('minimize reaches the dense-grid minimum and reports it in the caller sense', async () => {
    const r = await minimize(tll, { box, timeLimitMs: 1500 });
    const { min } = gridExtremes(box.lo, box.hi);
    expect(r.sense).toBe('min');
    expect(r.value).toBeLessThanOrEqual(min + 1e-6);
    expect(r.value).toBe(forward64(tll.requireIr(), Float64Array.from(r.x), 1)[0]);
  });

  it('an AbortSignal stops a long search promptly with the incumbent', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 300);
    const t0 = performance.now();
    const r = await maximize(tll, { box, timeLimitMs: 60_000, signal: controller.signal });
    expect(performance.now() - t0).toBeLessThan(5000);
    expect(r.status).toBe('feasible');
    expect(r.x).toHaveLength(2);
  });

  it('a domain with a linear row: every returned x satisfies it exactly, and the value is the constrained optimum', async () => {
    // x0 + x1 <= 0 cuts the box in half
    const domain = parseDomain('{"box": [[-2, 2], [-2, 2]], "linear": [{"a": [1, 1], "b": 0}]}', 2);
    const r = await maximize(tll, { domain, timeLimitMs: 1500 });
    expect(isFeasible(domain, r.x, 0)).toBe(true);
    // dense grid restricted to the half-plane
    const k = 150;
    let best = -Infinity;
    const pts: number[] = [];
    for (let i = 0; i < k; i++)
      for (let j = 0; j < k; j++) {
        const a = -2 + (4 * i) / (k - 1);
        const b = -2 + (4 * j) / (k - 1);
        if (a + b <= 0) pts.push(a, b);
      }
    const y = forward64(tll.requireIr(), Float64Array.from(pts), pts.length / 2);
    for (const v of y) best = Math.max(best, v);
    expect(r.value).toBeGreaterThanOrEqual(best - 1e-6);
  });

  it('fixed inputs stay fixed', async () => {
    const r = await maximize(tll, { box, fix: { 0: 1.25 }, timeLimitMs: 500 });
    expect(r.x[0]).toBe(1.25);
  });

  it("the searches' first runs start from the best point of the quasi-random design (basin hopping's first evaluation is there)", async () => {
    const ev = tll.evaluator;
    const calls: { x: Float64Array; n: number }[] = [];
    const values = ev.values.bind(ev);
    const valuesAndGradients = ev.valuesAndGradients.bind(ev);
    ev.values = (x, n) => (calls.push({ x: x.slice(), n }), values(x, n));
    ev.valuesAndGradients = (x, n, c) => (calls.push({ x: x.slice(), n }), valuesAndGradients(x, n, c));
    try {
      await maximize(tll, { box, method: 'basinhopping', timeLimitMs: 50, seed: 3 });
    } finally {
      ev.values = values;
      ev.valuesAndGradients = valuesAndGradients;
    }
    const design = calls[0];
    expect(design.n).toBeGreaterThan(100);
    const y = forward64(tll.requireIr(), design.x, design.n);
    const best = y.indexOf(Math.max(...y));
    expect(Array.from(calls[1].x.subarray(0, 2))).toEqual(Array.from(design.x.subarray(2 * best, 2 * best + 2)));
  });

  it('bad options are typed errors naming the option', async () => {
    await expect(maximize(tll, { box: { lo: [1, 0], hi: [0, 1] } })).rejects.toThrow(InvalidOptionError);
    await expect(maximize(tll, { box: { lo: [0], hi: [1] } })).rejects.toThrow(/box/);
    await expect(maximize(tll, { box, objective: 'y3' })).rejects.toThrow(/y3/);
    await expect(maximize(tll, { box, method: 'magic' as never })).rejects.toThrow(/method 'magic'/);
    await expect(maximize(tll, { box, timeLimitMs: 0 })).rejects.toThrow(/timeLimit/);
    await expect(maximize(tll, { box, fix: { 0: 5 } })).rejects.toThrow(/fix\[0\]/);
    await expect(maximize(tll, { box: { lo: [NaN, 0], hi: [1, 1] } })).rejects.toThrow(InvalidOptionError);
  });
});

describe('a model outside the IR (black-box)', () => {
  it('maximize runs black-box methods on the original graph; certify and gradient methods name the node', async () => {
    const g = new TestGraph(['N', 3]);
    const h = g.op('Sin', [g.op('Gemm', ['x', g.init([4, 3], weights(12, 3)), g.init([4], weights(4, 4))], { transB: 1 })]);
    const bytes = g.build(g.op('Gemm', [h, g.init([1, 4], weights(4, 5)), g.init([1], weights(1, 6))], { transB: 1 }), ['N', 1]);
    const model = await loadModel(bytes, { file: 'sin.onnx' });
    try {
      const box = { lo: [-1, -1, -1], hi: [1, 1, 1] };
      const r = await maximize(model, { box, timeLimitMs: 800 });
      // independent check: the point's value from onnxruntime equals the reported value (float32 path)
      const y = await model.evaluator.values(Float64Array.from(r.x), 1);
      expect(r.value).toBeCloseTo(y[0], 6);
      expect(r.x.every((v, i) => v >= box.lo[i] && v <= box.hi[i])).toBe(true);
      await expect(maximize(model, { box, certify: true })).rejects.toThrow(UnsupportedOpError);
      await expect(maximize(model, { box, method: 'adam' })).rejects.toThrow(/method 'adam'/);
    } finally {
      await model.dispose();
    }
  });
});


describe('the region walk in the auto portfolio', () => {
  const box = { lo: [-2, -2], hi: [2, 2] };

  it('joins on ReLU nets with a box domain, and not with linear constraints or smooth activations', async () => {
    const r = await maximize(tll, { box, timeLimitMs: 300 });
    expect(r.method).toMatch(/^auto\(walk\+/);
    const domain = parseDomain(JSON.stringify({ box: [[-2, 2], [-2, 2]], linear: [{ a: [1, 1], b: 1 }] }), 2, 'd.json');
    const constrained = await maximize(tll, { domain, timeLimitMs: 300 });
    expect(constrained.method).not.toMatch(/walk/);
    expect(isFeasible(domain, constrained.x)).toBe(true);

    const g = new TestGraph(['N', 2]);
    const h = g.op('Sigmoid', [g.op('Gemm', ['x', g.init([4, 2], weights(8, 3)), g.init([4], weights(4, 4))], { transB: 1 })]);
    const smooth = await loadModel(g.build(g.op('Gemm', [h, g.init([1, 4], weights(4, 5)), g.init([1], weights(1, 6))], { transB: 1 }), ['N', 1]), { file: 'sig.onnx' });
    try {
      const s = await maximize(smooth, { box, timeLimitMs: 200 });
      expect(s.method).not.toMatch(/walk/);
    } finally {
      await smooth.dispose();
    }
  });

  it('beside the walk the design goes on for four batches, unless the first reaches the target', async () => {
    const designSize = async (opts: Parameters<typeof maximize>[1]): Promise<number> => {
      const events: ProgressEvent[] = [];
      await maximize(tll, { ...opts, seed: 3, timeLimitMs: 300, onProgress: (e) => events.push(e) });
      return events.find((e) => e.phase === 'sample')!.evaluations;
    };
    // 256 quasi-random points a batch; the first also holds the 4 corners of the box
    expect(await designSize({ box })).toBe(4 * 256 + 4);
    const domain = parseDomain(JSON.stringify({ box: [[-2, 2], [-2, 2]], linear: [{ a: [1, 1], b: 1 }] }), 2, 'd.json');
    expect(await designSize({ domain })).toBe(256 + 4);
    expect(await designSize({ box, target: -1e9 })).toBe(256 + 4);
  });

  it('skips the walk on networks where one start would cost over 1e7 multiply-adds (64 inputs, 186k weights)', async () => {
    const g = new TestGraph(['N', 64]);
    const h1 = g.op('Relu', [g.op('Gemm', ['x', g.init([400, 64], weights(400 * 64, 7)), g.init([400], weights(400, 8))], { transB: 1 })]);
    const h2 = g.op('Relu', [g.op('Gemm', [h1, g.init([400, 400], weights(400 * 400, 9)), g.init([400], weights(400, 10))], { transB: 1 })]);
    const wide = await loadModel(g.build(g.op('Gemm', [h2, g.init([1, 400], weights(400, 11)), g.init([1], weights(1, 12))], { transB: 1 }), ['N', 1]), { file: 'wide.onnx' });
    try {
      const b64 = { lo: new Array(64).fill(-1), hi: new Array(64).fill(1) };
      expect((await maximize(wide, { box: b64, timeLimitMs: 100 })).method).not.toMatch(/walk/);
      // with 2 free inputs, a start costs 3 x 186k: the walk runs
      const fix = Object.fromEntries(Array.from({ length: 62 }, (_, i) => [i + 2, 0.5]));
      expect((await maximize(wide, { box: b64, fix, timeLimitMs: 100 })).method).toMatch(/walk/);
    } finally {
      await wide.dispose();
    }
  });

  it('minimize: the walk improves the incumbent in the caller sense (minimising -y0 is maximising y0)', async () => {
    const { max } = gridExtremes(box.lo, box.hi);
    const events: ProgressEvent[] = [];
    const r = await minimize(tll, { box, objective: '-y0', timeLimitMs: 1000, seed: 1, onProgress: (e) => events.push(e) });
    expect(r.method).toMatch(/walk/);
    expect(r.value).toBeLessThanOrEqual(-max + 1e-6);
    // the maximum is not at a corner: walks from the design's best points improve on it
    expect(events.some((e) => e.phase === 'walk')).toBe(true);
  });
});

describe('a network with no finite value', () => {
  it('a network whose objective is NaN at every point of the box: InvalidOptionError naming the model, not a crash', async () => {
    // y = log(0 . x - 2) is NaN everywhere
    const g = new TestGraph(['N', 2]);
    const z = g.op('Sub', [g.op('Mul', ['x', g.init([2], [0, 0])]), g.init([2], [1, 1])]);
    const model = await loadModel(g.build(g.op('Log', [g.op('MatMul', [z, g.init([2, 1], [1, 1])])]), ['N', 1]), { file: 'nan.onnx' });
    try {
      const err = await maximize(model, { box: { lo: [0, 0], hi: [1, 1] }, timeLimitMs: 200 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidOptionError);
      expect((err as Error).message).toMatch(/^invalid nan\.onnx 'NaN objective at all \d+ points tried'/);
    } finally {
      await model.dispose();
    }
  });
});

describe('huge boxes', () => {
  it('a box whose width overflows float64 is an error naming the input; one just below it gives a point and no infinite certified bound', async () => {
    const err = await maximize(tll, { box: { lo: [-1e308, -2], hi: [1e308, 2] }, timeLimitMs: 100 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidOptionError);
    expect((err as Error).message).toMatch(/box\[0\].*finite width/);
    const r = await maximize(tll, { box: { lo: [-8e307, -2], hi: [8e307, 2] }, certify: true, timeLimitMs: 500 });
    expect(Number.isFinite(r.value)).toBe(true);
    expect(Math.abs(r.x[0])).toBeLessThanOrEqual(8e307);
    // bounds over this box overflow: no bound is reported rather than an infinite one
    expect(r.certified).toBe(r.upperBound !== null && Number.isFinite(r.upperBound));
    expect(JSON.parse(JSON.stringify(r)).certified).toBe(r.upperBound !== null);
  });
});
