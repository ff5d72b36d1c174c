import { join } from 'node:path';
import { loadModel, maximize, parseDomain, type Domain } from 'nnmax/node';
import { ROOT } from '../helpers/cli.js';
import { TestGraph, weights } from '../helpers/onnx-builder.js';
import { createMilpOracle, domainInputRows } from '../oracles/milp.js';
import { median, table } from './readme-table.js';

/**
 * Proven optimality over domains smaller than their box (linear rows, integer inputs, one-hot
 * groups): `maximize --certify --tol 1e-4` against the big-M HiGHS MILP of test/oracles/milp.ts
 * with the same rows and integers, each with the same time limit (NNMAX_CERTIFY_LIMIT_S, default
 * 30 s), on tabular-style random ReLU nets built here (continuous inputs under a row, one-hot
 * groups of 4, an integer in 0..5) and on two bundled example models with rows.
 */
const LIMIT_S = Number(process.env.NNMAX_CERTIFY_LIMIT_S ?? 30);
const TOL = 1e-4;

interface Case {
  readonly id: string;
  readonly onnx: string | Uint8Array;
  readonly domain: (nIn: number) => Domain;
  readonly integers: (d: Domain) => number[];
  /** The objective's weights over the outputs (default: y0 of a one-output net). */
  readonly c?: number[];
}

/** A ReLU net n -> 24 -> 16 -> 1 with seeded weights in [-1, 1). */
function tabularNet(n: number, seed: number): Uint8Array {
  const g = new TestGraph(['N', n]);
  const h1 = g.op('Relu', [g.op('Gemm', ['x', g.init([24, n], weights(24 * n, seed)), g.init([24], weights(24, seed + 1))], { transB: 1 })]);
  const h2 = g.op('Relu', [g.op('Gemm', [h1, g.init([16, 24], weights(16 * 24, seed + 2)), g.init([16], weights(16, seed + 3))], { transB: 1 })]);
  return g.build(g.op('Gemm', [h2, g.init([1, 16], weights(16, seed + 4)), g.init([1], weights(1, seed + 5))], { transB: 1 }), ['N', 1]);
}

/** nc continuous inputs in [-1, 1] with sum <= 1, `groups` one-hot groups of 4, an integer in 0..5. */
function tabularCase(nc: number, groups: number, seed: number): Case {
  const n = nc + 4 * groups + 1;
  const oneHot = Array.from({ length: groups }, (_, t) => [0, 1, 2, 3].map((j) => nc + 4 * t + j));
  const inputs = Array.from({ length: n }, (_, i) => (i < nc ? { lo: -1, hi: 1 } : i < n - 1 ? { lo: 0, hi: 1 } : { lo: 0, hi: 5, integer: true }));
  const spec = { inputs, oneHot, linear: [{ a: Object.fromEntries(Array.from({ length: nc }, (_, i) => [String(i), 1])), b: 1 }] };
  return {
    id: `tabular ${nc} continuous + ${groups} one-hot x 4 + 1 integer (seed ${seed})`,
    onnx: tabularNet(n, seed),
    domain: (nIn) => parseDomain(JSON.stringify(spec), nIn, `tabular-${seed}.json`),
    integers: (d) => [...d.integer, ...d.oneHot.flat()],
  };
}

