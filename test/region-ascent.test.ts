import fc from 'fast-check';
import { Rng } from '@nnmax/core';
import { evaluateSpec, isPiecewiseLinear, linearSpec, maximizeSmallLp, RegionAscent, regionAscentCost } from '@nnmax/bounds';
import { forward64, type IrGraph } from '@nnmax/onnx';
import type { Highs } from 'highs';
import { loadModel } from 'nnmax/node';
import { beforeAll, describe, expect, it } from 'vitest';
import { maximizeProblems } from './helpers/corpus.js';
import { loadHighs } from './oracles/milp.js';
import { boxArb, buildNet, maxMinSpecOf, netSpec, type NetSpec } from './helpers/random-nets.js';

/**
 * The region walk of the search portfolio (exact local ascent over the linear regions of ReLU and
 * LeakyReLU networks): its small LP solver against HiGHS, its affine maps against the float64
 * reference forward, local optimality in one dimension, and the exact MILP optima of ACAS Xu.
 */

/** A term of a CPLEX LP expression. */
function lpTerms(coeffs: ArrayLike<number>): string {
  let s = '';
  for (let j = 0; j < coeffs.length; j++) s += ` ${coeffs[j] < 0 ? '-' : '+'} ${Math.abs(coeffs[j]).toPrecision(17)} w${j}`;
  return s;
}

/** Indices of the piecewise-linear activation variants of random-nets (ReLU, LeakyReLU 0.1, 2.5). */
const PWL_ACTS = [0, 1, 2];
const pwlNet = (s: NetSpec): IrGraph => buildNet({ ...s, acts: s.acts.map((a) => PWL_ACTS[a % PWL_ACTS.length]) });

/**
 * A random piecewise-linear net with a box and a max-min spec over its outputs (terms grouped into
 * disjuncts), and what `extra` draws for the net.
 */
function walkCase<T>(extra: (s: NetSpec) => fc.Arbitrary<T>) {
  return netSpec.chain((s) =>
    fc.record({
      s: fc.constant(s),
      box: boxArb(s.nIn),
      terms: fc.array(fc.array(fc.double({ min: -2, max: 2, noNaN: true }), { minLength: s.nOut + 1, maxLength: s.nOut + 1 }), { minLength: 1, maxLength: 5 }),
      groups: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 3 }),
      extra: extra(s),
    }),
  );
}

describe('maximizeSmallLp', () => {
  let highs: Highs;
  beforeAll(async () => {
    highs = await loadHighs();
  });

  it('reaches the optimum HiGHS finds on random bounded LPs, from a feasible start with tight rows', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 0, max: 40 }), fc.integer({ min: 1, max: 2 ** 30 }), (dim, rows, seed) => {
        const rng = new Rng(seed);
        const m = rows + 2 * dim;
        const A = new Float64Array(m * dim);
        const b = new Float64Array(m);
        const w0 = Float64Array.from({ length: dim }, () => rng.uniform(-1, 1));
        for (let i = 0; i < rows; i++) {
          let aw = 0;
          for (let j = 0; j < dim; j++) {
            A[i * dim + j] = rng.normal();
            aw += A[i * dim + j] * w0[j];
          }
          b[i] = aw + (rng.uniform(0, 1) < 0.3 ? 0 : Math.abs(rng.normal())); // some rows tight at w0
        }
        for (let j = 0; j < dim; j++) {
          A[(rows + 2 * j) * dim + j] = -1;
          b[rows + 2 * j] = 1;
          A[(rows + 2 * j + 1) * dim + j] = 1;
          b[rows + 2 * j + 1] = 1;
        }
        const g = Float64Array.from({ length: dim }, () => rng.normal());
        const r = maximizeSmallLp({ dim, m, A, b, g }, w0);
        for (let i = 0; i < m; i++) {
          let aw = 0;
          for (let j = 0; j < dim; j++) aw += A[i * dim + j] * r.w[j];
          expect(aw).toBeLessThanOrEqual(b[i] + 1e-9);
        }
        const cons: string[] = [];
        for (let i = 0; i < rows; i++) cons.push(` r${i}:${lpTerms(A.subarray(i * dim, (i + 1) * dim))} <= ${b[i].toPrecision(17)}`);
        const text = [
          'Maximize',
          ` obj:${lpTerms(g)}`,
          'Subject To',
          ...(rows > 0 ? cons : [` r0:${lpTerms(new Float64Array(dim).fill(0))} <= 1`]),
          'Bounds',
          ...Array.from({ length: dim }, (_, j) => ` -1 <= w${j} <= 1`),
          'End',
        ].join('\n');
        const h = highs.solve(text, { output_flag: false, primal_feasibility_tolerance: 1e-10, dual_feasibility_tolerance: 1e-10 });
        expect(h.Status).toBe('Optimal');
        expect(r.isOptimal).toBe(true);
        expect(Math.abs(r.value - h.ObjectiveValue)).toBeLessThanOrEqual(1e-8 * (1 + Math.abs(h.ObjectiveValue)));
      }),
      { numRuns: 200 },
    );
  });
});

