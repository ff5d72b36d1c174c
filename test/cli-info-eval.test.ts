import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { forward64, importModel, valueAndGradient64 } from '@nnmax/onnx';
import { cli, cliProcess, ROOT } from './helpers/cli.js';

const ACAS = join(ROOT, 'examples/models/acasxu_1_1.onnx');

describe('nnmax info', () => {
  it('shows producer, opset, shapes, layers, parameters and capabilities', async () => {
    const r = await cli('info', ACAS);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/producer\s+MATLAB Deep Learning Toolbox .*ONNX IR v3, opset 8/);
    expect(r.stdout).toMatch(/input\s+'input' \[1,1,1,5\] -> 5 values/);
    expect(r.stdout).toMatch(/parameters\s+13305/); // 5*50+50 + 5*(50*50+50) + 50*5+5
    expect(r.stdout).toMatch(/gradient graph: yes; certified bounds: yes/);
    const j = await cli('info', ACAS, '--json');
    const info = JSON.parse(j.stdout);
    expect(info.layers.filter((l: string) => l.startsWith('dense')).length).toBe(7);
    expect(info.capabilities).toEqual({ blackBoxSearch: true, gradientGraph: true, bounds: true });
  });
});

describe('nnmax eval', () => {
  it('--json follows the contract: float32 output, float64 output, objective value and gradient', async () => {
    const x = [0.62, -0.1, 0.3, 0.47, -0.48];
    const r = await cli('eval', ACAS, '--x', x.join(','), '--objective', 'y0 - 0.5*y2', '--json');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    const ir = importModel(readFileSync(ACAS), ACAS).ir!;
    const y = forward64(ir, Float64Array.from(x));
    const c = Float64Array.from([1, 0, -0.5, 0, 0]);
    const ref = valueAndGradient64(ir, Float64Array.from(x), 1, c);
    expect(out.output64).toEqual(Array.from(y));
    out.output.forEach((v: number, j: number) => expect(Math.abs(v - y[j])).toBeLessThan(1e-5));
    expect(out.value).toBeCloseTo(y[0] - 0.5 * y[2], 12);
    expect(out.gradient).toEqual(Array.from(ref.gradients));
  });
});

describe('CLI errors are one line with a non-zero exit', () => {
  it.each([
    [['info', 'no/such/model.onnx'], /^nnmax: no\/such\/model\.onnx: cannot read the model: no such file\n$/],
    [['info', join(ROOT, 'package.json')], /^nnmax: .*package\.json: not a valid ONNX protobuf/],
    [['eval', ACAS, '--x', '1,2,3'], /^nnmax: x: expected 5 input values, got 3\n$/],
    [['eval', ACAS, '--x', '1,2,nan,4,5'], /^nnmax: invalid --x entry 2 'nan': expected a finite number\n$/],
    [['eval', ACAS, '--x', '0,0,0,0,0', '--objective', 'y7'], /^nnmax: invalid --objective 'y7': expected outputs y0\.\.y4/],
    [['eval', ACAS, '--x', '0,0,0,0,0', '--objective', 'y0 + sin(y1)'], /^nnmax: invalid --objective/],
    [['frobnicate'], /^nnmax: unknown command 'frobnicate'/],
  ])('%j', async (argv, message) => {
    const r = await cli(...argv);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stdout).toBe('');
  });

  it('the real process prints the message, no stack trace, and exits non-zero', () => {
    const r = cliProcess('info', 'missing.onnx');
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('nnmax: missing.onnx: cannot read the model: no such file\n');
    const truncated = join(mkdtempSync(join(tmpdir(), 'nnmax-')), 'truncated.onnx');
    writeFileSync(truncated, readFileSync(ACAS).subarray(0, 20000));
    const t = cliProcess('eval', truncated, '--x', '0,0,0,0,0');
    expect(t.code).toBe(1);
    expect(t.stderr).toMatch(/^nnmax: .*truncated\.onnx: .*\n$/);
    expect(t.stderr).not.toMatch(/\n\s+at /);
  });
});
