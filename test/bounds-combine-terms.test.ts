import { Rng } from '@nnmax/core';
import highsModule from 'highs';
import { beforeAll, describe, expect, it } from 'vitest';
import { combinedRow, combinedRowBound, combineTerms } from '../packages/bounds/src/combine-terms.js';

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

/** An exact dyadic rational n 2^e (every finite float64 is one). */
interface Exact {
  readonly n: bigint;
  readonly e: number;
}

function exact(x: number): Exact {
  if (!Number.isFinite(x)) throw new Error(`not finite: ${x}`);
  if (x === 0) return { n: 0n, e: 0 };
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const bits = view.getBigUint64(0);
  const sign = bits >> 63n ? -1n : 1n;
  const biased = Number((bits >> 52n) & 0x7ffn);
  const frac = bits & ((1n << 52n) - 1n);
  return biased === 0 ? { n: sign * frac, e: -1074 } : { n: sign * ((1n << 52n) | frac), e: biased - 1075 };
}

function add(a: Exact, b: Exact): Exact {
  const e = Math.min(a.e, b.e);
  return { n: (a.n << BigInt(a.e - e)) + (b.n << BigInt(b.e - e)), e };
}

function mul(a: Exact, b: Exact): Exact {
  return { n: a.n * b.n, e: a.e + b.e };
}

/** Sign of a - b. */
function compare(a: Exact, b: Exact): number {
  const d = add(a, { n: -b.n, e: b.e }).n;
  return d > 0n ? 1 : d < 0n ? -1 : 0;
}

describe('combinedRow and combinedRowBound: the combination of several terms as one row, with its rounding bounded', () => {
  /**
   * Terms whose weighted sum cancels (D_1 is nearly -D_0 lambda_0 / lambda_1), with multipliers that
   * are not dyadic, so that the float combination really rounds: the slack must cover it.
   */
  function cancellingCase(rng: Rng, m: number, nOut: number) {
    const lambda = Float64Array.from({ length: m }, () => rng.uniform(0.05, 1) / 3);
    const D = new Float64Array(m * nOut);
    for (let j = 0; j < m; j++) for (let o = 0; o < nOut; o++) D[j * nOut + o] = rng.normal() * 10 ** rng.int(6);
    for (let o = 0; o < nOut; o++) D[nOut + o] = (-D[o] * lambda[0]) / lambda[1] + rng.normal() * 1e-9;
    const e = Float64Array.from({ length: m }, () => rng.normal() * 10 ** rng.int(4));
    e[1] = (-e[0] * lambda[0]) / lambda[1];
    const yLo = Float64Array.from({ length: nOut }, () => rng.uniform(-50, 0));
    const yHi = Float64Array.from(yLo, (l) => l + rng.uniform(0, 50));
    return { lambda, D, e, yLo, yHi };
  }

  it('c . y + e is within slack of sum_j lambda_j (D_j . y + e_j) at every vertex of the output box (exact arithmetic), and the rounding is not nil', () => {
    const rng = new Rng(5);
    let rounded = 0;
    for (let s = 0; s < 60; s++) {
      const m = 2 + (s % 4);
      const nOut = 1 + (s % 5);
      const t = cancellingCase(rng, m, nOut);
      const rows = Array.from({ length: m }, (_, j) => j);
      const row = combinedRow(t.D, t.e, rows, t.lambda, nOut, t.yLo, t.yHi);
      expect(row).toBeDefined();
      if (row === undefined) continue;
      for (let v = 0; v < 1 << nOut; v++) {
        const y = Float64Array.from(t.yLo, (l, o) => ((v >> o) & 1 ? t.yHi[o] : l));
        let truth: Exact = { n: 0n, e: 0 };
        for (let j = 0; j < m; j++) {
          let term = exact(t.e[j]);
          for (let o = 0; o < nOut; o++) term = add(term, mul(exact(t.D[j * nOut + o]), exact(y[o])));
          truth = add(truth, mul(exact(t.lambda[j]), term));
        }
        let rowValue = exact(row.e);
        for (let o = 0; o < nOut; o++) rowValue = add(rowValue, mul(exact(row.c[o]), exact(y[o])));
        const diff = add(truth, { n: -rowValue.n, e: rowValue.e });
        const absDiff = { n: diff.n < 0n ? -diff.n : diff.n, e: diff.e };
        expect(compare(absDiff, exact(row.slack))).toBeLessThanOrEqual(0);
        if (diff.n !== 0n) rounded++;
      }
    }
    expect(rounded).toBeGreaterThan(50); // the test would catch a missing slack
  });

  it('the bound over sum lambda_j is at least (ub + slack) / sum lambda_j in exact arithmetic, of either sign', () => {
    const rng = new Rng(6);
    for (let s = 0; s < 200; s++) {
      const m = 2 + (s % 5);
      const lambda = Float64Array.from({ length: m }, () => rng.uniform(0, 1) / 7);
      const row = combinedRow(new Float64Array(m), new Float64Array(m), Array.from({ length: m }, (_, j) => j), lambda, 1, Float64Array.of(-1), Float64Array.of(1));
      expect(row).toBeDefined();
      if (row === undefined) continue;
      const ub = rng.normal() * 10 ** (rng.int(20) - 10);
      const bound = combinedRowBound(ub, row);
      let sum: Exact = { n: 0n, e: 0 };
      for (const w of lambda) sum = add(sum, exact(w));
      expect(compare(mul(exact(bound), sum), add(exact(ub), exact(row.slack)))).toBeGreaterThanOrEqual(0);
    }
  });

  it('refuses multipliers that are negative, NaN or all zero, and keeps infinite bounds infinite', () => {
    const D = Float64Array.of(1, -1);
    const e = Float64Array.of(0, 1);
    const lo = Float64Array.of(0);
    const hi = Float64Array.of(1);
    expect(combinedRow(D, e, [0, 1], Float64Array.of(-0.5, 1), 1, lo, hi)).toBeUndefined();
    expect(combinedRow(D, e, [0, 1], Float64Array.of(Number.NaN, 1), 1, lo, hi)).toBeUndefined();
    expect(combinedRow(D, e, [0, 1], Float64Array.of(0, 0), 1, lo, hi)).toBeUndefined();
    expect(combinedRow(D, e, [0, 1], Float64Array.of(1, 1), 1, Float64Array.of(-Infinity), hi)).toBeUndefined();
    const row = combinedRow(D, e, [0, 1], Float64Array.of(1, 1), 1, lo, hi);
    expect(row?.c[0]).toBe(0); // min(y, 1 - y) <= (y + 1 - y) / 2 = 1/2
    expect(combinedRowBound(1, row!)).toBeGreaterThanOrEqual(0.5);
    expect(combinedRowBound(1, row!)).toBeLessThan(0.5 + 1e-12);
    expect(combinedRowBound(Infinity, row!)).toBe(Infinity);
    expect(combinedRowBound(Number.NaN, row!)).toBe(Infinity);
    expect(combinedRowBound(-Infinity, row!)).toBe(-Infinity);
  });
});
