/**
 * Named tolerances for the test suite. A per-model override carries its reason.
 */
export const TOL = {
  /** IR float64 forward vs onnxruntime float32 on the original file, relative to the output scale. */
  forwardVsOriginal: 1e-5,
  /** Emitted float32 forward graph vs original graph, both float32 in onnxruntime, relative to scale. */
  emittedVsOriginal: 1e-5,
  /** Gradient graph (float32) vs float64 central finite differences, relative to the gradient scale. */
  gradientVsFiniteDifference: 1e-4,
  /** Gradient graph (float32) vs float64 reference gradient, relative to the gradient scale. */
  gradientVsReference: 1e-4,
  /** VNN-COMP counterexample tolerance. */
  vnncomp: 1e-4,
} as const;

/** max |a - b| / max(1e-12, max |b|) */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let err = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    err = Math.max(err, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return err / Math.max(scale, 1e-12);
}
