import { InvalidOptionError, OptimizerProtocolError, Rng, isInBox, makeBox, type Box } from '@nnmax/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cmaesParams } from './cmaes-params.js';
import { CMAES_DEFAULTS, Cmaes, boxTransform, boxTransformInverse, type CmaesOptions } from './cmaes.js';
import { ellipsoid, randomOrthogonal, rosenbrock, rotated, sphere, type TestFunction } from './test-functions.js';

const N = 10;

function cube(n: number, lo: number, hi: number): Box {
  return makeBox(new Array<number>(n).fill(lo), new Array<number>(n).fill(hi));
}

/**
 * Minimises f by maximising -f until f <= target; returns the evaluations used (Infinity when the
 * run stops or the budget is spent first).
 */
function evaluationsToTarget(options: CmaesOptions, f: TestFunction, target: number, budget = 50_000): number {
  const es = new Cmaes(options);
  let evaluations = 0;
  while (evaluations < budget) {
    const points = es.ask();
    if (points.length === 0) return Infinity;
    const values = Float64Array.from(points, (x) => -f(x));
    es.tell(points, values);
    for (const v of values) {
      evaluations++;
      if (-v <= target) return evaluations;
    }
  }
  return Infinity;
}

function medianOf(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  return s[s.length >> 1];
}

function isFiniteState(es: Cmaes): boolean {
  const st = es.state;
  return (
    Number.isFinite(st.sigma) &&
    st.sigma > 0 &&
    [st.mean, st.C, st.B, st.D, st.pc, st.ps].every((a) => a.every(Number.isFinite)) &&
    st.D.every((d) => d > 0)
  );
}

describe('cmaesParams', () => {
  it('n = 10: lambda 10, mu 5, w_1 ~ 45% and mu_eff ~ 3.2 (as pycma reports "(5_w,10)-CMA-ES (mu_w=3.2,w_1=45%)")', () => {
    const p = cmaesParams(10);
    expect(p.lambda).toBe(10);
    expect(p.mu).toBe(5);
    expect(p.weights[0]).toBeCloseTo(0.4563, 3);
    expect(p.muEff).toBeCloseTo(3.1672, 3);
    expect(p.weights.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 14);
    expect(p.c1 + p.cMu).toBeLessThanOrEqual(1);
    expect(p.cSigma).toBeLessThan(1);
    expect(p.cc).toBeLessThanOrEqual(1);
    // E||N(0, I)|| for n = 10 is sqrt(2) Gamma(5.5) / Gamma(5) = 3.0844...
    expect(p.chiN).toBeCloseTo(3.0844, 3);
  });

  it('weights decrease and sum to one for every lambda; bad n or lambda throws InvalidOptionError', () => {
    for (const [n, lambda] of [[1, 2], [2, 3], [5, 100], [100, 17]] as const) {
      const p = cmaesParams(n, lambda);
      expect(p.weights.length).toBe(Math.floor(lambda / 2));
      expect(p.weights.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 14);
      for (let i = 1; i < p.weights.length; i++) expect(p.weights[i]).toBeLessThan(p.weights[i - 1]);
      expect(p.cMu).toBeGreaterThanOrEqual(0);
    }
    expect(() => cmaesParams(0)).toThrow(InvalidOptionError);
    expect(() => cmaesParams(3, 1)).toThrow(InvalidOptionError);
    expect(() => cmaesParams(3, 4.5)).toThrow(InvalidOptionError);
  });
});

