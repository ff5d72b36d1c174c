import { InvalidOptionError, OptimizerProtocolError, Rng, isInBox, makeBox, type Box } from '@nnmax/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IpopCmaes, type IpopCmaesOptions } from './ipop-cmaes.js';
import { rastrigin, sphere, type TestFunction } from './test-functions.js';

function cube(n: number, lo: number, hi: number): Box {
  return makeBox(new Array<number>(n).fill(lo), new Array<number>(n).fill(hi));
}

interface Trace {
  readonly evaluations: number;
  readonly bestTold: number; // max over every told value, kept by the test
  readonly lambdas: number[]; // population size of each run, in order
  readonly means: Float64Array[]; // initial mean of each run
  readonly points: number[][];
}

/** Runs `es` on -f until f <= target or the optimiser stops. */
function drive(es: IpopCmaes, f: TestFunction, target = -Infinity, keepPoints = false): Trace {
  let bestTold = -Infinity;
  const lambdas: number[] = [];
  const means: Float64Array[] = [];
  const points: number[][] = [];
  let run = 0;
  for (;;) {
    const xs = es.ask();
    if (xs.length === 0) break;
    if (es.runs !== run) {
      run = es.runs;
      lambdas.push(xs.length);
      means.push(Float64Array.from(es.current.state.mean));
    }
    if (keepPoints) points.push(...xs.map((x) => Array.from(x)));
    const values = Float64Array.from(xs, (x) => -f(x));
    es.tell(xs, values);
    bestTold = Math.max(bestTold, ...values);
    if (-bestTold <= target) break;
  }
  return { evaluations: es.evaluations, bestTold, lambdas, means, points };
}

describe('IpopCmaes', () => {
  it('solves Rastrigin n = 10 on [-5.12, 5.12]^10 to 1e-8 by restarts with doubling population', () => {
    // IPOP-CMA-ES needs population sizes of about 100-300 on the 10-D Rastrigin function (Hansen &
    // Kern, PPSN 2004; Auger & Hansen, CEC 2005); measured here: 3e4-4e5 evaluations over 10 seeds.
    for (const seed of [1, 2]) {
      const es = new IpopCmaes({ box: cube(10, -5.12, 5.12), rng: new Rng(seed), maxEvaluations: 500_000 });
      const trace = drive(es, rastrigin, 1e-8);
      expect(es.best && -es.best.value).toBeLessThanOrEqual(1e-8);
      expect(trace.evaluations).toBeLessThanOrEqual(500_000);
      expect(es.runs).toBeGreaterThan(1);
      expect(trace.lambdas).toEqual(trace.lambdas.map((_, i) => 10 * 2 ** i));
    }
  });

  it('restarts from new uniformly random means inside the box and stops on the total budget', () => {
    const box = makeBox([-1, 0, 3], [1, 0, 8]);
    const es = new IpopCmaes({ box, rng: new Rng(5), maxEvaluations: 3_000, tolFun: 1e-3 });
    const trace = drive(es, sphere);
    expect(es.runs).toBeGreaterThanOrEqual(3);
    expect(new Set(trace.means.map((m) => m.join())).size).toBe(trace.means.length);
    expect(es.stop()).toEqual(['maxEvaluations']);
    expect(es.ask()).toEqual([]);
    expect(trace.evaluations).toBeLessThanOrEqual(3_000);
    // the next run (lambda doubled) would not fit in what is left
    expect(3_000 - trace.evaluations).toBeLessThan(trace.lambdas[trace.lambdas.length - 1] * 2);
    // best over all runs is the largest value ever told
    expect(es.best?.value).toBe(trace.bestTold);
  });

  it('same seed gives identical points across restarts; different seeds differ', () => {
    const run = (seed: number) => drive(new IpopCmaes({ box: cube(4, -2, 2), rng: new Rng(seed), maxEvaluations: 2_000, tolFun: 1e-2 }), sphere, -Infinity, true);
    const a = run(8);
    expect(a.lambdas.length).toBeGreaterThan(1);
    expect(run(8).points).toEqual(a.points);
    expect(run(9).points.slice(0, 8)).not.toEqual(a.points.slice(0, 8));
  });

  it('ask() stays in the box over restarts, incl. zero-width coordinates', () => {
    const boxArb = fc
      .array(fc.record({ lo: fc.double({ min: -100, max: 100, noNaN: true }), width: fc.oneof(fc.constant(0), fc.double({ min: 1e-3, max: 100, noNaN: true })) }), {
        minLength: 1,
        maxLength: 5,
      })
      .map((cs) => makeBox(cs.map((c) => c.lo), cs.map((c) => c.lo + c.width)));
    fc.assert(
      fc.property(boxArb, fc.integer({ min: 0, max: 2 ** 31 }), (box, seed) => {
        const es = new IpopCmaes({ box, rng: new Rng(seed), maxEvaluations: 800, tolFun: 1e-1 });
        for (;;) {
          const xs = es.ask();
          if (xs.length === 0) break;
          for (const x of xs) expect(isInBox(x, box)).toBe(true);
          es.tell(xs, Float64Array.from(xs, (x) => x.reduce((s, v) => s + v, 0)));
        }
        expect(es.stop().length).toBeGreaterThan(0);
      }),
      { numRuns: 30 },
    );
  });

  it('tell with other points throws OptimizerProtocolError; NaN values are survived', () => {
    const es = new IpopCmaes({ box: cube(3, -1, 1), rng: new Rng(1) });
    const xs = es.ask();
    expect(() => es.tell(xs.map((x) => Float64Array.from(x)), new Float64Array(xs.length))).toThrow(OptimizerProtocolError);
    es.tell(xs, new Float64Array(xs.length).fill(Number.NaN));
    expect(es.best).toBeUndefined();
    expect(es.ask().length).toBe(xs.length);
  });

  it('a bad option throws InvalidOptionError naming it', () => {
    const good: IpopCmaesOptions = { box: cube(3, -1, 1), rng: new Rng(1) };
    for (const [option, patch] of [
      ['lambdaFactor', { lambdaFactor: 1 }],
      ['lambdaFactor', { lambdaFactor: Infinity }],
      ['maxEvaluations', { maxEvaluations: -5 }],
      ['sigma0', { sigma0: 0 }],
      ['box', { box: { lo: Float64Array.of(1), hi: Float64Array.of(0) } }],
    ] as const) {
      expect(() => new IpopCmaes({ ...good, ...patch } as IpopCmaesOptions)).toThrow(expect.objectContaining({ option: expect.stringContaining(option) }));
      expect(() => new IpopCmaes({ ...good, ...patch } as IpopCmaesOptions)).toThrow(InvalidOptionError);
    }
  });

  it('a box with every coordinate fixed asks its point once and stops as exhausted', () => {
    const es = new IpopCmaes({ box: makeBox([3], [3]), rng: new Rng(1), maxEvaluations: 100 });
    const trace = drive(es, sphere);
    expect(trace.evaluations).toBe(1);
    expect(es.stop()).toEqual(['exhausted']);
    expect(es.best?.value).toBe(-9);
  });
});