const CASES: Case[] = [
  tabularCase(4, 1, 41),
  tabularCase(4, 2, 51),
  tabularCase(4, 3, 61),
  tabularCase(6, 2, 71),
  tabularCase(8, 2, 81),
  tabularCase(10, 3, 91),
  {
    id: 'TLL 2-input example, x0 + x1 <= 0',
    onnx: join(ROOT, 'examples/models/tll_2d.onnx'),
    domain: (nIn) => parseDomain(JSON.stringify({ box: [[-2, 2], [-2, 2]], linear: [{ a: [1, 1], b: 0 }] }), nIn, 'tll-half.json'),
    integers: () => [],
  },
  {
    id: 'ACAS Xu N1,1, max y0, two rows over a box of the input space',
    onnx: join(ROOT, 'examples/models/acasxu_1_1.onnx'),
    domain: (nIn) =>
      parseDomain(
        JSON.stringify({
          box: [[-0.3, 0.68], [-0.5, 0.5], [-0.5, 0.5], [0.3, 0.5], [-0.5, -0.45]],
          linear: [{ a: [1, 1, 0, 0, 0], b: 0.2 }, { a: { '2': 1, '1': -1 }, b: 0.1, sense: '>=' }],
        }),
        nIn,
        'acas-rows.json',
      ),
    integers: () => [],
    c: [1, 0, 0, 0, 0],
  },
];

export async function certifyDomainsBench(): Promise<{ markdown: string }> {
  const oracle = await createMilpOracle();
  const rows: (string | number)[][] = [];
  const ratios: number[] = [];
  let proved = 0;
  for (const c of CASES) {
    const model = await loadModel(c.onnx, { file: c.id });
    try {
      const d = c.domain(model.nIn);
      const c2 = c.c ?? [1];
      const r = await maximize(model, { domain: d, objective: { c: Float64Array.from(c2), offset: 0, text: 'c . y' }, certify: true, tol: TOL, timeLimitMs: LIMIT_S * 1000, seed: 1 });
      const m = oracle.maximize(model.requireIr(), c2, d.box, { inputRows: domainInputRows(d), integerInputs: c.integers(d), timeLimitMs: LIMIT_S * 1000 });
      const ours = r.status === 'optimal';
      const theirs = m.status === 'optimal';
      // a certified bound below the MILP's proved optimum would be the worst bug there is
      if (theirs && (r.upperBound ?? Infinity) < m.value - 1e-6 * Math.max(1, Math.abs(m.value))) throw new Error(`${c.id}: certified bound ${r.upperBound} is below the MILP optimum ${m.value}`);
      if (ours) {
        proved++;
        ratios.push((theirs ? m.timeMs / 1000 : LIMIT_S) / Math.max(r.timeMs / 1000, 1e-3));
      }
      const agree = ours && theirs ? (Math.abs(r.value - m.value) <= TOL + 1e-6 * Math.max(1, Math.abs(m.value)) ? 'yes' : 'NO') : '-';
      console.error(`${c.id}: nnmax ${r.status} ${(r.timeMs / 1000).toFixed(2)} s [${r.value.toFixed(6)}, ${r.upperBound?.toFixed(6)}]; MILP ${m.status} ${(m.timeMs / 1000).toFixed(2)} s ${m.value.toFixed(6)}`);
      rows.push([
        c.id,
        model.nIn,
        ours ? `optimal, ${(r.timeMs / 1000).toFixed(2)} s` : `${r.status} (gap ${r.gap === null ? '-' : r.gap.toFixed(4)})`,
        theirs ? `optimal, ${(m.timeMs / 1000).toFixed(2)} s` : `${m.status} at ${LIMIT_S} s`,
        agree,
      ]);
    } finally {
      await model.dispose();
    }
  }
  const lines = [
    `${CASES.length} maximisations over domains smaller than their box: \`maximize\` with \`certify: true, tol: ${TOL}\` (proved = certified gap <= ${TOL}) against the big-M HiGHS MILP of \`test/oracles/milp.ts\` with the same rows and integer inputs, ${LIMIT_S} s limit each, one after the other in this run, model loading excluded. nnmax proved ${proved}/${CASES.length}; median speed-up over the MILP where nnmax proved (the MILP's limit where it did not finish) ${ratios.length ? `${median(ratios).toFixed(1)}x` : '-'}.`,
    '',
    table(['problem', 'inputs', 'nnmax', 'MILP', 'agree'], rows),
  ];
  return { markdown: lines.join('\n') };
}
