import { forward64 } from '@nnmax/onnx';
import { loadModel, maximize, type Model } from 'nnmax';
import { afterAll, describe, expect, it } from 'vitest';
import { maximizeProblems, reachesOptimum, type MaximizeProblem } from './helpers/corpus.js';

/**
 * Issue 3: on ../shared/maximize, `maximize` with a 3 s limit returns a point whose independently
 * recomputed (float64 reference) value is within 1e-4 * max(1, |v|) of the optimum on at least 95%
 * of the problems, and never a point outside the box. The target is the optimum minus that
 * tolerance, so a run that reaches it stops early (the assertion is the same as for a full 3 s run).
 */
const PROBLEMS = maximizeProblems();
const TIME_LIMIT_MS = 3000;
const models = new Map<string, Promise<Model>>();
const outcomes: { id: string; reached: boolean; value: number; optimum: number; kind: string; ms: number }[] = [];

function model(p: MaximizeProblem): Promise<Model> {
  let m = models.get(p.onnx);
  if (!m) {
    m = loadModel(p.onnx);
    models.set(p.onnx, m);
  }
  return m;
}

afterAll(async () => {
  for (const m of models.values()) await (await m).dispose();
});

describe('maximize on the ../shared/maximize problem set (3 s each)', () => {
  it.each(PROBLEMS.map((p) => [p.id, p] as const))('%s', async (_id, p) => {
    const m = await model(p);
    const tolAbs = 1e-4 * Math.max(1, Math.abs(p.optimum));
    const r = await maximize(m, { objective: { c: Float64Array.from(p.c), offset: 0, text: 'c . y' }, box: { lo: p.lo, hi: p.hi }, timeLimitMs: TIME_LIMIT_MS, target: p.optimum - tolAbs, seed: 1 });
    // never outside the box
    r.x.forEach((v, i) => {
      expect(v).toBeGreaterThanOrEqual(p.lo[i]);
      expect(v).toBeLessThanOrEqual(p.hi[i]);
    });
    // recompute the value independently: float64 reference forward of the IR
    const y = forward64(m.requireIr(), Float64Array.from(r.x), 1);
    const v = p.c.reduce((s, c, j) => s + c * y[j], 0);
    expect(Math.abs(v - r.value)).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(v)));
    // an exact optimum is an upper bound of every value
    if (p.kind === 'exact') expect(v).toBeLessThanOrEqual(p.optimum + 1e-6 * Math.max(1, Math.abs(p.optimum)));
    outcomes.push({ id: p.id, reached: reachesOptimum(v, p.optimum), value: v, optimum: p.optimum, kind: p.kind, ms: r.timeMs });
  });

  it('reaches the optimum (within 1e-4 * max(1, |v|)) on at least 95% of the problems', () => {
    expect(outcomes.length).toBe(PROBLEMS.length);
    const missed = outcomes.filter((o) => !o.reached);
    const rate = 1 - missed.length / outcomes.length;
    expect(rate, `missed: ${missed.map((o) => `${o.id} ${o.value} vs ${o.optimum}`).join('; ')}`).toBeGreaterThanOrEqual(0.95);
  });
});

