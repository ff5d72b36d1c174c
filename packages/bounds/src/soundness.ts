import { dotErrorFactor, nextDown, nextUp } from '@nnmax/core';
import type { IrGraph } from '@nnmax/onnx';

/**
 * Rounding model of the bound arithmetic.
 *
 * Every bound is computed in float64 with round-to-nearest. Each backward step reports, per row,
 * an upper bound on the rounding error it made (the "slack"), of the form
 *   errorFactor * (sum of the absolute values of the terms it summed or multiplied)
 *     + UNDERFLOW_FLOOR * (1 + sum of the magnitudes the rounded coefficients multiply),
 * and the final bound adds the accumulated slack before stepping one ulp up.
 *
 * Why `errorFactor` is enough: it is twice Higham's gamma_m for m = (longest sum in the graph) + 8
 * (core `dotErrorFactor`). gamma_m bounds the relative error of a naive dot product of length
 * <= m (Higham, Accuracy and Stability of Numerical Algorithms, eq. 3.5), so gamma_m times the sum
 * of the absolute terms bounds the error of each sum we form; the + 8 covers the few extra terms
 * (bias, slack, running sums) that join a sum; and the factor 2 covers the rounding of the slack
 * expression itself (computed in float64, it can be smaller than the exact expression by a
 * relative (m + 2) u, far below 1 since m u < 1e-10 for any network that fits in memory).
 */
export function errorFactor(graph: IrGraph): number {
  let n = graph.nIn;
  for (const node of graph.nodes) {
    n = Math.max(n, node.size, node.inputs.length);
    if (node.kind === 'affine') n = Math.max(n, node.nIn);
  }
  return 2 * dotErrorFactor(n + 8);
}

/**
 * Absolute floor for underflow. Gamma covers relative rounding only; a product that underflows
 * into the subnormal range can be off by up to 2^-1075 absolutely (Higham eq. 2.8, the eta term),
 * and a sum of subnormals is exact. A step performs fewer than 4e23 operations (1e-300 / 2^-1075),
 * so `UNDERFLOW_FLOOR` covers the underflow of every value a step computes, and
 * `UNDERFLOW_FLOOR * (1 + sum of |x|max)` covers the underflow of coefficients that then multiply
 * values up to |x|max.
 */
export const UNDERFLOW_FLOOR = 1e-300;

/** An upper bound of the exact a * b. */
export function mulUp(a: number, b: number): number {
  return nextUp(a * b);
}
/** A lower bound of the exact a * b. */
export function mulDown(a: number, b: number): number {
  return nextDown(a * b);
}
/** An upper bound of the exact a + b. */
export function addUp(a: number, b: number): number {
  return nextUp(a + b);
}
/** A lower bound of the exact a + b. */
export function addDown(a: number, b: number): number {
  return nextDown(a + b);
}
