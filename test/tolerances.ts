import type { IrGraph } from '@nnmax/onnx';

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

/**
 * The scale against which float32 output errors are measured: the largest magnitude the output
 * layer accumulates, max over points and outputs of sum_k |W_jk h_k| + |b_j|. onnxruntime computes
 * in float32, so its error is relative to this sum, not to the (possibly tiny) output: ACAS Xu
 * 5_6 on the property-1 box has outputs below 0.035 built from activations up to 1400.
 */
export function outputAccumulationScale(ir: IrGraph, values: readonly Float64Array[], n: number): number {
  const last = ir.nodes[ir.output];
  if (last.kind !== 'affine') return Math.max(...values[ir.output].map(Math.abs));
  const h = values[last.inputs[0]];
  let scale = 0;
  for (let s = 0; s < n; s++)
    for (let j = 0; j < last.size; j++) {
      let acc = Math.abs(last.b[j]);
      for (let k = 0; k < last.nIn; k++) acc += Math.abs(last.W[j * last.nIn + k] * h[s * last.nIn + k]);
      scale = Math.max(scale, acc);
    }
  return scale;
}

/** max |a - b| / scale */
export function absErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let err = 0;
  for (let i = 0; i < b.length; i++) err = Math.max(err, Math.abs(a[i] - b[i]));
  return err;
}
