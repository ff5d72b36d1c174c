import type { IrNode } from '@nnmax/onnx';
import type { IntervalBatch } from './interval-batch.js';
import type { LinearCoeffs } from './linear-coeffs.js';

/**
 * What one backward step through a node produces for rows that bound from above:
 *   A . value(node) <= sum_k inputCoeffs[k] . value(input k) + bias + (error of this step)
 * with the floating-point error of the step bounded by `slack` (both `[nRows]`, added to the
 * traversal's running totals).
 */
export interface BackwardStep {
  /** `[nRows, inputs[k].size]` per input; undefined means all zeros. */
  readonly inputCoeffs: readonly (Float64Array | undefined)[];
  /** `[nRows]` constant added to each row, or undefined for none. */
  readonly bias: Float64Array | undefined;
  /** `[nRows]` upper bound (>= 0) on the rounding error this step made in each row. */
  readonly slack: Float64Array | undefined;
}

/** Extra inputs of a backward step; alpha slopes are an explicit argument, never node state. */
export interface BackwardOptions {
  /** Optimised lower-line slopes of this activation, `[nRows, size]` (one per row and neuron). */
  readonly alpha?: Float64Array;
  /** The rounding factor of the graph (see `errorFactor` in soundness.ts). */
  readonly errorFactor: number;
  /**
   * Memoises per-box data that a rule derives from its inputs' intervals (they are final when
   * any backward step runs), so that repeated back-substitutions over one batch compute it once.
   * The memo lives in the traversal's context, keyed by node and `key`; absent, compute directly.
   */
  readonly memo?: (key: string, compute: () => Float64Array) => Float64Array;
  /**
   * Makes a zero-filled `[n]` array for the step's `inputCoeffs` (a pooled one from the
   * traversal, which may recycle it once the step's output is consumed); absent, `new`.
   */
  readonly allocate?: (n: number) => Float64Array;
  /**
   * `[nBoxes, inputs[0].size]`: 1 where a coefficient on the step's (first) input cannot change
   * any bound, because that input is an activation whose both lines are 0 there (a ReLU with
   * u <= 0). A step may leave those coefficients 0 instead of computing them.
   */
  readonly deadInput?: Uint8Array;
}

export interface BoundOp<N extends IrNode = IrNode> {
  /** Sound elementwise interval of the node's output from its inputs' intervals. */
  interval(node: N, inputs: readonly IntervalBatch[], errorFactor: number): IntervalBatch;
  /**
   * Carries rows that bound from above through the node. `inputs` are the intervals of the
   * node's inputs and `self` the interval of its output.
   */
  backward(
    node: N,
    coeffs: LinearCoeffs,
    inputs: readonly IntervalBatch[],
    self: IntervalBatch,
    options: BackwardOptions,
  ): BackwardStep;
}
