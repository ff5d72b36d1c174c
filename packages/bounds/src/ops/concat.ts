import type { ConcatNode } from '@nnmax/onnx';
import type { BackwardStep, BoundOp } from '../bound-op.js';
import { makeIntervalBatch, type IntervalBatch } from '../interval-batch.js';
import type { LinearCoeffs } from '../linear-coeffs.js';

/** y = [x_1, x_2, ...]. */
export class ConcatBound implements BoundOp<ConcatNode> {
  /** The inputs' intervals side by side (exact). */
  interval(node: ConcatNode, inputs: readonly IntervalBatch[]): IntervalBatch {
    const nBoxes = inputs[0].nBoxes;
    const out = makeIntervalBatch(nBoxes, node.size);
    let offset = 0;
    for (const iv of inputs) {
      const m = iv.size;
      for (let s = 0; s < nBoxes; s++) {
        out.lo.set(iv.lo.subarray(s * m, (s + 1) * m), s * node.size + offset);
        out.hi.set(iv.hi.subarray(s * m, (s + 1) * m), s * node.size + offset);
      }
      offset += m;
    }
    return out;
  }

  /** A . [x_1, x_2, ...] = A[:, block 1] . x_1 + ...: exact, each input gets its column block. */
  backward(node: ConcatNode, coeffs: LinearCoeffs, inputs: readonly IntervalBatch[]): BackwardStep {
    const { nRows, A } = coeffs;
    const out: Float64Array[] = [];
    let offset = 0;
    for (const iv of inputs) {
      const m = iv.size;
      const c = new Float64Array(nRows * m);
      for (let r = 0; r < nRows; r++) c.set(A.subarray(r * node.size + offset, r * node.size + offset + m), r * m);
      out.push(c);
      offset += m;
    }
    return { inputCoeffs: out, bias: undefined, slack: undefined };
  }
}
