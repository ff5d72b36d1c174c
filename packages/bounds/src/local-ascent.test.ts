import { makeBox, Rng } from '@nnmax/core';
import { forward64, type IrGraph, type IrNode } from '@nnmax/onnx';
import { describe, expect, it } from 'vitest';
import { localAscent } from './local-ascent.js';
import { evaluateSpec, linearSpec, type MaxMinSpec } from './spec.js';
import { denseReluNet } from '../../../test/helpers/random-ir.js';

const valuesAt = (graph: IrGraph, spec: MaxMinSpec, pts: readonly Float64Array[]): Float64Array => {
  const x = new Float64Array(pts.length * graph.nIn);
  pts.forEach((p, i) => x.set(p, i * graph.nIn));
  return evaluateSpec(spec, forward64(graph, x, pts.length), pts.length);
};

describe('localAscent', () => {
  it('never ends below its start or outside its box, on single-term and max-min specs', () => {
    const graph = denseReluNet(11, [3, 12, 12, 4], true);
    const rng = new Rng(2);
    const specs: MaxMinSpec[] = [
      linearSpec(Float64Array.of(1, -0.5, 0, 2)),
      // (y0 - y1 >= 0 and y0 - y2 >= 0) or (y3 - y0 >= 0): two disjuncts, one of two terms
      {
        nOut: 4,
        disjuncts: [
          { D: Float64Array.of(1, -1, 0, 0, 1, 0, -1, 0), e: Float64Array.of(0, 0) },
          { D: Float64Array.of(-1, 0, 0, 1), e: Float64Array.of(0.1) },
        ],
      },
    ];
    for (const spec of specs) {
      const boxes = Array.from({ length: 16 }, () => {
        const lo = Array.from({ length: 3 }, () => rng.uniform(-2, 1));
        return makeBox(lo, lo.map((l) => l + rng.uniform(0.01, 1)));
      });
      const starts = boxes.map((b) => Float64Array.from(b.lo, (l, k) => rng.uniform(l, b.hi[k])));
      const ends = localAscent(graph, spec, starts, boxes, { iterations: 12 });
      const before = valuesAt(graph, spec, starts);
      const after = valuesAt(graph, spec, ends);
      let improved = 0;
      ends.forEach((p, s) => {
        p.forEach((v, k) => {
          expect(v).toBeGreaterThanOrEqual(boxes[s].lo[k]);
          expect(v).toBeLessThanOrEqual(boxes[s].hi[k]);
        });
        expect(after[s]).toBeGreaterThanOrEqual(before[s]);
        if (after[s] > before[s]) improved++;
      });
      expect(improved).toBeGreaterThan(8);
    }
  });

  it('climbs to the peak of -|x - 0.3| - |y + 0.2| (maximum 0) from the corners of [-1, 1]^2', () => {
    // |t| = relu(t) + relu(-t): one ReLU layer of four units, then a negated sum
    const nodes: IrNode[] = [
      { id: 0, name: 'x', kind: 'input', size: 2, inputs: [] },
      { id: 1, name: 'd', kind: 'affine', size: 4, inputs: [0], nIn: 2, W: Float64Array.of(1, 0, -1, 0, 0, 1, 0, -1), b: Float64Array.of(-0.3, 0.3, 0.2, -0.2) },
      { id: 2, name: 'r', kind: 'relu', size: 4, inputs: [1] },
      { id: 3, name: 'y', kind: 'affine', size: 1, inputs: [2], nIn: 4, W: Float64Array.of(-1, -1, -1, -1), b: Float64Array.of(0) },
    ] as IrNode[];
    const graph: IrGraph = { nodes, input: 0, output: 3, nIn: 2, nOut: 1 };
    const box = makeBox([-1, -1], [1, 1]);
    const starts = [Float64Array.of(-1, -1), Float64Array.of(1, -1), Float64Array.of(-1, 1), Float64Array.of(1, 1)];
    const ends = localAscent(graph, linearSpec(Float64Array.of(1)), starts, starts.map(() => box), { iterations: 40 });
    for (const v of valuesAt(graph, linearSpec(Float64Array.of(1)), ends)) expect(v).toBeGreaterThan(-0.01);
  });
});