describe('boxTransform', () => {
  it('maps every genotype into [lo, hi], is the identity inside, and is inverted on [lo - a, hi + a]', () => {
    fc.assert(
      fc.property(
        fc.double({ min: -1e6, max: 1e6, noNaN: true }),
        fc.double({ min: 1e-6, max: 1e6, noNaN: true }),
        fc.double({ min: -1e9, max: 1e9, noNaN: true }),
        (lo, width, g) => {
          const hi = lo + width;
          fc.pre(hi > lo);
          const x = boxTransform(g, lo, hi);
          expect(x).toBeGreaterThanOrEqual(lo);
          expect(x).toBeLessThanOrEqual(hi);
          const inner = lo + 0.1 * width + (g - Math.floor(g / width) * width) * 0.8; // inside [lo + 0.1 w, hi - 0.1 w]
          expect(boxTransform(inner, lo, hi)).toBe(inner);
          const a = 0.05 * width;
          const t = lo - a + ((g % (width + 2 * a)) + width + 2 * a) % (width + 2 * a); // in [lo - a, hi + a]
          expect(boxTransformInverse(boxTransform(t, lo, hi), lo, hi)).toBeCloseTo(t, Math.max(0, 8 - Math.log10(1 + Math.abs(lo) + width)));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('is continuous at the layer edges and periodic with period 2 (w + 2a)', () => {
    const [lo, hi] = [-1, 3];
    const a = 0.05 * 4;
    for (const edge of [lo - a, lo + a, hi - a, hi + a]) {
      expect(Math.abs(boxTransform(edge - 1e-9, lo, hi) - boxTransform(edge + 1e-9, lo, hi))).toBeLessThan(1e-8);
    }
    for (const g of [-1e300, -3, 0, 5e-324, 7, 1e300]) {
      const x = boxTransform(g, 0, 5e-324); // subnormal width
      expect(x >= 0 && x <= 5e-324).toBe(true);
    }
    expect(boxTransform(lo - a, lo, hi)).toBe(lo);
    expect(boxTransform(hi + a, lo, hi)).toBe(hi);
    const period = 2 * (hi - lo + 2 * a);
    for (const g of [-0.9, 0.2, 2.95, 3.1, -1.15]) {
      expect(boxTransform(g + 3 * period, lo, hi)).toBeCloseTo(boxTransform(g, lo, hi), 12);
      expect(boxTransform(g - 7 * period, lo, hi)).toBeCloseTo(boxTransform(g, lo, hi), 12);
    }
  });
});

describe('Cmaes: published performance at n = 10 (minimising, f <= 1e-8)', () => {
  // Published figures for the default (mu/mu_W, lambda)-CMA-ES with rank-mu update at n = 10:
  // sphere ~1.5e3, ellipsoid (cond 1e6) ~6e3, Rosenbrock ~6e3 function evaluations
  // (N. Hansen & A. Ostermeier, "Completely Derandomized Self-Adaptation in Evolution Strategies",
  // Evolutionary Computation 9(2), 2001; N. Hansen, S. D. Mueller & P. Koumoutsakos, Evolutionary
  // Computation 11(1), 2003; the same orders are quoted in Hansen's tutorial, arXiv:1604.00772).
  // We assert 2x those counts, on three seeds each. Measured (10 seeds, median): 1350, 5630, 6020.
  const seeds = [1, 2, 3];
  const box = cube(N, -5, 5);
  const cases: [string, TestFunction, number, number, number][] = [
    // name, f, x0 (all coordinates), sigma0, bound on evaluations
    ['sphere', sphere, 1, 1, 3_000],
    ['ellipsoid', ellipsoid, 1, 1, 12_000],
    ['rosenbrock', rosenbrock, 0, 0.5, 12_000],
  ];
  it.each(cases)('%s reaches 1e-8 within 2x the published evaluations', (_name, f, x0, sigma0, bound) => {
    for (const seed of seeds) {
      const used = evaluationsToTarget({ box, rng: new Rng(seed), x0: new Float64Array(N).fill(x0), sigma0 }, f, 1e-8);
      expect(used).toBeLessThanOrEqual(bound);
    }
  });
});

describe('Cmaes: invariance', () => {
  it('rotation: a rotated ellipsoid needs about as many evaluations as the axis-parallel one (within 1.5x)', () => {
    const box = cube(N, -20, 20); // wide: the boundary plays no part
    const options = (seed: number): CmaesOptions => ({ box, rng: new Rng(seed), x0: new Float64Array(N).fill(1), sigma0: 1 });
    const plain = [11, 12, 13, 14, 15].map((s) => evaluationsToTarget(options(s), ellipsoid, 1e-8));
    const turned = [11, 12, 13, 14, 15].map((s) => evaluationsToTarget(options(s), rotated(ellipsoid, randomOrthogonal(N, new Rng(100 + s))), 1e-8));
    const ratio = medianOf(turned) / medianOf(plain);
    expect(ratio).toBeGreaterThan(1 / 1.5);
    expect(ratio).toBeLessThan(1.5);
  });

  /** The ranking (argsort) of every generation until stop or `generations`. */
  function rankingTrajectory(options: CmaesOptions, f: TestFunction, generations: number): { ranks: number[][]; points: Float64Array[][] } {
    const es = new Cmaes(options);
    const ranks: number[][] = [];
    const points: Float64Array[][] = [];
    for (let g = 0; g < generations; g++) {
      const xs = es.ask();
      if (xs.length === 0) break;
      const values = Float64Array.from(xs, (x) => -f(x));
      ranks.push(Array.from(values.keys()).sort((a, b) => values[b] - values[a] || a - b));
      points.push(xs);
      es.tell(xs, values);
    }
    return { ranks, points };
  }

  it.each([
    ['interior optimum', 0.37],
    ['optimum outside the box (run converges onto a face)', 7.5],
  ])('scaling: f(x) and f(x / s) on the box scaled by s give the same ranking trajectory (%s)', (_label, centre) => {
    const f: TestFunction = (x) => ellipsoid(Array.from(x, (v) => v - centre));
    const base = { box: cube(6, -5, 5), x0: new Float64Array(6).fill(2) };
    const reference = rankingTrajectory({ ...base, rng: new Rng(4) }, f, 400);
    expect(reference.ranks.length).toBeGreaterThan(100);
    // s a power of two: every floating-point step scales exactly, so the points do too
    const s2 = 32;
    const exact = rankingTrajectory(
      { box: cube(6, -5 * s2, 5 * s2), x0: new Float64Array(6).fill(2 * s2), rng: new Rng(4) },
      (x) => f(Array.from(x, (v) => v / s2)),
      400,
    );
    expect(exact.ranks).toEqual(reference.ranks);
    exact.points.forEach((gen, g) => gen.forEach((x, k) => expect(Array.from(x)).toEqual(Array.from(reference.points[g][k], (v) => v * s2))));
    // s = 10: rounding differs, the ranking does not
    const s10 = 10;
    const decimal = rankingTrajectory(
      { box: cube(6, -5 * s10, 5 * s10), x0: new Float64Array(6).fill(2 * s10), rng: new Rng(4) },
      (x) => f(Array.from(x, (v) => v / s10)),
      400,
    );
    expect(decimal.ranks.slice(0, 100)).toEqual(reference.ranks.slice(0, 100));
  });
});

describe('Cmaes: determinism', () => {
  function firstPoints(seed: number, generations: number): number[][] {
    const es = new Cmaes({ box: cube(5, -3, 3), rng: new Rng(seed) });
    const out: number[][] = [];
    for (let g = 0; g < generations; g++) {
      const xs = es.ask();
      out.push(...xs.map((x) => Array.from(x)));
      es.tell(xs, Float64Array.from(xs, (x) => -rosenbrock(x)));
    }
    return out;
  }

  it('same seed gives identical asked points; different seeds differ', () => {
    expect(firstPoints(42, 30)).toEqual(firstPoints(42, 30));
    expect(firstPoints(42, 1)).not.toEqual(firstPoints(43, 1));
  });
});

describe('Cmaes: properties', () => {
  const boxArb = fc
    .array(
      fc.record({
        lo: fc.double({ min: -1e3, max: 1e3, noNaN: true }),
        width: fc.oneof(fc.constant(0), fc.double({ min: 1e-6, max: 1e3, noNaN: true })),
      }),
      { minLength: 1, maxLength: 6 },
    )
    .map((cs) => makeBox(cs.map((c) => c.lo), cs.map((c) => c.lo + c.width)));

  it('ask() stays in the box, incl. zero-width coordinates and huge sigma0, while the objective pushes outwards', () => {
    fc.assert(
      fc.property(boxArb, fc.integer({ min: 0, max: 2 ** 31 }), fc.double({ min: 1e-3, max: 1e3, noNaN: true }), (box, seed, sigmaScale) => {
        const width = box.hi.reduce((s, h, i) => s + h - box.lo[i], 0) / box.lo.length;
        const dir = Array.from(box.lo, (_, i) => (i % 2 === 0 ? 1 : -1));
        const es = new Cmaes({ box, rng: new Rng(seed), sigma0: Math.max(1e-9, width) * sigmaScale, maxEvaluations: 600 });
        for (let g = 0; g < 40; g++) {
          const xs = es.ask();
          if (xs.length === 0) break;
          for (const x of xs) {
            expect(isInBox(x, box)).toBe(true);
            box.lo.forEach((lo, i) => box.hi[i] === lo && expect(x[i]).toBe(lo));
          }
          es.tell(xs, Float64Array.from(xs, (x) => x.reduce((s, v, i) => s + dir[i] * v, 0)));
        }
        expect(isFiniteState(es)).toBe(true);
      }),
      { numRuns: 60 },
    );
  });

  it('tell with NaN and +-Infinity values keeps the state finite, ranks them worst, and the run continues', () => {
    const special = fc.constantFrom(Number.NaN, Infinity, -Infinity);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 }), fc.array(fc.array(fc.option(special, { freq: 2 }), { minLength: 10, maxLength: 10 }), { minLength: 1, maxLength: 30 }), (seed, pattern) => {
        const es = new Cmaes({ box: cube(N, -5, 5), rng: new Rng(seed) });
        for (const row of pattern) {
          const xs = es.ask();
          expect(xs.length).toBe(10);
          const values = Float64Array.from(xs, (x, k) => row[k] ?? -sphere(x));
          es.tell(xs, values);
          expect(isFiniteState(es)).toBe(true);
          if (es.best) expect(Number.isFinite(es.best.value)).toBe(true);
        }
        expect(es.ask().length).toBe(10);
      }),
      { numRuns: 40 },
    );
  });

  it('non-finite values rank worst: a sphere run with 30% NaN/Infinity values still converges', () => {
    const noise = new Rng(77);
    const es = new Cmaes({ box: cube(N, -5, 5), rng: new Rng(5), x0: new Float64Array(N).fill(1), sigma0: 1 });
    for (let g = 0; g < 400 && es.stop().length === 0; g++) {
      const xs = es.ask();
      es.tell(xs, Float64Array.from(xs, (x) => (noise.next() < 0.3 ? [Number.NaN, Infinity, -Infinity][noise.int(3)] : -sphere(x))));
    }
    expect(es.best && -es.best.value).toBeLessThan(1e-8);
  });

  it('tell with other points, another order, a missing point, wrong value count or no ask throws OptimizerProtocolError and changes nothing', () => {
    const es = new Cmaes({ box: cube(3, -1, 1), rng: new Rng(1) });
    const v = (k: number) => new Float64Array(k).fill(1);
    expect(() => es.tell([], v(0))).toThrow(OptimizerProtocolError);
    const xs = es.ask();
    const lambda = xs.length;
    const before = JSON.stringify({ m: Array.from(es.state.mean), s: es.state.sigma });
    expect(() => es.tell(xs.map((x) => Float64Array.from(x)), v(lambda))).toThrow(OptimizerProtocolError);
    expect(() => es.tell(xs.slice().reverse(), v(lambda))).toThrow(OptimizerProtocolError);
    expect(() => es.tell(xs.slice(1), v(lambda - 1))).toThrow(OptimizerProtocolError);
    expect(() => es.tell(xs, v(lambda + 1))).toThrow(OptimizerProtocolError);
    expect(JSON.stringify({ m: Array.from(es.state.mean), s: es.state.sigma })).toBe(before);
    es.tell(xs, v(lambda));
    expect(() => es.tell(xs, v(lambda))).toThrow(OptimizerProtocolError);
    expect(es.state.generation).toBe(1);
  });

  it('a bad option throws InvalidOptionError naming it', () => {
    const good = { box: cube(3, -1, 1), rng: new Rng(1) };
    const bad: [string, Partial<Record<string, unknown>>][] = [
      ['sigma0', { sigma0: 0 }],
      ['sigma0', { sigma0: Number.NaN }],
      ['sigma0', { sigma0: -1 }],
      ['lambda', { lambda: 1 }],
      ['lambda', { lambda: 7.5 }],
      ['maxEvaluations', { maxEvaluations: 0 }],
      ['maxEvaluations', { maxEvaluations: 10.5 }],
      ['tolFun', { tolFun: -1 }],
      ['tolX', { tolX: Infinity }],
      ['maxCondition', { maxCondition: 1 }],
      ['x0', { x0: Float64Array.of(0, 0) }],
      ['x0', { x0: Float64Array.of(0, 0, 2) }],
      ['x0', { x0: [0, 0, 0] }],
      ['rng', { rng: undefined }],
      ['rng', { rng: { next: () => 0.5 } }],
      ['box', { box: { lo: Float64Array.of(0), hi: Float64Array.of(-1) } }],
      ['box', { box: { lo: new Float64Array(0), hi: new Float64Array(0) } }],
      ['box', { box: undefined }],
    ];
    fc.assert(
      fc.property(fc.constantFrom(...bad), ([option, patch]) => {
        let error: unknown;
        try {
          new Cmaes({ ...good, ...patch } as unknown as CmaesOptions);
        } catch (e) {
          error = e;
        }
        expect(error).toBeInstanceOf(InvalidOptionError);
        expect((error as InvalidOptionError).option.startsWith(option)).toBe(true);
      }),
      { numRuns: 60 },
    );
  });
});

describe('Cmaes: fixed coordinates and termination', () => {
  it('fixed coordinates stay out of the distribution: n counts the free ones and the run converges', () => {
    const lo = [-5, 2, -5, -5, 0.5, -5];
    const hi = [5, 2, 5, 5, 0.5, 5];
    const es = new Cmaes({ box: makeBox(lo, hi), rng: new Rng(3) });
    expect(es.params?.n).toBe(4);
    for (let g = 0; g < 1000 && es.stop().length === 0; g++) {
      const xs = es.ask();
      for (const x of xs) expect([x[1], x[4]]).toEqual([2, 0.5]);
      es.tell(xs, Float64Array.from(xs, (x) => -sphere([x[0] - 1, x[2], x[3] + 1, x[5]])));
    }
    expect(es.best && -es.best.value).toBeLessThan(1e-10);
  });

  it('a box with every coordinate fixed asks its single point once, then stops as exhausted', () => {
    const es = new Cmaes({ box: makeBox([1, 2], [1, 2]), rng: new Rng(3) });
    const xs = es.ask();
    expect(xs.map((x) => Array.from(x))).toEqual([[1, 2]]);
    es.tell(xs, Float64Array.of(5));
    expect(es.stop()).toEqual(['exhausted']);
    expect(es.ask()).toEqual([]);
    expect(es.best?.value).toBe(5);
  });

  function runToStop(options: CmaesOptions, f: (x: Float64Array) => number, maxGenerations = 20_000): Cmaes {
    const es = new Cmaes(options);
    for (let g = 0; g < maxGenerations && es.stop().length === 0; g++) {
      const xs = es.ask();
      es.tell(xs, Float64Array.from(xs, f));
    }
    return es;
  }

  const minusSphereAt = (c: number) => (x: Float64Array) => -x.reduce((s, v) => s + (v - c) ** 2, 0);

  it('stop reasons: tolFun (flat), tolX, noEffectAxis/Coord, conditionCov, tolStagnation (noise), maxEvaluations', () => {
    expect(runToStop({ box: cube(5, -1, 1), rng: new Rng(3) }, () => 1).stop()).toContain('tolFun');
    expect(runToStop({ box: cube(5, -1, 1), rng: new Rng(3), tolFun: 0 }, minusSphereAt(0.3)).stop()).toContain('tolX');
    const far = runToStop({ box: cube(3, 1e8 - 1, 1e8 + 1), rng: new Rng(3), tolFun: 0 }, minusSphereAt(1e8 + 0.1)).stop();
    expect(far.includes('noEffectAxis') || far.includes('noEffectCoord')).toBe(true);
    const illConditioned = runToStop({ box: cube(2, -1, 1), rng: new Rng(3), tolFun: 0 }, (x) => -(x[0] ** 2 + 1e20 * x[1] ** 2));
    expect(illConditioned.stop()).toContain('conditionCov');
    const noise = new Rng(9);
    expect(runToStop({ box: cube(5, -1, 1), rng: new Rng(3) }, () => noise.next()).stop()).toContain('tolStagnation');
    const budget = runToStop({ box: cube(5, -1, 1), rng: new Rng(3), maxEvaluations: 95 }, minusSphereAt(0));
    expect(budget.stop()).toEqual(['maxEvaluations']);
    expect(budget.state.evaluations).toBe(88); // 11 generations of 8; a 12th would exceed 95
    expect(budget.ask()).toEqual([]);
  });

  it('defaults: sigma0 is 0.3 x mean width of the free coordinates, x0 the box centre', () => {
    const es = new Cmaes({ box: makeBox([0, 1, -2], [4, 1, 6]), rng: new Rng(1) });
    expect(es.sigma0).toBeCloseTo(CMAES_DEFAULTS.sigma0Fraction * 6, 14);
    expect(Array.from(es.state.mean)).toEqual([2, 2]);
  });
});
