import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidOptionError, makeBox, Rng, type Box } from '@nnmax/core';
import { branchAndBound, polytopeBound, rowsCuttingBox, type InputPolytope } from '@nnmax/bounds';
import { forward64, type IrGraph } from '@nnmax/onnx';
import type { Highs } from 'highs';
import { isFeasible, loadModel, maximize, minimize, parseDomain, parseVnnlib, verify, type Domain, type Model } from 'nnmax';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, ROOT } from './helpers/cli.js';
import { TestGraph, weights } from './helpers/onnx-builder.js';
import { denseReluNet } from './helpers/random-ir.js';
import { createMilpOracle, domainInputRows, loadHighs, type MilpOracle } from './oracles/milp.js';

/**
 * Certified bounds over domains smaller than their box: linear input constraints A x <= b (the
 * dual bound of `polytopeBound`) and integer inputs (branch-and-bound splits them between
 * integers). Checked against HiGHS: the exact LP optimum for single bounds, the exact MILP
 * optimum with the same constraints for whole branch-and-bound runs. A bound below an optimum
 * fails the test without tolerance.
 */

/** HiGHS's feasibility tolerances are 1e-9: its optimum may sit that far outside the rows. */
const HIGHS_TOL = 1e-6;

/** max a . x + c over the box and A x <= b by HiGHS (LP): the optimum, or undefined when infeasible. */
function lpMax(highs: Highs, a: Float64Array, c: number, P: InputPolytope, box: Box): number | undefined {
  const n = a.length;
  const term = (v: number, name: string): string => `${v < 0 ? '-' : '+'} ${Math.abs(v)} ${name}`;
  const lines = ['Maximize', ` obj: ${Array.from(a, (v, k) => term(v, `x${k}`)).join(' ')}`, 'Subject To'];
  for (let j = 0; j < P.m; j++) lines.push(` r${j}: ${Array.from({ length: n }, (_, k) => term(P.A[j * n + k], `x${k}`)).join(' ')} <= ${P.b[j]}`);
  lines.push('Bounds', ...Array.from({ length: n }, (_, k) => ` ${box.lo[k]} <= x${k} <= ${box.hi[k]}`), 'End', '');
  const r = highs.solve(lines.join('\n'), { output_flag: false, primal_feasibility_tolerance: 1e-9, dual_feasibility_tolerance: 1e-9 });
  if (r.Status === 'Infeasible') return undefined;
  expect(r.Status).toBe('Optimal');
  return r.ObjectiveValue + c;
}

function randomPolytope(rng: Rng, n: number, m: number, box: Box): InputPolytope {
  const A = Float64Array.from({ length: m * n }, () => (rng.uniform(0, 1) < 0.2 ? 0 : rng.normal()));
  // each row cuts the box somewhere between its least and largest value over the box
  const b = Float64Array.from({ length: m }, (_, j) => {
    let min = 0;
    let max = 0;
    for (let k = 0; k < n; k++) {
      const v = A[j * n + k];
      min += Math.min(v * box.lo[k], v * box.hi[k]);
      max += Math.max(v * box.lo[k], v * box.hi[k]);
    }
    return min + rng.uniform(-0.1, 1) * (max - min);
  });
  return { m, A, b };
}

