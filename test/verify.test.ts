import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { forward64, importModel } from '@nnmax/onnx';
import { checkCounterexample, loadModel, parseVnnlib, verify } from 'nnmax';
import { describe, expect, it } from 'vitest';
import { cli, cliProcess } from './helpers/cli.js';
import { BENCHMARKS, expectedVerdicts } from './helpers/corpus.js';

/** A stratified sample of VNN-COMP 2021 instances with agreed verdicts (the bench runs all 186 ACAS Xu). */
const ALL = expectedVerdicts();
const SAMPLE = [
  ...ALL.filter((v) => v.benchmark === 'test'),
  ...ALL.filter((v) => v.benchmark === 'acasxu' && v.expected === 'violated').filter((_, i) => i % 8 === 0),
  ...ALL.filter((v) => v.benchmark === 'acasxu' && v.expected === 'holds' && ['prop_1.vnnlib', 'prop_3.vnnlib', 'prop_4.vnnlib'].includes(v.property)).filter((_, i) => i % 15 === 0),
];

describe('verify: agreed VNN-COMP verdicts, never a wrong one', () => {
  it.each(SAMPLE.map((v) => [`${v.benchmark} ${v.network} ${v.property} (${v.expected})`, v] as const))('%s', async (_name, v) => {
    const dir = join(BENCHMARKS, v.benchmark);
    const property = parseVnnlib(readFileSync(join(dir, v.property), 'utf8'), v.property);
    const model = await loadModel(join(dir, v.network));
    try {
      const r = await verify(model, property, { timeLimitMs: 30_000 });
      expect(r.status, r.reason).toBe(v.expected === 'holds' ? 'unsat' : 'sat');
      if (r.status === 'sat') {
        // re-check the counterexample independently: float64 reference and the VNN-COMP rule
        const x = Float64Array.from(r.x!);
        expect(checkCounterexample(property, x, forward64(model.requireIr(), x, 1)).isValid).toBe(true);
        expect(checkCounterexample(property, x, r.y!).isValid).toBe(true);
      } else {
        expect(r.caseBounds.every((b) => b !== null && b < 0)).toBe(true);
      }
    } finally {
      await model.dispose();
    }
  });
});

describe('verify stops at the first counterexample, whichever side finds it', () => {
  it('ACAS Xu N1,5 property 2: once branch-and-bound has a point with margin >= 0, the answer follows at once', async () => {
    // The margin's maximum is about 2.4e-4 here, in a small region that branch-and-bound's
    // candidates hit before the search does. The search used to run on until it found one itself
    // (3.7 s later in one run).
    const dir = join(BENCHMARKS, 'acasxu');
    const property = parseVnnlib(readFileSync(join(dir, 'prop_2.vnnlib'), 'utf8'), 'prop_2.vnnlib');
    const model = await loadModel(join(dir, 'ACASXU_run2a_1_5_batch_2000.onnx'));
    try {
      let firstSatMs: number | undefined;
      const r = await verify(model, property, {
        timeLimitMs: 30_000,
        onProgress: (e) => {
          if (firstSatMs === undefined && e.value >= 0) firstSatMs = e.elapsedMs;
        },
      });
      expect(r.status).toBe('sat');
      expect(firstSatMs).toBeDefined();
      expect(r.timeMs - firstSatMs!).toBeLessThan(500);
    } finally {
      await model.dispose();
    }
  }, 60_000);
});

describe('nnmax verify (CLI)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nnmax-verify-'));
  const net = join(BENCHMARKS, 'test/test_sat.onnx');
  const prop = join(BENCHMARKS, 'test/test_prop.vnnlib');

  it('writes the VNN-COMP result: sat and one (name value) term a line, readable back as a counterexample', async () => {
    const out = join(dir, 'result.txt');
    const r = await cli('verify', net, prop, '--timeout', '30', '--out', out);
    expect(r.code, r.stderr).toBe(0);
    const text = readFileSync(out, 'utf8');
    expect(text).toBe(r.stdout);
    const lines = text.trim().split('\n');
    expect(lines[0]).toBe('sat');
    const terms = [...text.matchAll(/\((X|Y)_(\d+) (\S+?)\)/g)].map((m) => ({ kind: m[1], i: Number(m[2]), v: Number(m[3]) }));
    const x = terms.filter((t) => t.kind === 'X').map((t) => t.v);
    const y = terms.filter((t) => t.kind === 'Y').map((t) => t.v);
    expect(x).toHaveLength(5);
    expect(y).toHaveLength(5);
    const property = parseVnnlib(readFileSync(prop, 'utf8'), prop);
    expect(checkCounterexample(property, x, y).isValid).toBe(true);
    const ir = importModel(readFileSync(net), net).ir!;
    expect(checkCounterexample(property, x, forward64(ir, Float64Array.from(x), 1)).isValid).toBe(true);
  });

  it('unsat for the property that holds', async () => {
    const r = await cli('verify', join(BENCHMARKS, 'test/test_unsat.onnx'), prop, '--timeout', '30');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('unsat\n');
  });

  const bad: [string, string, RegExp][] = [
    ['a VNN-LIB file that does not parse', '(declare-const X_0 Real)\n(assert (<= X_0', /bad\.vnnlib/],
    ['variables the model does not have', '(declare-const X_0 Real)\n(declare-const Y_0 Real)\n(assert (<= X_0 1))\n(assert (>= X_0 0))\n(assert (>= Y_0 1))\n', /X_|5 inputs|input/],
    ['an unbounded input', readFileSync(prop, 'utf8').replace(/\(assert \(>= X_0 [^)]*\)\)/, ''), /X_0/],
  ];
  it.each(bad)('%s: a one-line error, non-zero exit, never a verdict', async (_name, text, message) => {
    const file = join(dir, 'bad.vnnlib');
    writeFileSync(file, text);
    const r = await cli('verify', net, file);
    expect(r.code).not.toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('the real process: a missing property file is one line, no stack trace', () => {
    const r = cliProcess('verify', net, join(dir, 'missing.vnnlib'));
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).not.toMatch(/\s+at\s/);
  });
});

