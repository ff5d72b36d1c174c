import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadModel, parseVnnlib, verify } from 'nnmax/node';
import { BENCHMARKS, expectedVerdicts } from '../helpers/corpus.js';
import { median, table } from './readme-table.js';

/** Published VNN-COMP 2021 anchors (other machines), shown beside our numbers. */
const ANCHORS: Record<string, string> = {
  acasxu: 'nnenum 99 s after start-up overhead (64 vCPU); alpha-beta-CROWN 942 s (GPU)',
  'mnistfc 256x2': 'alpha-beta-CROWN 30/30',
  'mnistfc 256x4': 'alpha-beta-CROWN 22/30',
  'mnistfc 256x6': 'alpha-beta-CROWN 18/29',
  'eran sigmoid': 'alpha-beta-CROWN 30/36',
  'eran relu': '-',
};

interface Row {
  readonly group: string;
  instances: number;
  right: number;
  wrong: number;
  unanswered: number;
  totalMs: number;
  times: number[];
}

/** Counts one answer in its row; returns the VNN-COMP status the agreed verdict calls for. */
function tally(row: Row, status: string, agreed: 'holds' | 'violated', ms: number): string {
  const expected = agreed === 'holds' ? 'unsat' : 'sat';
  row.instances++;
  row.totalMs += ms;
  row.times.push(ms);
  if (status === expected) row.right++;
  else if (status === 'sat' || status === 'unsat') row.wrong++;
  else row.unanswered++;
  return expected;
}

const HEADER = ['benchmark', 'instances', 'right', 'wrong', 'unanswered', 'total (s)', 'median (s)', 'anchor (VNN-COMP 2021)'];

function groupOf(benchmark: string, network: string): string {
  if (benchmark === 'acasxu') return 'acasxu';
  if (benchmark === 'mnistfc') return `mnistfc ${/256x\d/.exec(network)?.[0] ?? network}`;
  if (benchmark === 'eran') return network.includes('SIGMOID') ? 'eran sigmoid' : 'eran relu';
  return benchmark;
}

/**
 * `pnpm bench verify`: every instance with an agreed verdict (expected_vnncomp2021.csv) of the
 * chosen families, answered in process (model load included in each time, Node start-up not),
 * with the instance timeout of its family. Wrong = a verdict that contradicts the agreed one.
 */
export async function verifyBench(_name: string, families = (process.env.NNMAX_VERIFY_FAMILIES ?? 'acasxu').split(',')): Promise<{ markdown: string }> {
  const override = process.env.NNMAX_VERIFY_TIMEOUT_S === undefined ? undefined : 1000 * Number(process.env.NNMAX_VERIFY_TIMEOUT_S);
  const timeouts: Record<string, number> = { acasxu: override ?? 60_000, mnistfc: override ?? 30_000, eran: override ?? 30_000, test: override ?? 30_000 };
  const rows = new Map<string, Row>();
  for (const v of expectedVerdicts().filter((e) => families.includes(e.benchmark) && !e.network.startsWith('test_'))) {
    const group = groupOf(v.benchmark, v.network);
    const row = rows.get(group) ?? { group, instances: 0, right: 0, wrong: 0, unanswered: 0, totalMs: 0, times: [] };
    rows.set(group, row);
    const t0 = performance.now();
    const dir = join(BENCHMARKS, v.benchmark);
    const property = parseVnnlib(readFileSync(join(dir, v.property), 'utf8'), v.property);
    const model = await loadModel(join(dir, v.network));
    const r = await verify(model, property, { timeLimitMs: timeouts[v.benchmark] });
    await model.dispose();
    const ms = performance.now() - t0;
    const expected = tally(row, r.status, v.expected, ms);
    process.stderr.write(`${v.network} ${v.property}: ${r.status} (${expected}) ${ms.toFixed(0)} ms\n`);
  }
  const body = [...rows.values()].map((r) => [
    r.group,
    r.instances,
    r.right,
    r.wrong,
    r.unanswered,
    (r.totalMs / 1000).toFixed(1),
    (median(r.times) / 1000).toFixed(2),
    ANCHORS[r.group] ?? '-',
  ]);
  return {
    markdown: [
      `Instances with an agreed VNN-COMP 2021 verdict, answered one after another in one Node process on this 2-core machine (each time includes loading the model; Node start-up excluded). Timeouts: ${families.map((f) => `${f} ${timeouts[f] / 1000} s`).join(', ')}.`,
      '',
      table(HEADER, body),
    ].join('\n'),
  };
}

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * `pnpm bench verify-cli`: the ACAS Xu instances with process start-ups included, from the built
 * CLI (`pnpm build` first, as a user would install it), timed from spawn to exit: one `nnmax
 * verify` process per instance, as VNN-COMP runs them (the verdict is the first line of stdout),
 * and one `nnmax verify --instances` process for all of them (a CSV line per instance).
 */