describe('polytopeBound: the dual bound of a linear function over a box and linear rows', () => {
  let highs: Highs;
  beforeAll(async () => {
    highs = await loadHighs();
  });

  it('is never below the exact LP optimum, and within 1e-7 of it (1 to 400 inputs, 1 to 10 rows); a box that the rows miss gets a bound below its least value', () => {
    const rng = new Rng(20261203);
    let feasible = 0;
    let empty = 0;
    for (let t = 0; t < 460; t++) {
      // mostly small, and 60 cases of 50 to 400 inputs and up to 10 rows
      const n = t < 400 ? 1 + rng.int(8) : 50 + rng.int(351);
      const m = t < 400 ? 1 + rng.int(4) : 1 + rng.int(10);
      const lo = Array.from({ length: n }, () => rng.uniform(-3, 1));
      const box = makeBox(lo, lo.map((l) => (rng.uniform(0, 1) < 0.1 ? l : l + rng.uniform(0.1, 4))));
      const P = randomPolytope(rng, n, m, box);
      const a = Float64Array.from({ length: n }, () => rng.normal());
      const c = rng.normal();
      const lp = lpMax(highs, a, c, P, box);
      const cut = rowsCuttingBox(P, box.lo, box.hi, 0, n);
      if (lp === undefined) {
        // infeasible by HiGHS: either one row excludes the box, or the dual bound lies below the
        // least value of a . x + c over the box (so any incumbent prunes it)
        empty++;
        if (cut === 'empty') continue;
        let least = c;
        for (let k = 0; k < n; k++) least += Math.min(a[k] * box.lo[k], a[k] * box.hi[k]);
        expect(polytopeBound(a, 0, c, P, cut, box.lo, box.hi, 0, n), `case ${t}`).toBeLessThan(least);
        continue;
      }
      feasible++;
      expect(cut, `case ${t}`).not.toBe('empty');
      const ub = polytopeBound(a, 0, c, P, cut as number[], box.lo, box.hi, 0, n);
      const scale = 1 + Math.abs(lp);
      expect(ub, `case ${t}`).toBeGreaterThanOrEqual(lp - HIGHS_TOL * scale);
      expect(ub, `case ${t}`).toBeLessThanOrEqual(lp + 1e-7 * scale);
    }
    expect(feasible).toBeGreaterThan(200);
    expect(empty).toBeGreaterThan(5);
  });

  it('rowsCuttingBox: rows that hold on the whole box are left out, a row that no point meets empties it', () => {
    const box = makeBox([0, 0], [1, 1]);
    const P: InputPolytope = { m: 3, A: Float64Array.of(1, 1, 1, 0, -1, 0), b: Float64Array.of(2.5, 0.5, -1.5) };
    expect(rowsCuttingBox({ m: 2, A: P.A.subarray(0, 4), b: P.b.subarray(0, 2) }, box.lo, box.hi, 0, 2)).toEqual([1]);
    expect(rowsCuttingBox(P, box.lo, box.hi, 0, 2)).toBe('empty');
  });
});

describe('branch-and-bound over linear rows and integer inputs agrees with the exact MILP', () => {
  let oracle: MilpOracle;
  beforeAll(async () => {
    oracle = await createMilpOracle();
  });

  function objectiveAt(graph: IrGraph, c: ArrayLike<number>, x: Float64Array): number {
    const y = forward64(graph, x, 1);
    let v = 0;
    for (let j = 0; j < graph.nOut; j++) v += c[j] * y[j];
    return v;
  }

  it.each(Array.from({ length: 12 }, (_, k) => k))('random net %i: optimal, the incumbent is the MILP optimum and in the domain, the bound above it', async (k) => {
    const rng = new Rng(900 + k);
    const nIn = 2 + (k % 4);
    const graph = denseReluNet(1000 + k, [nIn, 8, 8, 2], true);
    const lo = Array.from({ length: nIn }, () => rng.int(3) - 2);
    const box = makeBox(lo, lo.map((l) => l + 1 + rng.int(3)));
    const P = randomPolytope(rng, nIn, 1 + (k % 3), box);
    const integers = k % 2 === 1 ? [0] : [];
    const c = Float64Array.from({ length: 2 }, () => rng.normal());
    const milp = oracle.maximize(graph, c, box, { timeLimitMs: 60_000, inputRows: P, integerInputs: integers });
    if (milp.status === 'infeasible') {
      // no point of the domain: the bound proves it (-Infinity or far below anything on the box)
      const r = await branchAndBound(graph, c, box, { tol: 1e-7, split: 'input', polytope: P, integers, timeLimitMs: 20_000 });
      expect(r.incumbent).toBeUndefined();
      expect(r.upperBound).toBeLessThan(-1e3);
      return;
    }
    expect(milp.status).toBe('optimal');
    const xm = milp.x as Float64Array;
    const atMilp = objectiveAt(graph, c, xm);
    const r = await branchAndBound(graph, c, box, { tol: 1e-7, split: 'input', polytope: P, integers, timeLimitMs: 20_000 });
    expect(r.status).toBe('optimal');
    // the MILP's x may break a row by HiGHS's tolerance: its value bounds the optimum from below up to that
    expect(r.upperBound).toBeGreaterThanOrEqual(atMilp - HIGHS_TOL);
    const inc = r.incumbent as { x: Float64Array; value: number };
    expect(Math.abs(inc.value - milp.value)).toBeLessThanOrEqual(HIGHS_TOL * Math.max(1, Math.abs(milp.value)));
    expect(objectiveAt(graph, c, inc.x)).toBe(inc.value);
    for (let j = 0; j < P.m; j++) {
      let s = 0;
      for (let i = 0; i < nIn; i++) s += P.A[j * nIn + i] * inc.x[i];
      expect(s).toBeLessThanOrEqual(P.b[j]);
    }
    for (const i of integers) expect(Number.isInteger(inc.x[i])).toBe(true);
  });
});

