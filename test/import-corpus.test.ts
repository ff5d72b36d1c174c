import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildForwardModel, buildGradientModel, forwardAll, importModel, requireIr, valueAndGradient64, type IrGraph } from '@nnmax/onnx';
import { createEvaluator } from '@nnmax/runtime/node';
import { originalGraphs, parseVnnlib } from 'nnmax';
import { corpusNetworks } from './helpers/corpus.js';
import { uniformInBox } from './helpers/sampling.js';
import { absErr, outputAccumulationScale, relErr, TOL } from './tolerances.js';

const NETWORKS = corpusNetworks();

function boxOf(net: (typeof NETWORKS)[number], nIn: number) {
  const path = net.properties[0];
  const prop = parseVnnlib(readFileSync(path, 'utf8'), path);
  expect(prop.nIn).toBe(nIn);
  return prop.cases[0].box;
}

describe('every network of the corpus imports and evaluates like onnxruntime on the original file', () => {
  it('the corpus holds all 56 networks of the benchmark README', () => {
    expect(NETWORKS.length).toBe(56);
    expect(NETWORKS.every((n) => n.properties.length > 0)).toBe(true);
  });

  it.each(NETWORKS.map((n) => [n.id, n] as const))('%s', async (_id, net) => {
    const model = importModel(readFileSync(net.path), net.path);
    const ir = requireIr(model);
    const box = boxOf(net, model.nIn);
    const original = await createEvaluator(originalGraphs(model));
    const emitted = await createEvaluator({ nIn: ir.nIn, nOut: ir.nOut, forward: buildForwardModel(ir) });
    try {
      // float64 IR forward vs the original graph in onnxruntime on 1,000 points of the property box
      // inputs rounded to float32 first: onnxruntime sees exactly these values
      const x = uniformInBox(box, 1000, 1).map(Math.fround);
      const yOrig = await original.values(x, 1000);
      const all = forwardAll(ir, x, 1000);
      const scale = outputAccumulationScale(ir, all, 1000);
      expect(absErr(all[ir.output], yOrig) / scale).toBeLessThan(TOL.forwardVsOriginal);
      // emitted forward graph vs original at batch sizes 1, 7 and 4096
      for (const n of [1, 7, 4096]) {
        const xs = uniformInBox(box, n, 10 + n);
        expect(relErr(await emitted.values(xs, n), await original.values(xs, n))).toBeLessThan(TOL.emittedVsOriginal);
      }
    } finally {
      await original.dispose();
      await emitted.dispose();
    }
  });
});

/** True when every ReLU-like kink keeps its side between the points: the function is smooth there. */
function samePattern(ir: IrGraph, xa: Float64Array, xb: Float64Array): boolean {
  const a = forwardAll(ir, xa, 1);
  const b = forwardAll(ir, xb, 1);
  for (const node of ir.nodes) {
    if (node.kind !== 'relu' && node.kind !== 'leakyrelu') continue;
    const za = a[node.inputs[0]];
    const zb = b[node.inputs[0]];
    // a side is +1, -1, or 0 within float64 noise (TLL nets hold relu(a - a)-style degenerate units)
    const side = (z: number): number => (z > 1e-9 ? 1 : z < -1e-9 ? -1 : 0);
    for (let i = 0; i < za.length; i++) if (side(za[i]) !== side(zb[i])) return false;
  }
  return true;
}

describe('the gradient graph is the input gradient of c . F(x) on every corpus network', () => {
  const picks = NETWORKS.filter((n) => n.family !== 'acasxu' || /_(1_1|3_3|5_9)_/.test(n.id));
  it.each(picks.map((n) => [n.id, n] as const))('%s: matches central differences and the float64 reference', async (_id, net) => {
    const model = importModel(readFileSync(net.path), net.path);
    const ir = requireIr(model);
    const box = boxOf(net, model.nIn);
    const ev = await createEvaluator({ nIn: ir.nIn, nOut: ir.nOut, forward: buildForwardModel(ir), gradient: buildGradientModel(ir) });
    try {
      const n = 64;
      const x = uniformInBox(box, n, 3);
      const c = Float64Array.from({ length: ir.nOut }, (_, j) => (j === 0 ? 1 : -1 / ir.nOut));
      const got = await ev.valuesAndGradients(x, n, c);
      const ref = valueAndGradient64(ir, x, n, c);
      expect(relErr(got.gradients, ref.gradients)).toBeLessThan(TOL.gradientVsReference);
      expect(relErr(got.values, ref.values)).toBeLessThan(TOL.forwardVsOriginal);
      // central finite differences of the float64 forward, on coordinates where no kink is crossed
      const coords = ir.nIn <= 16 ? [...Array(ir.nIn).keys()] : [...Array(24).keys()].map((k) => (k * 7919) % ir.nIn);
      let checked = 0;
      for (let s = 0; s < 4; s++) {
        const xs = x.slice(s * ir.nIn, (s + 1) * ir.nIn);
        const fd: number[] = [];
        const an: number[] = [];
        for (const i of coords) {
          const h = 1e-6 * Math.max(1, Math.abs(xs[i]));
          const xp = Float64Array.from(xs);
          const xm = Float64Array.from(xs);
          xp[i] += h;
          xm[i] -= h;
          if (!samePattern(ir, xp, xm)) continue;
          const vp = valueAndGradient64(ir, xp, 1, c).values[0];
          const vm = valueAndGradient64(ir, xm, 1, c).values[0];
          fd.push((vp - vm) / (2 * h));
          an.push(got.gradients[s * ir.nIn + i]);
          checked++;
        }
        expect(relErr(an, fd)).toBeLessThan(TOL.gradientVsFiniteDifference);
      }
      expect(checked).toBeGreaterThan(coords.length); // most coordinates were away from kinks
    } finally {
      await ev.dispose();
    }
  });
});
