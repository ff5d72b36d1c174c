import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { forward64, importModel } from '@nnmax/onnx';
import { describe, expect, it } from 'vitest';
import { cli, cliProcess, ROOT } from './helpers/cli.js';
import { maximizeProblems } from './helpers/corpus.js';

const ACAS = join(ROOT, 'examples/models/acasxu_1_1.onnx');
const PROP1 = join(ROOT, 'examples/models/acasxu_prop_1.vnnlib');
const TLL = join(ROOT, 'examples/models/tll_2d.onnx');
const IR = importModel(readFileSync(ACAS), ACAS).ir!;

describe('nnmax maximize --json (DESIGN.md contract)', () => {
  it('maximises y0 over the property-1 box with a certified bound that closes the gap', async () => {
    const r = await cli('maximize', ACAS, '--vnnlib', PROP1, '--objective', 'y0', '--certify', '--time-limit', '30', '--json');
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(Object.keys(out).sort()).toEqual(['certified', 'evaluations', 'gap', 'method', 'sense', 'status', 'timeMs', 'upperBound', 'value', 'x'].sort());
    expect(out).toMatchObject({ status: 'optimal', sense: 'max', certified: true });
    // value is the float64 reference value at x, and x is in the box
    expect(out.value).toBe(forward64(IR, Float64Array.from(out.x), 1)[0]);
    const exact = maximizeProblems().find((p) => p.id === 'acasxu/ACASXU_run2a_1_1_batch_2000/prop_1/max Y_0')!;
    expect(exact.kind).toBe('exact');
    expect(out.upperBound).toBeGreaterThanOrEqual(exact.optimum);
    expect(out.value).toBeGreaterThanOrEqual(exact.optimum - 1e-4);
    expect(out.gap).toBeLessThanOrEqual(1e-4);
    out.x.forEach((v: number, i: number) => expect(v >= exact.lo[i] && v <= exact.hi[i]).toBe(true));
  });

  it('--minimize certifies a lower bound; --fix holds an input', async () => {
    const r = await cli('minimize', TLL, '--box', '-2:2,-2:2', '--fix', '1=0.5', '--certify', '--time-limit', '20', '--json');
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.sense).toBe('min');
    expect(out.x[1]).toBe(0.5);
    expect(out.upperBound).toBeLessThanOrEqual(out.value);
    // dense sampling never goes below the certified lower bound
    const tll = importModel(readFileSync(TLL), TLL).ir!;
    const n = 20_000;
    const X = new Float64Array(2 * n);
    for (let s = 0; s < n; s++) {
      X[2 * s] = -2 + (4 * s) / (n - 1);
      X[2 * s + 1] = 0.5;
    }
    const y = forward64(tll, X, n);
    expect(Math.min(...y)).toBeGreaterThanOrEqual(out.upperBound);
    expect(Math.min(...y)).toBeGreaterThanOrEqual(out.value - 1e-4);
  });

  it('--target stops as soon as the incumbent reaches the value', async () => {
    const r = await cli('maximize', ACAS, '--vnnlib', PROP1, '--output', '0', '--target', '-1', '--json');
    const out = JSON.parse(r.stdout);
    expect(out.status).toBe('feasible');
    expect(out.value).toBeGreaterThanOrEqual(-1);
    expect(out.certified).toBe(false);
  });
});

describe('nnmax maximize: bad input is a one-line error with a non-zero exit', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nnmax-max-'));
  const badDomain = join(dir, 'bad.json');
  writeFileSync(badDomain, '{"box": [[0, 1]], "unknown": 3}');
  const cases: [string, string[], RegExp][] = [
    ['inverted box', ['--box', '1:0,0:1,0:1,0:1,0:1'], /--box entry 0 '1:0'.*inverted/],
    ['wrong-sized box', ['--box', '0:1,0:1'], /box.*2 intervals.*5 intervals/],
    ['NaN in the box', ['--box', 'nan:1,0:1,0:1,0:1,0:1'], /--box entry 0/],
    ['a box wider than float64', ['--box', '-1e308:1e308,0:1,0:1,0:1,0:1'], /box\[0\].*finite width/],
    ['objective naming a missing output', ['--box', '0:1,0:1,0:1,0:1,0:1', '--objective', 'y7'], /y7/],
    ['unknown method', ['--box', '0:1,0:1,0:1,0:1,0:1', '--method', 'magic'], /--method 'magic'/],
    ['malformed domain file', ['--domain', badDomain], /unknown/],
    ['missing VNN-LIB file', ['--vnnlib', join(dir, 'nope.vnnlib')], /--vnnlib.*no such file/],
    ['negative time limit', ['--box', '0:1,0:1,0:1,0:1,0:1', '--time-limit', '-1'], /--time-limit/],
  ];
  it.each(cases)('%s', async (_name, args, message) => {
    const r = await cli('maximize', ACAS, ...args);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stdout).toBe('');
  });

  it('the real process prints one line and no stack trace', () => {
    const r = cliProcess('maximize', ACAS, '--box', '0:1');
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).not.toMatch(/\s+at\s/);
  });
});
