import { describe, expect, it } from 'vitest';
import { OnnxDecodeError, UnsupportedOpError } from '@nnmax/core';
import { buildForwardModel, buildGradientModel, forward64, importModel, requireIr, valueAndGradient64 } from '@nnmax/onnx';
import { graphsFor, originalGraphs } from 'nnmax';
import { createEvaluator } from '@nnmax/runtime/node';
import { TestGraph, weights } from './helpers/onnx-builder.js';
import { relErr } from './tolerances.js';

/** Each case is an exporter-style graph; onnxruntime running it is the oracle for the import. */
interface OpCase {
  readonly name: string;
  readonly nIn: number;
  readonly build: () => Uint8Array;
  readonly kinds?: string[]; // IR kinds that must appear
}

const gemmNet = (g: TestGraph, x: string, nIn: number, nOut: number, seed: number, attrs: Record<string, number> = {}): string =>
  g.op('Gemm', [x, g.init([nOut, nIn], weights(nIn * nOut, seed)), g.init([nOut], weights(nOut, seed + 1))], { transB: 1, ...attrs });

const activationCase = (name: string, op: string, attrs: Record<string, number | string> = {}, opset = 13, kind?: string): OpCase => ({
  name,
  nIn: 4,
  kinds: kind ? [kind] : undefined,
  build: () => {
    const g = new TestGraph(['N', 4], opset);
    const h = g.op(op, [gemmNet(g, 'x', 4, 6, 3)], attrs);
    return g.build(gemmNet(g, h, 6, 2, 5), ['N', 2]);
  },
});

