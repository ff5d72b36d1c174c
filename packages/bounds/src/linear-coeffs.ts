/**
 * A set of linear rows being carried backward through the graph (CROWN back-substitution).
 * Row `r` belongs to box `rowBox[r]` and states, for every point of that box,
 *   target_r(x) <= A[r] . value(node) + bias_r + slack_r
 * where `bias` and `slack` live in the traversal. Several boxes' rows share one matrix so an
 * affine step is one matrix-matrix product for the whole batch.
 */
export interface LinearCoeffs {
  readonly nRows: number;
  readonly size: number;
  readonly A: Float64Array; // [nRows, size] row-major
  readonly rowBox: Int32Array; // [nRows]
}
