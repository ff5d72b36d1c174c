import { Rng, isInBox, makeBox } from '@nnmax/core';
import { describe, expect, it } from 'vitest';
import { BasinHopping } from './basin-hopping.js';
import { MultiStartAdam } from './multi-start-adam.js';
import { ProjectedLbfgs } from './projected-lbfgs.js';
import { drive, gaussianBumps, rastrigin, sphere } from './smooth-test-functions.js';

const rastriginBox = makeBox([-5.12, -5.12], [5.12, 5.12]);
const x0 = Float64Array.of(3.3, -3.8);

describe('BasinHopping', () => {
  it('finds the global maximum of negated Rastrigin (2-D) where one local run from the same start does not', () => {
    const single = new ProjectedLbfgs({ box: rastriginBox, x0 });
    drive(single, rastrigin, 1000);
    expect(single.stop()).toEqual(['converged']);
    expect(single.best!.value).toBeLessThan(-20); // the local maximum near (3, -4): -25

    for (const seed of [1, 2, 3]) {
      const bh = new BasinHopping({ box: rastriginBox, rng: new Rng(seed), x0, maxHops: 400 });
      const run = drive(bh, rastrigin, 20_000, {
        onAsk: (pts) => expect(pts.every((p) => isInBox(p, rastriginBox))).toBe(true),
        until: (v) => v > -1e-10,
      });
      expect(bh.best!.value).toBeGreaterThan(-1e-10);
      expect(Math.hypot(bh.best!.x[0], bh.best!.x[1])).toBeLessThan(1e-6);
      expect(run.rounds).toBeLessThan(20_000);
    }
  });

  it('with a single-start Adam as local optimiser, finds the narrow highest of three Gaussian bumps', () => {
    const bumps = gaussianBumps([
      { m: [-2, -2], h: 1, s: 0.8 },
      { m: [2, -1], h: 1.3, s: 0.25 },
      { m: [-1, 2.5], h: 0.9, s: 0.6 },
    ]);
    const box = makeBox([-4, -4], [4, 4]);
    const start = Float64Array.of(-2.5, -1.5);
    const local = (x: Float64Array, b: typeof box, rng: Rng) =>
      new MultiStartAdam({ box: b, rng, starts: [x], nStarts: 1, restart: false });
    const single = local(start, box, new Rng(9));
    drive(single, bumps, 2000);
    expect(single.best!.value).toBeLessThan(1.01); // stuck on the wide bump at (-2, -2)

    const bh = new BasinHopping({ box, rng: new Rng(4), x0: start, local, stepSize: 0.2, temperature: 0.2 });
    drive(bh, bumps, 30_000, { until: (v) => v > 1.29 });
    expect(bh.best!.value).toBeGreaterThan(1.29);
    expect(Math.hypot(bh.best!.x[0] - 2, bh.best!.x[1] + 1)).toBeLessThan(0.05);
  });

  it('adapts the step size towards the target acceptance rate', () => {
    // Always accepting (huge temperature): the step grows; never accepting worse (T = 0) on Rastrigin: it shrinks.
    const hot = new BasinHopping({ box: rastriginBox, rng: new Rng(5), x0, temperature: 1e12, maxHops: 30 });
    drive(hot, rastrigin, 10_000);
    expect(hot.stats.hops).toBe(30);
    expect(hot.stats.accepted).toBe(30);
    expect(hot.stats.stepSize).toBeCloseTo(0.1 / 0.9 ** 3, 12);
    const cold = new BasinHopping({ box: rastriginBox, rng: new Rng(5), x0, temperature: 0, maxHops: 30 });
    drive(cold, rastrigin, 10_000);
    expect(cold.stats.accepted).toBeLessThan(15);
    expect(cold.stats.stepSize).toBeLessThan(0.1);
    expect(cold.stop()).toEqual(['maxEvaluations']);
  });

  it('stops with tolStagnation after maxStagnantHops hops without a new best', () => {
    const bh = new BasinHopping({ box: rastriginBox, rng: new Rng(6), x0: new Float64Array(2), maxStagnantHops: 5 });
    drive(bh, sphere, 10_000);
    expect(bh.stop()).toEqual(['tolStagnation']);
    expect(bh.stats.hops).toBe(5);
    expect(Math.abs(bh.best!.value)).toBe(0);
  });
});