describe('maximize and minimize with certify over a domain file: proved optimal at the MILP optimum', () => {
  let oracle: MilpOracle;
  let model: Awaited<ReturnType<typeof loadModel>>;
  beforeAll(async () => {
    oracle = await createMilpOracle();
    // 6 inputs: two continuous ones under linear rows, an integer, and a one-hot group of three
    const g = new TestGraph(['N', 6]);
    const h1 = g.op('Relu', [g.op('Gemm', ['x', g.init([12, 6], weights(72, 21)), g.init([12], weights(12, 22))], { transB: 1 })]);
    const h2 = g.op('Relu', [g.op('Gemm', [h1, g.init([12, 12], weights(144, 23)), g.init([12], weights(12, 24))], { transB: 1 })]);
    model = await loadModel(g.build(g.op('Gemm', [h2, g.init([2, 12], weights(24, 25)), g.init([2], weights(2, 26))], { transB: 1 }), ['N', 2]), { file: 'mixed.onnx' });
  });
  afterAll(async () => {
    await model.dispose();
  });

  const domain = (): Domain =>
    parseDomain(
      JSON.stringify({
        inputs: [{ lo: -1, hi: 1 }, { lo: -1, hi: 1 }, { lo: 0, hi: 4, integer: true }, { lo: 0, hi: 1 }, { lo: 0, hi: 1 }, { lo: 0, hi: 1 }],
        oneHot: [[3, 4, 5]],
        linear: [
          { a: { '0': 1, '1': 1 }, b: 0.5 },
          { a: { '0': 1, '2': 0.25 }, b: 0.8, sense: '>=' },
        ],
      }),
      6,
      'mixed.json',
    );

  it.each([
    ['maximize', 0],
    ['maximize', 1],
    ['minimize', 0],
  ] as const)('%s y%i', async (sense, out) => {
    const d = domain();
    const run = sense === 'maximize' ? maximize : minimize;
    const r = await run(model, { domain: d, objective: `y${out}`, certify: true, tol: 1e-5, timeLimitMs: 60_000, seed: 1 });
    expect(r.status).toBe('optimal');
    expect(isFeasible(d, r.x, 0)).toBe(true);
    const sign = sense === 'maximize' ? 1 : -1;
    const c = Float64Array.from({ length: 2 }, (_, j) => (j === out ? sign : 0));
    const ir = model.requireIr();
    const milp = oracle.maximize(ir, c, d.box, { timeLimitMs: 60_000, inputRows: domainInputRows(d), integerInputs: [2, 3, 4, 5] });
    expect(milp.status).toBe('optimal');
    const best = sign * milp.value;
    expect(Math.abs(r.value - best)).toBeLessThanOrEqual(1e-5 + HIGHS_TOL * Math.max(1, Math.abs(best)));
    // the certified bound is on the right side of the MILP optimum
    const bound = r.upperBound as number;
    if (sense === 'maximize') expect(bound).toBeGreaterThanOrEqual(best - HIGHS_TOL);
    else expect(bound).toBeLessThanOrEqual(best + HIGHS_TOL);
  });
});