describe('RegionAscent', () => {
  it('applies to ReLU and LeakyReLU networks only', () => {
    const spec: NetSpec = { nIn: 2, nOut: 1, widths: [3], acts: [0, 0, 0], blocks: [0, 0, 0], weightScale: 1, seed: 1 };
    expect(isPiecewiseLinear(pwlNet(spec))).toBe(true);
    const sigmoid = buildNet({ ...spec, acts: [3, 3, 3] });
    expect(isPiecewiseLinear(sigmoid)).toBe(false);
    expect(() => new RegionAscent(sigmoid, linearSpec(Float64Array.of(1)), { lo: Float64Array.of(0, 0), hi: Float64Array.of(1, 1) })).toThrow(/not piecewise linear/);
  });

  it('counts the cost of a start: (free inputs + 1) times the affine weights', () => {
    const spec: NetSpec = { nIn: 3, nOut: 2, widths: [4, 5], acts: [0, 0, 0], blocks: [0, 0, 0], weightScale: 1, seed: 1 };
    // weights 3*4 + 4*5 + 5*2 = 42
    expect(regionAscentCost(pwlNet(spec), 3)).toBe(4 * 42);
    expect(regionAscentCost(pwlNet(spec), 0)).toBe(42);
  });

  it('climbs, stays in the box, and predicts the network value at its vertex (random DAGs, max-min specs)', () => {
    fc.assert(
      fc.property(
        walkCase((s) => fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: s.nIn, maxLength: s.nIn })),
        ({ s, box, terms, groups, extra: u }) => {
          const graph = pwlNet(s);
          const spec = maxMinSpecOf(terms, groups, s.nOut);
          const x0 = Float64Array.from(u, (t, i) => box.lo[i] + t * (box.hi[i] - box.lo[i]));
          const f = (x: Float64Array): number => evaluateSpec(spec, forward64(graph, x, 1), 1)[0];
          const r = new RegionAscent(graph, spec, box).ascend(x0);
          r.x.forEach((v, i) => {
            expect(v).toBeGreaterThanOrEqual(box.lo[i]);
            expect(v).toBeLessThanOrEqual(box.hi[i]);
          });
          const value = f(r.x);
          const scale = 1 + Math.abs(value);
          // the walk follows the disjunct active at its start: its value is that disjunct's, a
          // lower bound of the spec's (the max over disjuncts), and equal to it with one disjunct
          expect(r.value).toBeLessThanOrEqual(value + 1e-8 * scale);
          if (spec.disjuncts.length === 1) expect(Math.abs(r.value - value)).toBeLessThanOrEqual(1e-8 * scale);
          expect(value).toBeGreaterThanOrEqual(f(x0) - 1e-9 * scale);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a walker that walks again ends where a new one does, bit for bit (its buffers carry over; walks cut short too)', () => {
    fc.assert(
      fc.property(
        walkCase(() => fc.integer({ min: 1, max: 2 ** 30 })),
        ({ s, box, terms, groups, extra: seed }) => {
          const graph = pwlNet(s);
          const spec = maxMinSpecOf(terms, groups, s.nOut);
          const rng = new Rng(seed);
          const shared = new RegionAscent(graph, spec, box);
          for (let k = 0; k < 6; k++) {
            const x0 = Float64Array.from(box.lo, (l, i) => rng.uniform(l, box.hi[i]));
            const maxRegions = k % 3 === 2 ? 2 : 64;
            const a = shared.ascend(x0, maxRegions);
            const b = new RegionAscent(graph, spec, box).ascend(x0, maxRegions);
            expect(Array.from(a.x)).toEqual(Array.from(b.x));
            expect(a.value).toBe(b.value);
            expect(a.regions).toBe(b.regions);
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it('ends at a local maximum in one dimension (or on a plateau)', () => {
    fc.assert(
      fc.property(netSpec, fc.integer({ min: 1, max: 2 ** 30 }), (s0, seed) => {
        const s = { ...s0, nIn: 1, nOut: 1 };
        const graph = pwlNet(s);
        const rng = new Rng(seed);
        const box = { lo: Float64Array.of(-2), hi: Float64Array.of(2) };
        const spec = linearSpec(Float64Array.of(rng.uniform(0, 1) < 0.5 ? 1 : -1));
        const f = (x: number): number => evaluateSpec(spec, forward64(graph, Float64Array.of(x), 1), 1)[0];
        const walk = new RegionAscent(graph, spec, box);
        for (let k = 0; k < 5; k++) {
          const r = walk.ascend(Float64Array.of(rng.uniform(-2, 2)));
          const x = r.x[0];
          const v = f(x);
          // on a plateau (a region where the net is constant) every point is a weak local
          // maximum, also near its edge, where f rises beyond: the walk stops there
          if (f(x - 1e-7) === v && f(x + 1e-7) === v) continue;
          // a step of 1e-7 (breakpoints closer than that to the vertex are vanishingly rare; at
          // 1e-4 the net may dip and rise again, so a true local maximum can look beaten there)
          for (const y of [x - 1e-7, x + 1e-7]) if (y >= -2 && y <= 2) expect(f(y)).toBeLessThanOrEqual(v + 1e-9 * (1 + Math.abs(v)));
        }
      }),
      { numRuns: 200 },
    );
  });

  it('reaches the exact MILP optima of ACAS Xu N1,1 and N1,2 (property 1) from the best points of a design', async () => {
    const problems = maximizeProblems().filter((p) => /ACASXU_run2a_1_[12]_batch_2000\/prop_1\//.test(p.id));
    expect(problems).toHaveLength(2);
    for (const p of problems) {
      expect(p.kind).toBe('exact');
      const ir = (await loadModel(p.onnx)).ir!;
      const c = Float64Array.from(p.c);
      const box = { lo: Float64Array.from(p.lo), hi: Float64Array.from(p.hi) };
      const n = box.lo.length;
      const rng = new Rng(1);
      const N = 256;
      const X = new Float64Array(N * n);
      for (let i = 0; i < X.length; i++) X[i] = rng.uniform(box.lo[i % n], box.hi[i % n]);
      const Y = forward64(ir, X, N);
      const v = Array.from({ length: N }, (_, s) => c.reduce((a, w, o) => a + w * Y[s * p.nOut + o], 0));
      const starts = v.map((_, i) => i).sort((a, b) => v[b] - v[a]).slice(0, 8);
      const walk = new RegionAscent(ir, linearSpec(c), box);
      let best = -Infinity;
      for (const s of starts) {
        const r = walk.ascend(X.subarray(s * n, (s + 1) * n));
        const y = forward64(ir, r.x, 1);
        best = Math.max(best, c.reduce((a, w, o) => a + w * y[o], 0));
      }
      expect(best).toBeLessThanOrEqual(p.optimum + 1e-9);
      expect(best).toBeGreaterThanOrEqual(p.optimum - 1e-9);
    }
  });
});
