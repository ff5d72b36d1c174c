import { loadModel, maximize } from 'nnmax';
import { forward64, valueAndGradient64 } from '@nnmax/onnx';
import { SignCornerAscent } from '@nnmax/search';
import { describe, expect, it } from 'vitest';
import { maximizeProblems, reachesOptimum, type MaximizeProblem } from './helpers/corpus.js';

/**
 * The sign-corner ascent (steepest ascent in the infinity norm, SignCornerAscent of @nnmax/search)
 * on the 784-input maximisations of ../shared/maximize: small boxes around an image, where it
 * reaches the best-known values from the box centre, and where maximize runs it before the design.
 */
const problem = (id: string): MaximizeProblem => {
  const p = maximizeProblems().find((q) => q.id === id);
  if (!p) throw new Error(`no problem ${id}`);
  return p;
};
const REACHED = [
  'mnistfc/mnist-net_256x6/prop_0_0.03/max Y_8 (label)',
  'mnistfc/mnist-net_256x6/prop_1_0.03/max Y_7 (rival)',
  'mnistfc/mnist-net_256x4/prop_1_0.03/max Y_5 (rival)',
  'eran/mnist_relu_9_200/mnist_spec_idx_4424_eps_0.01500/max Y_9 (label)',
  'eran/ffnnSIGMOID__Point_6x200/mnist_spec_idx_7955_eps_0.01200/max Y_2 (label)',
  'eran/ffnnSIGMOID__Point_6x200/mnist_spec_idx_7167_eps_0.01200/max Y_1 (label)',
].map(problem);