describe('verify: a VNN-LIB property with linear input constraints', () => {
  // the TLL net: its maximum is 2.27 over the box, -0.546 where x0 + x1 <= 0
  const text = (threshold: number): string =>
    `(declare-const X_0 Real)(declare-const X_1 Real)(declare-const Y_0 Real)
     (assert (>= X_0 -2))(assert (<= X_0 2))(assert (>= X_1 -2))(assert (<= X_1 2))
     (assert (<= (+ X_0 X_1) 0))
     (assert (>= Y_0 ${threshold}))`;

  it('unsat when no point of the constrained region reaches the threshold (the box alone has points above it), sat otherwise', async () => {
    const tll = await loadModel(join(ROOT, 'examples/models/tll_2d.onnx'));
    try {
      const holds = await verify(tll, parseVnnlib(text(0), 'holds.vnnlib'), { timeLimitMs: 30_000 });
      expect(holds.status).toBe('unsat');
      const broken = await verify(tll, parseVnnlib(text(-0.6), 'broken.vnnlib'), { timeLimitMs: 30_000 });
      expect(broken.status).toBe('sat');
      const x = broken.x as number[];
      expect(x[0] + x[1]).toBeLessThanOrEqual(0);
      expect(forward64(tll.requireIr(), Float64Array.from(x), 1)[0]).toBeGreaterThanOrEqual(-0.6);
    } finally {
      await tll.dispose();
    }
  });
});

