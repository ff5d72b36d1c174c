import { Rng, isInBox, makeBox } from '@nnmax/core';
import { describe, expect, it } from 'vitest';
import { MultiStartAdam } from './multi-start-adam.js';
import { drive, quadratic, rastrigin, type SmoothFunction } from './smooth-test-functions.js';

const box10 = makeBox(new Float64Array(10).fill(-2), new Float64Array(10).fill(3));

describe('MultiStartAdam', () => {
  it('climbs to an interior maximum (negated ill-conditioned quadratic, 10-D) within 1e-3 of the box width', () => {
    const c = Float64Array.from({ length: 10 }, (_, i) => -1.5 + 0.4 * i);
    const A = new Float64Array(100);
    for (let i = 0; i < 10; i++) A[i * 11] = 10 ** (i / 3); // condition number 1e3
    const fn = quadratic(A, c);
    const opt = new MultiStartAdam({ box: box10, rng: new Rng(1), nStarts: 16, restart: false });
    const { rounds, evaluations } = drive(opt, fn, 2000);
    expect(opt.stop()).toEqual(['converged']);
    for (let i = 0; i < 10; i++) expect(Math.abs(opt.best!.x[i] - c[i])).toBeLessThan(5e-3);
    expect(rounds).toBeLessThan(700);
    expect(evaluations).toBeLessThan(16 * 700);
  });

  it('reaches a corner maximum exactly (linear function) and restarts converged starts', () => {
    const linear: SmoothFunction = {
      name: 'linear',
      value: (x) => -x.reduce((s, v, i) => s + (i % 2 ? v : -v), 0),
      gradient: (x) => x.map((_, i) => (i % 2 ? -1 : 1)),
    };
    const opt = new MultiStartAdam({ box: box10, rng: new Rng(2), nStarts: 8 });
    drive(opt, linear, 300);
    const corner = Float64Array.from({ length: 10 }, (_, i) => (i % 2 ? 3 : -2));
    expect(Array.from(opt.best!.x)).toEqual(Array.from(corner));
    expect(opt.best!.value).toBe(corner.reduce((s, v, i) => s + (i % 2 ? v : -v), 0));
    expect(opt.restartCount).toBeGreaterThan(8);
    expect(opt.stop()).toEqual([]);
  });

  it('finds the global maximum of negated Rastrigin (2-D) with 64 starts', () => {
    const box = makeBox([-5.12, -5.12], [5.12, 5.12]);
    const opt = new MultiStartAdam({ box, rng: new Rng(3) });
    const { rounds } = drive(opt, rastrigin, 1000, { until: (v) => v > -1e-3 });
    expect(opt.best!.value).toBeGreaterThan(-1e-3);
    expect(rounds).toBeLessThan(1000);
  });

  it('keeps exploring on a flat function: zero gradients restart every start from new points', () => {
    const flat: SmoothFunction = { name: 'flat', value: () => 1, gradient: (x) => new Float64Array(x.length) };
    const opt = new MultiStartAdam({ box: box10, rng: new Rng(4), nStarts: 4 });
    const seen = new Set<string>();
    drive(opt, flat, 5, { onAsk: (pts) => pts.forEach((p) => seen.add(p.join(','))) });
    expect(seen.size).toBe(20);
    expect(opt.restartCount).toBe(20);
  });

  it('starts from the given points (clamped), then restarts from the remaining ones', () => {
    const box = makeBox([0, 0], [1, 1]);
    const starts = [Float64Array.of(0.2, 0.3), Float64Array.of(5, -5), Float64Array.of(0.7, 0.7)];
    const flat: SmoothFunction = { name: 'flat', value: () => 0, gradient: () => new Float64Array(2) };
    const opt = new MultiStartAdam({ box, rng: new Rng(5), nStarts: 2, starts });
    const asks: Float64Array[][] = [];
    drive(opt, flat, 2, { onAsk: (p) => asks.push(p) });
    expect(asks[0].map((p) => Array.from(p))).toEqual([
      [0.2, 0.3],
      [1, 0],
    ]);
    expect(Array.from(asks[1][0])).toEqual([0.7, 0.7]);
    expect(isInBox(asks[1][1], box)).toBe(true);
  });

  it('a NaN region or NaN gradient sends a start back to its best point and never poisons the iterate', () => {
    const box = makeBox([-1, -1], [1, 1]);
    // Maximise -(x - 0.9)^2 - (y - 0.9)^2, but NaN values beyond x + y > 1.6 and NaN gradients beyond x > 0.85.
    const fn = quadratic(Float64Array.of(2, 0, 0, 2), Float64Array.of(0.9, 0.9));
    const opt = new MultiStartAdam({ box, rng: new Rng(6), nStarts: 8, restart: false });
    let rounds = 0;
    while (opt.stop().length === 0 && rounds++ < 2000) {
      const pts = opt.ask();
      for (const p of pts) expect(p.every(Number.isFinite) && isInBox(p, box)).toBe(true);
      const values = Float64Array.from(pts, (p) => (p[0] + p[1] > 1.6 ? NaN : -fn.value(p)));
      const grads = pts.map((p) => (p[0] > 0.85 ? Float64Array.of(NaN, NaN) : fn.gradient(p).map((g) => -g)));
      opt.tell(pts, values, grads);
    }
    expect(opt.stop()).toEqual(['converged']);
    // The best allowed value: on the line x + y = 1.6 closest to (0.9, 0.9), i.e. (0.8, 0.8): -0.02.
    expect(opt.best!.value).toBeGreaterThan(-0.03);
    expect(opt.best!.value).toBeLessThanOrEqual(-0.02);
  });

  it('stops with maxEvaluations after maxIterations rounds', () => {
    const opt = new MultiStartAdam({ box: box10, rng: new Rng(7), nStarts: 3, maxIterations: 5 });
    const { rounds, evaluations } = drive(opt, rastrigin, 100);
    expect(rounds).toBe(5);
    expect(evaluations).toBe(15);
    expect(opt.stop()).toEqual(['maxEvaluations']);
    expect(opt.ask()).toEqual([]);
  });
});
