import { maximize } from 'nnmax/node';
import { maximizeProblems, reachesOptimum, type MaximizeProblem } from '../helpers/corpus.js';
import { createMilpOracle } from '../oracles/milp.js';
import { forEachWithModel, median, table } from './readme-table.js';

/**
 * Proven global optimality against an exact MILP (issue 4): on the `../shared/maximize` problems
 * with at most 16 inputs, `maximize --certify --tol 1e-4` and the big-M HiGHS MILP of
 * test/oracles/milp.ts, one after the other in the same run, each with the same time limit.
 * NNMAX_CERTIFY_LIMIT_S changes the limit (default 30 s); NNMAX_CERTIFY_FILTER keeps the problems
 * whose id contains it.
 */
const LIMIT_S = Number(process.env.NNMAX_CERTIFY_LIMIT_S ?? 30);
const TOL = 1e-4;
const MAX_INPUTS = 16;

interface Row {
  readonly p: MaximizeProblem;
  readonly ours: { proved: boolean; seconds: number; value: number; bound: number };
  readonly milp: { proved: boolean; seconds: number; value: number };
}

export async function certifyBench(): Promise<{ markdown: string }> {
  const filter = process.env.NNMAX_CERTIFY_FILTER ?? '';
  const problems = maximizeProblems().filter((p) => p.nIn <= MAX_INPUTS && p.id.includes(filter));
  const oracle = await createMilpOracle();
  const rows: Row[] = [];
  await forEachWithModel(problems, async (p, model) => {
    const box = { lo: p.lo, hi: p.hi };
    const r = await maximize(model, {
      objective: { c: Float64Array.from(p.c), offset: 0, text: 'c . y' },
      box,
      certify: true,
      tol: TOL,
      timeLimitMs: LIMIT_S * 1000,
      seed: 1,
    });
    const m = oracle.maximize(model.ir!, p.c, { lo: Float64Array.from(p.lo), hi: Float64Array.from(p.hi) }, { timeLimitMs: LIMIT_S * 1000 });
    const row: Row = {
      p,
      ours: { proved: r.status === 'optimal', seconds: r.timeMs / 1000, value: r.value, bound: r.upperBound ?? Infinity },
      milp: { proved: m.status === 'optimal', seconds: m.timeMs / 1000, value: m.value },
    };
    rows.push(row);
    console.error(
      `${p.id}: nnmax ${row.ours.proved ? 'proved' : 'open'} ${row.ours.seconds.toFixed(2)} s [${r.value.toFixed(6)}, ${row.ours.bound.toFixed(6)}]; ` +
        `MILP ${m.status} ${row.milp.seconds.toFixed(2)} s ${m.value.toFixed(6)} (${m.binaries} binaries)`,
    );
    // A certified bound below a proved optimum (ours or the MILP's) would be the worst bug there is.
    const proven = [m.status === 'optimal' ? m.value : -Infinity, p.kind === 'exact' ? p.optimum : -Infinity];
    for (const v of proven) if (row.ours.bound < v - 1e-6 * Math.max(1, Math.abs(v))) throw new Error(`${p.id}: certified bound ${row.ours.bound} is below the optimum ${v}`);
  });

  const byFamily = new Map<string, Row[]>();
  for (const row of rows) byFamily.set(row.p.family, [...(byFamily.get(row.p.family) ?? []), row]);
  const summary = (label: string, rs: Row[]): (string | number)[] => {
    const ours = rs.filter((r) => r.ours.proved);
    const milp = rs.filter((r) => r.milp.proved);
    const agree = rs.filter((r) => r.ours.proved && r.milp.proved && reachesOptimum(r.ours.value, r.milp.value) && reachesOptimum(r.milp.value, r.ours.value)).length;
    const both = rs.filter((r) => r.ours.proved && r.milp.proved).length;
    // Time ratio per problem: MILP time (its limit when it did not finish: a lower bound on the ratio) over ours.
    const ratios = ours.map((r) => (r.milp.proved ? r.milp.seconds : LIMIT_S) / Math.max(r.ours.seconds, 1e-3));
    return [
      label,
      rs.length,
      `${ours.length}/${rs.length}`,
      ours.length ? median(ours.map((r) => r.ours.seconds)).toFixed(2) : '-',
      `${milp.length}/${rs.length}`,
      milp.length ? median(milp.map((r) => r.milp.seconds)).toFixed(2) : '-',
      `${agree}/${both}`,
      ratios.length ? `${median(ratios).toFixed(1)}x` : '-',
    ];
  };
  const tableRows = [...byFamily.entries()].map(([family, rs]) => summary(family, rs));
  tableRows.push(summary('**all**', rows));
  const lines = [
    `${rows.length} problems of \`../shared/maximize\` with at most ${MAX_INPUTS} inputs: \`maximize\` with \`certify: true, tol: ${TOL}\` (proved = certified gap <= ${TOL}) against the big-M HiGHS MILP (WebAssembly, tolerances 1e-9, zero gap) of \`test/oracles/milp.ts\`, ${LIMIT_S} s limit each, one after the other in this run, model loading excluded. "Agree": both proved and the values within 1e-4 relative. Speed-up: the MILP's time (its limit where it did not finish) over nnmax's, median over the problems nnmax proved.`,
    '',
    table(['family', 'problems', 'nnmax proved', 'nnmax median (s)', 'MILP proved', 'MILP median (s)', 'agree', 'median speed-up'], tableRows),
  ];
  return { markdown: lines.join('\n') };
}
