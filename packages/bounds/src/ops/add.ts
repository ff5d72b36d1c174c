import { nextDown, nextUp } from '@nnmax/core';
import type { AddNode } from '@nnmax/onnx';
import type { BackwardStep, BoundOp } from '../bound-op.js';
import { makeIntervalBatch, type IntervalBatch } from '../interval-batch.js';
import type { LinearCoeffs } from '../linear-coeffs.js';

/** y = x_1 + x_2 + ... (elementwise). */
export class AddBound implements BoundOp<AddNode> {
  /** Sum of the inputs' ends, each partial sum stepped one ulp outward. */
  interval(node: AddNode, inputs: readonly IntervalBatch[]): IntervalBatch {
    const first = inputs[0];
    const out = makeIntervalBatch(first.nBoxes, node.size);
    out.lo.set(first.lo);
    out.hi.set(first.hi);
    for (let k = 1; k < inputs.length; k++) {
      const iv = inputs[k];
      for (let i = 0; i < out.lo.length; i++) {
        out.lo[i] = nextDown(out.lo[i] + iv.lo[i]);
        out.hi[i] = nextUp(out.hi[i] + iv.hi[i]);
      }
    }
    return out;
  }

  /** A . (x_1 + x_2 + ...) = A . x_1 + A . x_2 + ...: exact, every input gets A. */
  backward(_node: AddNode, coeffs: LinearCoeffs, inputs: readonly IntervalBatch[]): BackwardStep {
    return { inputCoeffs: inputs.map(() => coeffs.A), bias: undefined, slack: undefined };
  }
}