describe('sign-corner ascent on 784-input networks', () => {
  it.each(REACHED.map((p) => [p.id, p] as const))('%s: from the box centre it reaches the best-known value at a corner (float64 reference)', async (_, p) => {
    const model = await loadModel(p.onnx);
    try {
      const ir = model.requireIr();
      const c = Float64Array.from(p.c);
      const box = { lo: Float64Array.from(p.lo), hi: Float64Array.from(p.hi) };
      const opt = new SignCornerAscent({ box });
      let rounds = 0;
      while (opt.stop().length === 0) {
        const points = opt.ask();
        if (points.length === 0) break;
        const x = new Float64Array(points.length * box.lo.length);
        points.forEach((q, k) => x.set(q, k * box.lo.length));
        const { values, gradients } = valueAndGradient64(ir, x, points.length, c);
        opt.tell(points, values, points.map((_, k) => gradients.subarray(k * box.lo.length, (k + 1) * box.lo.length)));
        rounds++;
      }
      expect(opt.stop()).toEqual(['converged']);
      expect(rounds).toBeLessThanOrEqual(15);
      expect(rounds).toBeGreaterThanOrEqual(3);
      const best = opt.best!;
      expect(reachesOptimum(best.value, p.optimum), `${best.value} against ${p.optimum}`).toBe(true);
      // recomputed independently of the gradient pass, and at (or next to) a corner: most inputs at a bound
      const y = forward64(ir, best.x, 1);
      expect(c.reduce((s, ci, o) => s + ci * y[o], 0)).toBeCloseTo(best.value, 12);
      const atBound = Array.from(best.x).filter((v, i) => v === box.lo[i] || v === box.hi[i]).length;
      expect(atBound).toBeGreaterThan(0.8 * box.lo.length);
    } finally {
      await model.dispose();
    }
  }, 60_000);

  it('a search stopped by its target returns a value (float64 on the IR) that reaches it', async () => {
    // the optimum of this problem lies 1e-4 above the README bench's target: the float32 values of
    // the runtime passed the target at points whose float64 value did not
    const p = problem('eran/mnist_relu_9_200/mnist_spec_idx_4424_eps_0.01500/max Y_4 (rival)');
    const model = await loadModel(p.onnx);
    try {
      const target = p.optimum - 1e-4 * Math.max(1, Math.abs(p.optimum));
      for (const seed of [1, 2, 3, 4]) {
        const r = await maximize(model, { objective: { c: Float64Array.from(p.c), offset: 0, text: 'c . y' }, box: { lo: p.lo, hi: p.hi }, target, timeLimitMs: 3000, seed });
        expect(r.value, `seed ${seed}`).toBeGreaterThanOrEqual(target);
        const y = forward64(model.requireIr(), Float64Array.from(r.x), 1);
        expect(p.c.reduce((s, ci, o) => s + ci * y[o], 0)).toBeGreaterThanOrEqual(target);
      }
    } finally {
      await model.dispose();
    }
  }, 60_000);

  it('after the first ascent, basin hopping alone climbs past the kinks where L-BFGS stopped', async () => {
    // L-BFGS from the corner stops 1.4e-4 below this optimum (its target is 1e-4 below): hops
    // from there reach it in 333-389 evaluations; the rotation of all components took 669-853
    const p = problem('mnistfc/mnist-net_256x4/prop_0_0.03/max Y_8 (label)');
    const model = await loadModel(p.onnx);
    try {
      const target = p.optimum - 1e-4 * Math.max(1, Math.abs(p.optimum));
      for (const seed of [1, 2, 3, 4]) {
        const phases: string[] = [];
        const r = await maximize(model, { objective: { c: Float64Array.from(p.c), offset: 0, text: 'c . y' }, box: { lo: p.lo, hi: p.hi }, target, timeLimitMs: 3000, seed, onProgress: (e) => phases.push(e.phase) });
        const y = forward64(model.requireIr(), Float64Array.from(r.x), 1);
        expect(p.c.reduce((s, ci, o) => s + ci * y[o], 0), `seed ${seed}`).toBeGreaterThanOrEqual(target);
        expect(phases.slice(phases.indexOf('ascent'))).toEqual(expect.arrayContaining(['ascent', 'basinhopping']));
        expect(r.evaluations, `seed ${seed}`).toBeLessThanOrEqual(500);
      }
    } finally {
      await model.dispose();
    }
  }, 60_000);

  it('maximize starts with it in high dimension: the box centre is the first evaluation, and the optimum comes before the design', async () => {
    const p = problem('eran/mnist_relu_9_200/mnist_spec_idx_8098_eps_0.01500/max Y_6 (rival)');
    const model = await loadModel(p.onnx);
    try {
      const ev = model.evaluator;
      const calls: { x: Float64Array; n: number; gradients: boolean }[] = [];
      const values = ev.values.bind(ev);
      const valuesAndGradients = ev.valuesAndGradients.bind(ev);
      ev.values = (x, n) => (calls.push({ x: x.slice(), n, gradients: false }), values(x, n));
      ev.valuesAndGradients = (x, n, cc) => (calls.push({ x: x.slice(), n, gradients: true }), valuesAndGradients(x, n, cc));
      const phases: string[] = [];
      const target = p.optimum - 1e-4 * Math.max(1, Math.abs(p.optimum));
      const r = await maximize(model, { objective: { c: Float64Array.from(p.c), offset: 0, text: 'c . y' }, box: { lo: p.lo, hi: p.hi }, target, timeLimitMs: 3000, seed: 1, onProgress: (e) => phases.push(e.phase) });
      expect(r.value).toBeGreaterThanOrEqual(target);
      expect(calls[0]).toMatchObject({ n: 1, gradients: true });
      expect(Array.from(calls[0].x)).toEqual(p.lo.map((l, i) => l + (p.hi[i] - l) / 2));
      expect(phases[0]).toBe('corner');
      // the corner steps only (with gradients, at most 11 points each): no 21-point design
      expect(calls.every((cl) => cl.gradients && cl.n <= 11)).toBe(true);
      expect(r.evaluations).toBeLessThanOrEqual(60);
    } finally {
      await model.dispose();
    }
  }, 60_000);
});
