import { Rng, isInBox, makeBox } from '@nnmax/core';
import { describe, expect, it } from 'vitest';
import { DifferentialEvolution } from './differential-evolution.js';
import { drive, rastrigin, rosenbrock, sphere } from './smooth-test-functions.js';

describe('DifferentialEvolution (best/1/bin, dithered, batched generations)', () => {
  const box5 = makeBox(Array(5).fill(-5.12), Array(5).fill(5.12));

  it('maximises -sphere to 1e-8 (n = 5) within a few hundred generations', () => {
    const de = new DifferentialEvolution({ box: box5, rng: new Rng(1), tolFun: 0 });
    const { rounds } = drive(de, sphere, 2000, { until: (v) => v > -1e-8 });
    expect(-de.best!.value).toBeLessThanOrEqual(1e-8);
    expect(rounds).toBeLessThan(600);
  });

  it('finds the global maximum of -Rastrigin (n = 5), a multimodal function local methods fail on', () => {
    const de = new DifferentialEvolution({ box: box5, rng: new Rng(2), tolFun: 0 });
    drive(de, rastrigin, 3000, { until: (v) => v > -1e-6 });
    expect(-de.best!.value).toBeLessThanOrEqual(1e-6);
  });

  it('maximises -Rosenbrock (n = 4) to 1e-6', () => {
    const box = makeBox(Array(4).fill(-2), Array(4).fill(2));
    const de = new DifferentialEvolution({ box, rng: new Rng(3), tolFun: 0 });
    drive(de, rosenbrock, 10_000, { until: (v) => v > -1e-6 });
    expect(-de.best!.value).toBeLessThanOrEqual(1e-6);
  });

  it('asks one whole generation inside the box; fixed inputs stay fixed; seeds enter the first population', () => {
    const box = makeBox([0, 1, -1], [1, 1, 1]);
    const seed = Float64Array.of(0.25, 1, 0.5);
    const de = new DifferentialEvolution({ box, rng: new Rng(4), popsizeFactor: 4, seeds: [seed] });
    const first = de.ask();
    expect(first.length).toBe(8); // 4 x 2 free inputs
    expect(Array.from(first[0])).toEqual(Array.from(seed));
    de.tell(first, Float64Array.from(first, (p) => -p[0]));
    for (let g = 0; g < 20; g++) {
      const pts = de.ask();
      for (const p of pts) {
        expect(isInBox(p, box)).toBe(true);
        expect(p[1]).toBe(1);
      }
      de.tell(pts, Float64Array.from(pts, (p) => (g % 3 === 0 ? NaN : -p[0])));
    }
    expect(de.best!.x[0]).toBeLessThan(0.05);
  });

  it('stops with tolFun once the population has converged', () => {
    const de = new DifferentialEvolution({ box: box5, rng: new Rng(5) });
    const { rounds } = drive(de, sphere, 100_000);
    expect(rounds).toBeLessThan(100_000);
    expect(de.stop()).toContain('tolFun');
  });

  it('stops with tolStagnation after maxStagnation generations without a better value, and only then', () => {
    // the seed is the maximiser of -|x|_1, so no generation improves on the first population
    const f = (x: Float64Array): number => -x.reduce((a, v) => a + Math.abs(v), 0);
    const run = (maxStagnation: number | undefined): { generations: number; reasons: readonly string[] } => {
      const de = new DifferentialEvolution({ box: box5, rng: new Rng(6), tolFun: 0, maxStagnation, seeds: [new Float64Array(5)] });
      let generations = 0;
      while (de.stop().length === 0 && generations < 50) {
        const pts = de.ask();
        de.tell(pts, Float64Array.from(pts, f));
        generations++;
      }
      return { generations, reasons: de.stop() };
    };
    expect(run(7)).toEqual({ generations: 8, reasons: ['tolStagnation'] }); // the first population, then 7
    expect(run(undefined)).toEqual({ generations: 50, reasons: [] });
  });
});