const CASES: OpCase[] = [
  {
    name: 'Gemm transB alpha beta',
    nIn: 4,
    build: () => {
      const g = new TestGraph(['N', 4]);
      const h = g.op('Relu', [gemmNet(g, 'x', 4, 5, 1, { alpha: 0.7, beta: 0.3 })]);
      return g.build(gemmNet(g, h, 5, 3, 2), ['N', 3]);
    },
  },
  {
    name: 'Gemm transA on an input without batch axis',
    nIn: 4,
    build: () => {
      const g = new TestGraph([4, 1]);
      const y = g.op('Gemm', ['x', g.init([4, 3], weights(12, 7)), g.init([3], weights(3, 8))], { transA: 1 });
      return g.build(g.op('Tanh', [y]), [1, 3]);
    },
  },
  {
    name: 'MatMul with the constant on the left, Add bias',
    nIn: 4,
    build: () => {
      const g = new TestGraph([4, 1]);
      const y = g.op('Add', [g.op('MatMul', [g.init([3, 4], weights(12, 9)), 'x']), g.init([3, 1], weights(3, 10))]);
      return g.build(g.op('Relu', [y]), [3, 1]);
    },
  },
  {
    name: 'MatMul right, Identity, Reshape (0 and -1), Flatten, Squeeze/Unsqueeze',
    nIn: 6,
    build: () => {
      const g = new TestGraph(['N', 2, 3]);
      const r = g.op('Reshape', [g.op('Identity', ['x']), g.initInt64([2], [0, -1])]);
      const u = g.op('Unsqueeze', [r, g.initInt64([1], [1])]);
      const s = g.op('Squeeze', [u, g.initInt64([1], [1])]);
      const f = g.op('Flatten', [s], { axis: 1 });
      const y = g.op('MatMul', [f, g.init([6, 4], weights(24, 11))]);
      return g.build(g.op('Sigmoid', [y]), ['N', 4]);
    },
  },
  {
    name: 'Sub/Div normalisation and Mul/Add/Sub by constants on either side',
    nIn: 4,
    build: () => {
      const g = new TestGraph(['N', 4]);
      const a = g.op('Div', [g.op('Sub', ['x', g.init([1, 4], [0.1, 0.2, -0.3, 0.4])]), g.init([], [0.3])]);
      const b = g.op('Sub', [g.init([4], [1, 2, 3, 4]), g.op('Mul', [g.init([], [2]), a])]);
      const c = g.op('Add', [g.init([1], [0.5]), b]);
      return g.build(gemmNet(g, g.op('Relu', [c]), 4, 2, 12), ['N', 2]);
    },
  },
  {
    name: 'BatchNormalization (inference) folded',
    nIn: 12,
    build: () => {
      const g = new TestGraph(['N', 3, 2, 2]);
      const bn = g.op('BatchNormalization', ['x', g.init([3], [1.5, 0.5, 2]), g.init([3], [0.1, -0.2, 0.3]), g.init([3], [0.2, 0, -0.1]), g.init([3], [0.5, 2, 1])], { epsilon: 1e-3 });
      const f = g.op('Flatten', [g.op('Relu', [bn])], { axis: 1 });
      return g.build(gemmNet(g, f, 12, 3, 13), ['N', 3]);
    },
  },
  {
    name: 'Concat of two branches, Transpose, residual Add and Sub of branches',
    nIn: 4,
    kinds: ['concat', 'add'],
    build: () => {
      const g = new TestGraph(['N', 4]);
      const a = g.op('Relu', [gemmNet(g, 'x', 4, 3, 14)]);
      const b = g.op('Tanh', [gemmNet(g, 'x', 4, 2, 15)]);
      const c = g.op('Concat', [a, b], { axis: 1 });
      const t = g.op('Transpose', [g.op('Transpose', [c], { perm: [1, 0] })], { perm: [1, 0] });
      const d = g.op('Relu', [gemmNet(g, t, 5, 5, 16)]);
      const e = g.op('Sub', [g.op('Add', [d, t]), g.op('Relu', [gemmNet(g, t, 5, 5, 17)])]);
      return g.build(gemmNet(g, e, 5, 2, 18), ['N', 2]);
    },
  },
  activationCase('LeakyRelu', 'LeakyRelu', { alpha: 0.1 }, 13, 'leakyrelu'),
  activationCase('Tanh', 'Tanh', {}, 13, 'tanh'),
  activationCase('Softplus', 'Softplus', {}, 13, 'softplus'),
  activationCase('Elu', 'Elu', { alpha: 0.5 }, 13, 'elu'),
  activationCase('Gelu (opset 20)', 'Gelu', {}, 20, 'gelu'),
  activationCase('Gelu tanh approximation (opset 20)', 'Gelu', { approximate: 'tanh' }, 20, 'gelu'),
  {
    name: 'PRelu with one slope',
    nIn: 4,
    kinds: ['leakyrelu'],
    build: () => {
      const g = new TestGraph(['N', 4]);
      const h = g.op('PRelu', [gemmNet(g, 'x', 4, 6, 19), g.init([1], [0.2])]);
      return g.build(gemmNet(g, h, 6, 2, 20), ['N', 2]);
    },
  },
  {
    name: 'SiLU exported as x * Sigmoid(x)',
    nIn: 4,
    kinds: ['silu'],
    build: () => {
      const g = new TestGraph(['N', 4]);
      const z = gemmNet(g, 'x', 4, 6, 21);
      const h = g.op('Mul', [z, g.op('Sigmoid', [z])]);
      return g.build(gemmNet(g, h, 6, 2, 22), ['N', 2]);
    },
  },
  {
    name: 'GELU exported as x * 0.5 * (1 + Erf(x / sqrt 2)) (PyTorch < opset 20)',
    nIn: 4,
    kinds: ['gelu'],
    build: () => {
      const g = new TestGraph(['N', 4]);
      const z = gemmNet(g, 'x', 4, 6, 23);
      const e = g.op('Erf', [g.op('Div', [z, g.init([], [Math.SQRT2])])]);
      const h = g.op('Mul', [g.op('Mul', [z, g.op('Add', [e, g.init([], [1])])]), g.init([], [0.5])]);
      return g.build(gemmNet(g, h, 6, 2, 24), ['N', 2]);
    },
  },
  {
    name: 'GELU exported as (0.5 x) * (1 + Erf(x * 1/sqrt 2)) (tf2onnx order)',
    nIn: 4,
    kinds: ['gelu'],
    build: () => {
      const g = new TestGraph(['N', 4]);
      const z = gemmNet(g, 'x', 4, 6, 25);
      const half = g.op('Mul', [z, g.init([], [0.5])]);
      const e = g.op('Erf', [g.op('Mul', [z, g.init([], [Math.SQRT1_2])])]);
      const h = g.op('Mul', [half, g.op('Add', [g.init([], [1]), e])]);
      return g.build(gemmNet(g, h, 6, 2, 26), ['N', 2]);
    },
  },
];