export async function verifyCliBench(): Promise<{ markdown: string }> {
  const build = spawnSync('pnpm', ['-s', 'build'], { cwd: ROOT, stdio: 'inherit' });
  if (build.status !== 0) throw new Error(`pnpm build failed with status ${build.status}`);
  const cli = join(ROOT, 'packages/cli/dist/main.js');
  const instances = expectedVerdicts().filter((e) => e.benchmark === 'acasxu');
  const dir = join(BENCHMARKS, 'acasxu');
  const each: Row = { group: 'acasxu', instances: 0, right: 0, wrong: 0, unanswered: 0, totalMs: 0, times: [] };
  const tStart = performance.now();
  for (const v of instances) {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, [cli, 'verify', join(dir, v.network), join(dir, v.property), '--timeout', '60'], { encoding: 'utf8' });
    const ms = performance.now() - t0;
    const status = r.stdout.split('\n')[0].trim();
    const expected = tally(each, status, v.expected, ms);
    process.stderr.write(`${v.network} ${v.property}: ${status} (${expected}) ${ms.toFixed(0)} ms${r.status === 0 ? '' : ` exit ${r.status}: ${r.stderr.trim().split('\n')[0]}`}\n`);
  }
  const eachS = (performance.now() - tStart) / 1000;
  // all of them in one process: an instances file as VNN-COMP distributes them
  const csv = join(mkdtempSync(join(tmpdir(), 'nnmax-bench-')), 'instances.csv');
  writeFileSync(csv, instances.map((v) => `${join(dir, v.network)},${join(dir, v.property)},60`).join('\n'));
  const one: Row = { group: 'acasxu', instances: 0, right: 0, wrong: 0, unanswered: 0, totalMs: 0, times: [] };
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [cli, 'verify', '--instances', csv], { encoding: 'utf8' });
  const oneS = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`nnmax verify --instances exited with ${r.status}: ${r.stderr.trim().split('\n')[0]}`);
  const lines = r.stdout.trim().split('\n');
  if (lines.length !== instances.length) throw new Error(`nnmax verify --instances answered ${lines.length} of ${instances.length} instances`);
  lines.forEach((line, i) => {
    const [, , status, seconds] = line.split(',');
    const expected = tally(one, status, instances[i].expected, 1000 * Number(seconds));
    process.stderr.write(`--instances ${instances[i].network} ${instances[i].property}: ${status} (${expected}) ${seconds} s\n`);
  });
  return {
    markdown: [
      `The same ${each.instances} ACAS Xu instances, process start-ups included, from the built CLI on this 2-core machine, timed from spawn to exit: one \`node packages/cli/dist/main.js verify <model> <property> --timeout 60\` process per instance, one after another, as VNN-COMP runs them; and one \`verify --instances\` process answering all of them from an instances file (model, property, timeout 60 per row; the median is of its per-instance times).`,
      '',
      table(HEADER, [
        ['acasxu (one process each)', each.instances, each.right, each.wrong, each.unanswered, eachS.toFixed(1), (median(each.times) / 1000).toFixed(2), ANCHORS.acasxu],
        ['acasxu (one process, --instances)', one.instances, one.right, one.wrong, one.unanswered, oneS.toFixed(1), (median(one.times) / 1000).toFixed(2), ANCHORS.acasxu],
      ]),
    ].join('\n'),
  };
}