describe('nnmax verify --instances (a VNN-COMP instances file in one process)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nnmax-instances-'));
  const test = join(BENCHMARKS, 'test');
  const acas = join(BENCHMARKS, 'acasxu');

  it('answers every row with the agreed verdict, a CSV line each, and writes each result file', async () => {
    // relative paths (to the file) and absolute ones; two consecutive rows share a model
    const rows = [
      [join(test, 'test_sat.onnx'), join(test, 'test_prop.vnnlib'), 'violated'],
      [join(test, 'test_unsat.onnx'), join(test, 'test_prop.vnnlib'), 'holds'],
      ['ACASXU_run2a_1_1_batch_2000.onnx', 'prop_3.vnnlib', 'holds'],
      ['ACASXU_run2a_1_1_batch_2000.onnx', 'prop_4.vnnlib', 'holds'],
      ['ACASXU_run2a_1_9_batch_2000.onnx', 'prop_7.vnnlib', 'violated'],
    ];
    const csv = join(dir, 'instances.csv');
    const rel = (p: string): string => (p.startsWith('/') ? p : relative(dir, join(acas, p)));
    writeFileSync(csv, `${rows.map(([m, p]) => `${rel(m)},${rel(p)},60`).join('\n')}\n\n`);
    const outDir = mkdtempSync(join(dir, 'out-'));
    const r = await cli('verify', '--instances', csv, '--out-dir', outDir, '--timeout', '30');
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => l.split(','));
    expect(lines).toHaveLength(rows.length);
    lines.forEach((fields, i) => {
      expect(fields.slice(0, 2)).toEqual([rel(rows[i][0]), rel(rows[i][1])]);
      expect(fields[2]).toBe(rows[i][2] === 'holds' ? 'unsat' : 'sat');
      expect(Number(fields[3])).toBeGreaterThan(0);
      const stem = (p: string): string => (p.split('/').pop() as string).replace(/\.[^.]*$/, '');
      const text = readFileSync(join(outDir, `${stem(rows[i][0])}_${stem(rows[i][1])}.txt`), 'utf8');
      expect(text.split('\n')[0]).toBe(fields[2]);
    });
    // the counterexample of the ACAS row is a real one
    const text = readFileSync(join(outDir, 'ACASXU_run2a_1_9_batch_2000_prop_7.txt'), 'utf8');
    const terms = [...text.matchAll(/\((X|Y)_(\d+) (\S+?)\)/g)].map((m) => ({ kind: m[1], v: Number(m[3]) }));
    const property = parseVnnlib(readFileSync(join(acas, 'prop_7.vnnlib'), 'utf8'), 'prop_7.vnnlib');
    const x = terms.filter((t) => t.kind === 'X').map((t) => t.v);
    const ir = importModel(readFileSync(join(acas, 'ACASXU_run2a_1_9_batch_2000.onnx')), 'n19').ir!;
    expect(checkCounterexample(property, x, forward64(ir, Float64Array.from(x), 1)).isValid).toBe(true);
  });

  const bad: [string, string, string[], RegExp][] = [
    ['a row without a timeout', 'a.onnx,b.vnnlib\n', [], /line 1/],
    ['a bad timeout', `${join(test, 'test_sat.onnx')},${join(test, 'test_prop.vnnlib')},soon\n`, [], /line 1 timeout 'soon'/],
    ['an empty file', '\n\n', [], /at least one instance/],
    ['a missing property file (before any verdict)', `${join(test, 'test_sat.onnx')},${join(test, 'test_prop.vnnlib')},5\n${join(test, 'test_sat.onnx')},${join(dir, 'nope.vnnlib')},5\n`, [], /nope\.vnnlib/],
    ['positional arguments as well', `${join(test, 'test_sat.onnx')},${join(test, 'test_prop.vnnlib')},5\n`, [join(test, 'test_sat.onnx')], /none with --instances/],
    ['an --out-dir that does not exist', `${join(test, 'test_sat.onnx')},${join(test, 'test_prop.vnnlib')},5\n`, ['--out-dir', join(dir, 'missing-dir')], /missing-dir/],
  ];
  it.each(bad)('%s: a one-line error, non-zero exit, no verdict', async (_name, text, extra, message) => {
    const csv = join(dir, 'bad.csv');
    writeFileSync(csv, text);
    const r = await cli('verify', '--instances', csv, ...extra);
    expect(r.code).not.toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('without a model, a property or --instances: a one-line error', async () => {
    const r = await cli('verify');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/--instances/);
  });
});