async function compare(bytes: Uint8Array, nIn: number): Promise<{ forward: number; emitted: number; gradient: number }> {
  const model = importModel(bytes, 'case.onnx');
  const ir = requireIr(model);
  const n = 33;
  const x = Float64Array.from(weights(n * nIn, 77), (v) => 2 * v);
  const original = await createEvaluator(originalGraphs(model));
  const emitted = await createEvaluator({ nIn: ir.nIn, nOut: ir.nOut, forward: buildForwardModel(ir), gradient: buildGradientModel(ir) });
  try {
    const yOrig = await original.values(x, n);
    const yEmit = await emitted.values(x, n);
    const y64 = forward64(ir, x, n);
    const c = Float64Array.from(weights(ir.nOut, 5));
    const ref = valueAndGradient64(ir, x, n, c);
    const got = await emitted.valuesAndGradients(x, n, c);
    return { forward: relErr(y64, yOrig), emitted: relErr(yEmit, yOrig), gradient: relErr(got.gradients, ref.gradients) };
  } finally {
    await original.dispose();
    await emitted.dispose();
  }
}

describe('ONNX import of exporter op patterns (onnxruntime on the original graph is the oracle)', () => {
  it.each(CASES)('$name: IR forward, emitted graph and gradient graph agree with onnxruntime', async (c) => {
    const bytes = c.build();
    const ir = requireIr(importModel(bytes, 'case.onnx'));
    for (const k of c.kinds ?? []) expect(ir.nodes.some((n) => n.kind === k), `IR has a '${k}' node`).toBe(true);
    const e = await compare(bytes, c.nIn);
    expect(e.forward).toBeLessThan(1e-5);
    expect(e.emitted).toBeLessThan(1e-5);
    expect(e.gradient).toBeLessThan(1e-4);
  });
});

describe('import errors', () => {
  it('an op outside the IR loads for black-box search and names every unsupported node for gradients', async () => {
    const g = new TestGraph(['N', 4]);
    const a = g.op('Sin', [gemmNet(g, 'x', 4, 3, 30)]);
    const b = g.op('Cos', [a]);
    const bytes = g.build(gemmNet(g, g.op('Abs', [b]), 3, 2, 31), ['N', 2]);
    const model = importModel(bytes, 'weird.onnx');
    expect(model.ir).toBeUndefined();
    expect(model.unsupported.map((u) => u.opType)).toEqual(['Sin']); // downstream of an opaque value is not re-reported
    expect(() => requireIr(model)).toThrowError(UnsupportedOpError);
    try {
      requireIr(model);
    } catch (e) {
      const err = e as UnsupportedOpError;
      expect(err.file).toBe('weird.onnx');
      expect(err.opType).toBe('Sin');
      expect(err.message).toMatch(/^weird\.onnx: node 'Sin_\d+' \(Sin\): .*black-box search still runs/);
    }
    const ev = await createEvaluator(graphsFor(model));
    const x = Float64Array.from([0.1, -0.2, 0.3, 0.4, 0.5, 0.6, -0.7, 0.8]);
    const y = await ev.values(x, 2);
    expect(y.length).toBe(4);
    expect(ev.hasGradients).toBe(false);
    await ev.dispose();
  });

  it('reports every unsupported node at once', () => {
    const g = new TestGraph(['N', 4]);
    const a = g.op('Sin', [gemmNet(g, 'x', 4, 3, 32)]);
    const b = g.op('Cos', [gemmNet(g, 'x', 4, 3, 33)]);
    const bytes = g.build(g.op('Add', [a, b]), ['N', 3]);
    const model = importModel(bytes, 'two.onnx');
    expect(model.unsupported.map((u) => u.opType).sort()).toEqual(['Cos', 'Sin']);
  });

  it('external-data tensors give a clear OnnxDecodeError', () => {
    const g = new TestGraph(['N', 2]);
    const y = g.op('MatMul', ['x', g.init([2, 2], [1, 0, 0, 1])]);
    g.inits[0].rawData = undefined;
    g.inits[0].dataLocation = 1;
    g.inits[0].externalData = [{ key: 'location', value: 'weights.bin' }];
    const bytes = g.build(y, ['N', 2]);
    expect(() => importModel(bytes, 'ext.onnx')).toThrowError(OnnxDecodeError);
    expect(() => importModel(bytes, 'ext.onnx')).toThrowError(/ext\.onnx: tensor 'w0' stores its data in an external file/);
  });

  it('empty bytes, text and random bytes give OnnxDecodeError naming the file', () => {
    expect(() => importModel(new Uint8Array(0), 'empty.onnx')).toThrowError(/empty\.onnx: empty file/);
    expect(() => importModel(new TextEncoder().encode('hello, I am a text file\n'), 'a.txt')).toThrowError(OnnxDecodeError);
    const random = Uint8Array.from(weights(4096, 99), (v) => Math.floor((v + 1) * 128));
    expect(() => importModel(random, 'random.bin')).toThrowError(OnnxDecodeError);
  });
});
