import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { activationValue } from './activations.js';
import { isActivation, type IrGraph } from './ir.js';
import { forwardAll, valueAndGradient64 } from './reference.js';
import { buildRandomNet, randomNetSpec } from '../../../test/helpers/random-ir.js';

/** The textbook forward: one dot product per neuron, summed from the bias in input order. */
function textbookForward(graph: IrGraph, x: Float64Array, n: number): Float64Array[] {
  const values: Float64Array[] = [];
  for (const node of graph.nodes) {
    const out = new Float64Array(n * node.size);
    if (node.kind === 'input') out.set(x);
    else if (node.kind === 'affine') {
      const inp = values[node.inputs[0]];
      for (let s = 0; s < n; s++) {
        for (let j = 0; j < node.size; j++) {
          let acc = node.b[j];
          for (let k = 0; k < node.nIn; k++) acc += node.W[j * node.nIn + k] * inp[s * node.nIn + k];
          out[s * node.size + j] = acc;
        }
      }
    } else if (node.kind === 'add') {
      for (const id of node.inputs) for (let i = 0; i < out.length; i++) out[i] += values[id][i];
    } else if (node.kind === 'concat') {
      for (let s = 0; s < n; s++) {
        let offset = 0;
        for (const id of node.inputs) {
          const m = graph.nodes[id].size;
          for (let t = 0; t < m; t++) out[s * node.size + offset + t] = values[id][s * m + t];
          offset += m;
        }
      }
    } else if (isActivation(node)) {
      const z = values[node.inputs[0]];
      for (let i = 0; i < out.length; i++) out[i] = activationValue(node, z[i]);
    }
    values.push(out);
  }
  return values;
}

describe('float64 reference forward', () => {
  it('equals the textbook dot products bit for bit on random nets of widths 1 to 7 (blocked and remainder neurons)', () => {
    fc.assert(
      fc.property(randomNetSpec(), fc.integer({ min: 1, max: 5 }), (spec, n) => {
        const graph = buildRandomNet(spec, 5);
        const x = Float64Array.from({ length: n * spec.nIn }, (_, i) => Math.sin(1.7 * i + spec.seed));
        const got = forwardAll(graph, x, n);
        const want = textbookForward(graph, x, n);
        for (let i = 0; i < want.length; i++) expect(Array.from(got[i])).toEqual(Array.from(want[i]));
      }),
      { numRuns: 200 },
    );
  });

  it('valueAndGradient64 given the forward values returns what it computes without them', () => {
    fc.assert(
      fc.property(randomNetSpec(), (spec) => {
        const graph = buildRandomNet(spec, 3);
        const n = 4;
        const x = Float64Array.from({ length: n * spec.nIn }, (_, i) => Math.cos(0.9 * i + spec.seed));
        const c = Float64Array.of(0.5, -1, 2);
        const a = valueAndGradient64(graph, x, n, c);
        const b = valueAndGradient64(graph, x, n, c, undefined, forwardAll(graph, x, n));
        expect(Array.from(b.values)).toEqual(Array.from(a.values));
        expect(Array.from(b.gradients)).toEqual(Array.from(a.gradients));
      }),
      { numRuns: 100 },
    );
  });
});