describe('empty domains: a clear error for maximize, no counterexample for verify', () => {
  const box = [
    [-2, 2],
    [-2, 2],
  ];
  it('rows that no point of the box meets: InvalidOptionError naming the domain, before any search (also with certify)', async () => {
    const tll = await loadModel(join(ROOT, 'examples/models/tll_2d.onnx'));
    try {
      // each row alone cuts the box; together they exclude it (x0 + x1 <= 0 and >= 0.5)
      const rows = parseDomain(JSON.stringify({ box, linear: [{ a: [1, 1], b: 0 }, { a: [1, 1], b: 0.5, sense: '>=' }] }), 2, 'rows.json');
      for (const certify of [false, true]) {
        const t0 = performance.now();
        const err = await maximize(tll, { domain: rows, certify, timeLimitMs: 5000 }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(InvalidOptionError);
        expect((err as Error).message).toMatch(/^invalid rows\.json .*at least one point/);
        expect(performance.now() - t0).toBeLessThan(1000);
      }
      // an integer input that no row allows (0.3 <= x0 <= 0.7): the LP is not empty, the search finds nothing
      const ints = parseDomain(JSON.stringify({ inputs: [{ lo: 0, hi: 1, integer: true }, { lo: -2, hi: 2 }], linear: [{ a: [1, 0], b: 0.7 }, { a: [1, 0], b: 0.3, sense: '>=' }] }), 2, 'ints.json');
      for (const certify of [false, true]) {
        const err = await maximize(tll, { domain: ints, certify, timeLimitMs: 500 }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(InvalidOptionError);
        expect((err as Error).message).toMatch(/^invalid ints\.json '\d+ points tried': expected a domain the search can reach/);
      }
      // verify: a property whose input region is empty has no counterexample
      const property = parseVnnlib(
        `(declare-const X_0 Real)(declare-const X_1 Real)(declare-const Y_0 Real)
         (assert (>= X_0 -2))(assert (<= X_0 2))(assert (>= X_1 -2))(assert (<= X_1 2))
         (assert (<= (+ X_0 X_1) 0))(assert (>= (+ X_0 X_1) 0.5))(assert (>= Y_0 0))`,
        'empty.vnnlib',
      );
      expect((await verify(tll, property, { timeLimitMs: 5000 })).status).toBe('unsat');
    } finally {
      await tll.dispose();
    }
  });

  it('the CLI: one line naming the file, non-zero exit', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nnmax-empty-'));
    const file = join(dir, 'empty.json');
    writeFileSync(file, JSON.stringify({ box, linear: [{ a: [1, 0], b: -3 }] }));
    const r = await cli('maximize', join(ROOT, 'examples/models/tll_2d.onnx'), '--domain', file, '--objective', 'y0');
    expect(r.code).not.toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/empty\.json/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});

/** An ONNX ReLU net n-h1-h2-1 (Gemm layers, weights seeded from `seed` on). */
async function reluNet(n: number, [w1, w2]: readonly [number, number], seed: number, file: string): Promise<Model> {
  const g = new TestGraph(['N', n]);
  const h1 = g.op('Relu', [g.op('Gemm', ['x', g.init([w1, n], weights(w1 * n, seed)), g.init([w1], weights(w1, seed + 1))], { transB: 1 })]);
  const h2 = g.op('Relu', [g.op('Gemm', [h1, g.init([w2, w1], weights(w2 * w1, seed + 2)), g.init([w2], weights(w2, seed + 3))], { transB: 1 })]);
  return loadModel(g.build(g.op('Gemm', [h2, g.init([1, w2], weights(w2, seed + 4)), g.init([1], weights(1, seed + 5))], { transB: 1 }), ['N', 1]), { file });
}

describe('networks with more than 12 inputs (ReLU mode)', () => {
  let oracle: MilpOracle;
  beforeAll(async () => {
    oracle = await createMilpOracle();
  });

  it('a tabular-style domain: integer inputs split first and the continuous rest by input splitting: optimal at the MILP optimum', async () => {
    // 13 inputs: 4 continuous under a row, two one-hot groups of 4, an integer in 0..5
    const n = 13;
    const model = await reluNet(n, [16, 12], 41, 'tab.onnx');
    try {
      const oneHot = [
        [4, 5, 6, 7],
        [8, 9, 10, 11],
      ];
      const inputs = Array.from({ length: n }, (_, i) => (i < 4 ? { lo: -1, hi: 1 } : i < 12 ? { lo: 0, hi: 1 } : { lo: 0, hi: 5, integer: true }));
      const d = parseDomain(JSON.stringify({ inputs, oneHot, linear: [{ a: { '0': 1, '1': 1, '2': 1, '3': 1 }, b: 1 }] }), n, 'tab.json');
      const r = await maximize(model, { domain: d, certify: true, timeLimitMs: 30_000 });
      expect(r.status).toBe('optimal');
      expect(isFeasible(d, r.x, 0)).toBe(true);
      const milp = oracle.maximize(model.requireIr(), [1], d.box, { inputRows: domainInputRows(d), integerInputs: [...oneHot.flat(), 12], timeLimitMs: 60_000 });
      expect(milp.status).toBe('optimal');
      expect(Math.abs(r.value - milp.value)).toBeLessThanOrEqual(1e-4 + HIGHS_TOL * Math.max(1, Math.abs(milp.value)));
      expect(r.upperBound as number).toBeGreaterThanOrEqual(milp.value - HIGHS_TOL);
    } finally {
      await model.dispose();
    }
  });

  // inputs 4 and 5 span [lo4, 5], the first four [0, 1], the others [-1, 1]
  it.each([
    [14, 'ReLU splits with beta-CROWN multipliers (in 2.7 s; with 4 alpha steps per domain 12 s; without multipliers and split rows a bound 1.5 above it at 30 s)', 41, -1],
    [20, 'split rows (in 3.5 s; without split rows a gap of 3.6e-4 at 120 s)', 31, 0],
  ] as const)('a box over %i continuous inputs, %s: proved optimal at the MILP optimum', async (n, _what, seed, lo4) => {
    const model = await reluNet(n, [24, 16], seed, `box${n}.onnx`);
    try {
      const lo = Array.from({ length: n }, (_, i) => (i < 4 ? 0 : i < 6 ? lo4 : -1));
      const hi = Array.from({ length: n }, (_, i) => (i < 4 ? 1 : i < 6 ? 5 : 1));
      const r = await maximize(model, { box: { lo, hi }, certify: true, timeLimitMs: 30_000 });
      expect(r.status).toBe('optimal');
      const milp = oracle.maximize(model.requireIr(), [1], { lo: Float64Array.from(lo), hi: Float64Array.from(hi) }, { timeLimitMs: 120_000 });
      expect(milp.status).toBe('optimal');
      expect(Math.abs(r.value - milp.value)).toBeLessThanOrEqual(1e-4 + HIGHS_TOL * Math.max(1, Math.abs(milp.value)));
      expect(r.upperBound as number).toBeGreaterThanOrEqual(milp.value - HIGHS_TOL);
    } finally {
      await model.dispose();
    }
  });
});
