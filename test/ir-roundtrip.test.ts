import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NnmaxError } from '@nnmax/core';
import { buildForwardModel, buildGradientModel, forward64, importModel, valueAndGradient64, type IrGraph } from '@nnmax/onnx';
import { createEvaluator } from '@nnmax/runtime/node';
import { buildRandomNet, randomNetSpec } from './helpers/random-ir.js';
import { relErr } from './tolerances.js';

const points = (n: number, nIn: number, seed: number): Float64Array => {
  let s = seed >>> 0 || 7;
  return Float64Array.from({ length: n * nIn }, () => {
    s = (Math.imul(s, 22695477) + 1) >>> 0;
    return 4 * (s / 2 ** 32) - 2;
  });
};

async function emittedVsReference(ir: IrGraph, seed: number): Promise<{ forward: number; gradient: number; reimport: number }> {
  const n = 16;
  const x = points(n, ir.nIn, seed);
  const ev = await createEvaluator({ nIn: ir.nIn, nOut: ir.nOut, forward: buildForwardModel(ir), gradient: buildGradientModel(ir) });
  try {
    const c = Float64Array.from({ length: ir.nOut }, (_, j) => (j % 2 === 0 ? 1 : -0.5));
    const y = await ev.values(x, n);
    const g = await ev.valuesAndGradients(x, n, c);
    const ref = valueAndGradient64(ir, x, n, c);
    // the emitted forward graph re-imports into an IR with the same float64 function
    const again = importModel(buildForwardModel(ir), 'emitted.onnx').ir!;
    return { forward: relErr(y, ref.outputs), gradient: relErr(g.gradients, ref.gradients), reimport: relErr(forward64(again, x, n), ref.outputs) };
  } finally {
    await ev.dispose();
  }
}

describe('random IR networks round-trip through encode, onnxruntime and the float64 reference', () => {
  it('forward and gradient graphs agree with the reference for every activation, add and concat', async () => {
    await fc.assert(
      fc.asyncProperty(randomNetSpec(), async (spec) => {
        const e = await emittedVsReference(buildRandomNet(spec), spec.seed);
        expect(e.forward).toBeLessThan(1e-5);
        expect(e.gradient).toBeLessThan(1e-4);
        // float32 weights in the emitted graph: the re-import differs by float32 rounding only
        expect(e.reimport).toBeLessThan(1e-5);
      }),
      { numRuns: 60, seed: 20261125 },
    );
  });

  it('the float64 reference gradient matches central finite differences (smooth activations)', () => {
    fc.assert(
      fc.property(randomNetSpec(['sigmoid', 'tanh', 'softplus', 'silu', 'gelu']), (spec) => {
        const ir = buildRandomNet(spec);
        const x = points(1, ir.nIn, spec.seed);
        const c = Float64Array.from({ length: ir.nOut }, (_, j) => j + 1);
        const g = valueAndGradient64(ir, x, 1, c).gradients;
        const h = 1e-6;
        const fd = new Float64Array(ir.nIn);
        for (let i = 0; i < ir.nIn; i++) {
          const xp = Float64Array.from(x);
          const xm = Float64Array.from(x);
          xp[i] += h;
          xm[i] -= h;
          fd[i] = (valueAndGradient64(ir, xp, 1, c).values[0] - valueAndGradient64(ir, xm, 1, c).values[0]) / (2 * h);
        }
        expect(relErr(g, fd)).toBeLessThan(1e-6);
      }),
      { numRuns: 100, seed: 7 },
    );
  });
});

describe('mutated model bytes never crash, hang or answer wrongly', () => {
  const base = buildForwardModel(buildRandomNet({ nIn: 3, widths: [5, 4], activations: ['relu', 'tanh', 'sigmoid'], residual: true, concat: true, seed: 11 }));

  /** Imports and, if that works, compares the IR with onnxruntime running the mutated bytes. */
  async function check(bytes: Uint8Array): Promise<'typed-error' | 'agrees' | 'runtime-rejects'> {
    let model;
    try {
      model = importModel(bytes, 'mutated.onnx');
    } catch (e) {
      expect(e).toBeInstanceOf(NnmaxError);
      return 'typed-error';
    }
    if (!model.ir) return 'typed-error';
    let ev;
    try {
      ev = await createEvaluator({ nIn: model.nIn, nOut: model.nOut, forward: bytes, forwardInput: { name: model.inputName, output: model.outputName, shape: [1, model.nIn], batched: true } });
    } catch (e) {
      expect(e).toBeInstanceOf(NnmaxError); // loadModel refuses such a model with this error
      return 'runtime-rejects';
    }
    try {
      const x = points(4, model.nIn, 3);
      const y = await ev.values(x, 4).catch((e) => {
        expect(e).toBeInstanceOf(NnmaxError);
        return undefined;
      });
      if (y === undefined) return 'runtime-rejects';
      expect(relErr(forward64(model.ir, x, 4), y)).toBeLessThan(1e-5);
      return 'agrees';
    } finally {
      await ev.dispose();
    }
  }

  it('truncation at every length class gives a typed error', async () => {
    for (const len of [1, 2, 10, 50, base.length >> 2, base.length >> 1, base.length - 7, base.length - 1]) {
      expect(await check(base.subarray(0, len))).not.toBe('agrees-wrongly');
    }
  });

  it('flipped bytes give a typed error or a model that agrees with onnxruntime', async () => {
    const outcomes = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }), async (flips) => {
        const b = Uint8Array.from(base);
        for (const [i, v] of flips) b[i] ^= v;
        const r = await check(b);
        outcomes.set(r, (outcomes.get(r) ?? 0) + 1);
      }),
      { numRuns: 150, seed: 99 },
    );
    expect(outcomes.get('agrees') ?? 0).toBeGreaterThan(0); // the property did exercise surviving models
  });

  it('dropping a node gives a typed error naming the missing tensor', () => {
    const model = importModel(base, 'base.onnx');
    for (let k = 0; k < model.onnx.graph!.node!.length; k++) {
      const graph = model.onnx.graph!;
      const nodes = graph.node!.filter((_, i) => i !== k);
      const mutated = { ...model.onnx, graph: { ...graph, node: nodes } };
      let err: unknown;
      try {
        importModel(encodeFor(mutated), 'dropped.onnx');
      } catch (e) {
        err = e;
      }
      expect(err, `dropping node ${k}`).toBeInstanceOf(NnmaxError);
    }
  });
});

import { encodeModel } from '@nnmax/onnx';
const encodeFor = encodeModel;
