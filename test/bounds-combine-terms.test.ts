import { Rng } from '@nnmax/core';
import highsModule from 'highs';
import { beforeAll, describe, expect, it } from 'vitest';
import { combineTerms } from '../packages/bounds/src/combine-terms.js';

const highsLoader: typeof highsModule.default =
  (highsModule as Partial<typeof highsModule>).default ?? (highsModule as unknown as typeof highsModule.default);

interface Case {
  readonly A: Float64Array; // [m, n]
  readonly c: Float64Array; // [m]
  readonly lo: Float64Array;
  readonly hi: Float64Array;
  readonly m: number;
  readonly n: number;
}

/** Random terms whose maxima over the box are close, so that their minimum is attained where several tie. */
function randomCase(rng: Rng, m: number, n: number): Case {
  const A = Float64Array.from({ length: m * n }, () => rng.normal());
  const lo = Float64Array.from({ length: n }, () => rng.uniform(-2, 0));
  const hi = Float64Array.from(lo, (l) => l + rng.uniform(1e-3, 2));
  const c = new Float64Array(m);
  for (let j = 0; j < m; j++) {
    let mx = 0;
    for (let k = 0; k < n; k++) mx += Math.max(A[j * n + k] * lo[k], A[j * n + k] * hi[k]);
    c[j] = -mx + rng.uniform(0, 0.5);
  }
  return { A, c, lo, hi, m, n };
}

/** min_j (A_j . x + c_j): the function whose maximum over the box is bounded. */
function minTerm(t: Case, x: Float64Array): number {
  let v = Infinity;
  for (let j = 0; j < t.m; j++) {
    let s = t.c[j];
    for (let k = 0; k < t.n; k++) s += t.A[j * t.n + k] * x[k];
    v = Math.min(v, s);
  }
  return v;
}

/** max over the box of min_j (A_j . x + c_j) as an LP (max t, t <= A_j . x + c_j), by HiGHS. */
function lpOptimum(highs: Awaited<ReturnType<typeof highsLoader>>, t: Case): number {
  const num = (v: number): string => (v >= 0 ? `+ ${v}` : `- ${-v}`);
  const rows: string[] = [];
  for (let j = 0; j < t.m; j++) {
    let row = ` r${j}: t`;
    for (let k = 0; k < t.n; k++) row += ` ${num(-t.A[j * t.n + k])} x${k}`;
    rows.push(`${row} <= ${t.c[j]}`);
  }
  const bounds = Array.from({ length: t.n }, (_, k) => ` ${t.lo[k]} <= x${k} <= ${t.hi[k]}`);
  const lp = `Maximize\n obj: t\nSubject To\n${rows.join('\n')}\nBounds\n t free\n${bounds.join('\n')}\nEnd\n`;
  const r = highs.solve(lp, { primal_feasibility_tolerance: 1e-10, dual_feasibility_tolerance: 1e-10 });
  expect(r.Status).toBe('Optimal');
  return r.ObjectiveValue;
}

describe('combineTerms: a bound on max over a box of the least of several linear terms', () => {
  let highs: Awaited<ReturnType<typeof highsLoader>>;
  beforeAll(async () => {
    highs = await highsLoader();
  });

  it('is never below the LP optimum and equals it (within 1e-9) on random cases', () => {
    const rng = new Rng(7);
    let nearOptimal = 0;
    let total = 0;
    for (const [m, n] of [[2, 5], [3, 5], [4, 5], [4, 12], [6, 3]] as const) {
      for (let s = 0; s < 40; s++) {
        const t = randomCase(rng, m, n);
        const { ub, x } = combineTerms(t.A, t.c, Array.from({ length: m }, (_, j) => j), t.lo, t.hi, 0, n);
        const opt = lpOptimum(highs, t);
        expect(ub).toBeGreaterThanOrEqual(opt - 1e-9 * (1 + Math.abs(opt)));
        // never worse than the best single term
        let single = Infinity;
        for (let j = 0; j < m; j++) {
          let v = t.c[j];
          for (let k = 0; k < n; k++) v += Math.max(t.A[j * n + k] * t.lo[k], t.A[j * n + k] * t.hi[k]);
          single = Math.min(single, v);
        }
        expect(ub).toBeLessThanOrEqual(single * (1 + 1e-12) + 1e-12);
        // x is a point of the box
        for (let k = 0; k < n; k++) expect(x[k] >= t.lo[k] && x[k] <= t.hi[k]).toBe(true);
        total++;
        if (ub - opt <= 1e-9 * (1 + Math.abs(opt))) nearOptimal++;
      }
    }
    expect(nearOptimal).toBe(total);
  });

  it('bounds every sampled point and vertex of the box (soundness at float resolution)', () => {
    const rng = new Rng(11);
    for (let s = 0; s < 60; s++) {
      const m = 2 + (s % 4);
      const n = 1 + (s % 5);
      const t = randomCase(rng, m, n);
      const { ub } = combineTerms(t.A, t.c, Array.from({ length: m }, (_, j) => j), t.lo, t.hi, 0, n);
      let best = -Infinity;
      for (let v = 0; v < 1 << n; v++) best = Math.max(best, minTerm(t, Float64Array.from(t.lo, (l, k) => ((v >> k) & 1 ? t.hi[k] : l))));
      for (let q = 0; q < 2000; q++) best = Math.max(best, minTerm(t, Float64Array.from(t.lo, (l, k) => rng.uniform(l, t.hi[k]))));
      expect(ub).toBeGreaterThanOrEqual(best);
    }
  });

  it('is exact where two terms cross at an interior point: max of min(x, 1 - x) on [0, 1] is 1/2', () => {
    const A = Float64Array.of(1, -1);
    const c = Float64Array.of(0, 1);
    const { ub, x } = combineTerms(A, c, [0, 1], Float64Array.of(0), Float64Array.of(1), 0, 1);
    expect(ub).toBeGreaterThanOrEqual(0.5);
    expect(ub).toBeLessThan(0.5 + 1e-12);
    expect(x[0]).toBeGreaterThanOrEqual(0);
    expect(x[0]).toBeLessThanOrEqual(1);
  });

  it('reads rows and the box at offsets, and ignores a term with non-finite coefficients', () => {
    const A = Float64Array.of(9, 9, 1, -1); // rows 1 and 2 of a [3, 1] matrix; row 0 unused
    const c = Float64Array.of(9, 0, 1);
    const lo = Float64Array.of(5, 0);
    const hi = Float64Array.of(6, 1);
    const { ub } = combineTerms(Float64Array.of(9, 1, -1), c, [1, 2], lo, hi, 1, 1);
    expect(ub).toBeLessThan(0.5 + 1e-12);
    expect(A.length).toBe(4);
    const oneBad = combineTerms(Float64Array.of(NaN, 1), Float64Array.of(0, 0), [0, 1], Float64Array.of(0), Float64Array.of(1), 0, 1);
    expect(oneBad.ub).toBeGreaterThanOrEqual(1);
    expect(oneBad.ub).toBeLessThan(1 + 1e-12);
    const allBad = combineTerms(Float64Array.of(NaN, Infinity), Float64Array.of(0, 0), [0, 1], Float64Array.of(0), Float64Array.of(1), 0, 1);
    expect(allBad.ub).toBe(Infinity);
  });
});
