import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
