import { Rng, makeBox } from '@nnmax/core';
import { describe, expect, it } from 'vitest';
import { ParallelRestarts } from './parallel-restarts.js';
import { ProjectedLbfgs } from './projected-lbfgs.js';
import { drive, rastrigin } from './smooth-test-functions.js';

describe('ParallelRestarts', () => {
  const box = makeBox([-5.12, -5.12, -5.12], [5.12, 5.12, 5.12]);
  const randomStart = (r: Rng): Float64Array => Float64Array.from(box.lo, (lo, i) => r.uniform(lo, box.hi[i]));

  it('batched L-BFGS restarts find the global maximum of -Rastrigin (n = 3) where one local run does not', () => {
    const one = new ProjectedLbfgs({ box, x0: Float64Array.of(3.3, -3.8, 2.2) });
    drive(one, rastrigin, 2000);
    expect(-one.best!.value).toBeGreaterThan(1); // a local minimum of Rastrigin

    const many = new ParallelRestarts({ rng: new Rng(4), lanes: 16, make: (r) => new ProjectedLbfgs({ box, x0: randomStart(r) }) });
    drive(many, rastrigin, 5000, { until: (v) => v > -1e-9 });
    expect(-many.best!.value).toBeLessThan(1e-9);
  });

  it('each ask concatenates the live lanes; restarts keep every lane busy', () => {
    const opt = new ParallelRestarts({ rng: new Rng(1), lanes: 4, make: (r) => new ProjectedLbfgs({ box, x0: randomStart(r), lineSearchSteps: 3 }) });
    const sizes: number[] = [];
    drive(opt, rastrigin, 200, { onAsk: (p) => sizes.push(p.length) });
    expect(sizes[0]).toBe(4); // each L-BFGS lane first asks its start point
    expect(Math.min(...sizes.slice(1))).toBeGreaterThanOrEqual(4); // never idle: stopped lanes restart
  });

  it('stops with maxEvaluations once every restart is spent and every lane stopped', () => {
    const opt = new ParallelRestarts({ rng: new Rng(2), lanes: 2, maxRestarts: 3, make: (r) => new ProjectedLbfgs({ box, x0: randomStart(r) }) });
    const { rounds } = drive(opt, rastrigin, 100_000);
    expect(rounds).toBeLessThan(100_000);
    expect(opt.stop()).toEqual(['maxEvaluations']);
  });
});
