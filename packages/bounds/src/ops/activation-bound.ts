import type { ActivationNode } from '@nnmax/onnx';
import type { BackwardOptions, BackwardStep, BoundOp } from '../bound-op.js';
import { makeIntervalBatch, magnitudeSums, magnitudes, type IntervalBatch } from '../interval-batch.js';
import type { LinearCoeffs } from '../linear-coeffs.js';
import { UNDERFLOW_FLOOR, addDown, addUp, mulDown, mulUp } from '../soundness.js';

/**
 * Per-neuron lower and upper lines of an activation over its input interval [l, u]:
 *   lowerSlope * y + lowerIntercept <= act(y) <= upperSlope * y + upperIntercept  for y in [l, u],
 * exactly (in real arithmetic on the stored float64 values). Arrays are parallel to the interval.
 */
export interface Relaxation {
  readonly lowerSlope: Float64Array;
  readonly lowerIntercept: Float64Array;
  readonly upperSlope: Float64Array;
  readonly upperIntercept: Float64Array;
}

export function makeRelaxation(n: number): Relaxation {
  return {
    lowerSlope: new Float64Array(n),
    lowerIntercept: new Float64Array(n),
    upperSlope: new Float64Array(n),
    upperIntercept: new Float64Array(n),
  };
}

/** Extra inputs of an activation's backward step. */
export interface ActivationBackwardOptions extends BackwardOptions {
  /** `relax(lower, upper)` of this node's input interval, when the caller already has it. */
  readonly relaxation?: Relaxation;
}

/**
 * Base of every activation bound. A subclass implements `relax(lower, upper, node)`; the interval
 * and backward rules follow from those lines. Rows bound from above, so the backward rule uses
 * the upper line where a row's coefficient is >= 0 and the lower line where it is negative.
 */
export abstract class ActivationBound<N extends ActivationNode = ActivationNode> implements BoundOp<N> {
  /** Sound lines for every neuron; see `Relaxation`. `lower`, `upper` are elementwise, l <= u. */
  abstract relax(lower: Float64Array, upper: Float64Array, node: N): Relaxation;

  /**
   * The range of an optimisable lower slope (alpha-CROWN), or undefined. When defined, the line
   * `alpha * y` (intercept 0) is a lower bound of the activation on all of R for every alpha in
   * the range, so any alpha in it may replace the lower line of an unstable neuron.
   */
  alphaRange(_node: N): readonly [number, number] | undefined {
    return undefined;
  }

  /**
   * Whether the activation is two linear pieces joined at 0 (ReLU, LeakyReLU): then a sign
   * constraint on its input (a split) makes it linear, and branch-and-bound may split on it.
   */
  isPiecewiseLinear(_node: N): boolean {
    return false;
  }

  /**
   * Whether tighter bounds on the input of this neuron cannot change the relaxation (for
   * ReLU-like units: the neuron is stable). Smooth units always gain from tighter bounds.
   */
  isSettled(_l: number, _u: number, _node: N): boolean {
    return false;
  }

  /**
   * Sound output interval. The default takes the extremes of the lines over [l, u], each product
   * and sum rounded outward; subclasses with a tighter exact range override it.
   */
  range(lower: Float64Array, upper: Float64Array, node: N): { lo: Float64Array; hi: Float64Array } {
    const r = this.relax(lower, upper, node);
    const lo = new Float64Array(lower.length);
    const hi = new Float64Array(lower.length);
    for (let i = 0; i < lower.length; i++) {
      const l = lower[i];
      const u = upper[i];
      const a = r.lowerSlope[i];
      const b = r.lowerIntercept[i];
      lo[i] = addDown(a >= 0 ? mulDown(a, l) : mulDown(a, u), b);
      const c = r.upperSlope[i];
      const d = r.upperIntercept[i];
      hi[i] = addUp(c >= 0 ? mulUp(c, u) : mulUp(c, l), d);
    }
    return { lo, hi };
  }

  interval(node: N, inputs: readonly IntervalBatch[]): IntervalBatch {
    const inp = inputs[0];
    const out = makeIntervalBatch(inp.nBoxes, inp.size);
    const { lo, hi } = this.range(inp.lo, inp.hi, node);
    out.lo.set(lo);
    out.hi.set(hi);
    return out;
  }

  backward(
    node: N,
    coeffs: LinearCoeffs,
    inputs: readonly IntervalBatch[],
    _self: IntervalBatch,
    options: ActivationBackwardOptions,
  ): BackwardStep {
    const inp = inputs[0];
    const relaxation = options.relaxation ?? this.relax(inp.lo, inp.hi, node);
    const { nRows, size, A, rowBox } = coeffs;
    const range = this.alphaRange(node);
    const alpha = range === undefined ? undefined : options.alpha;
    const aLo = range === undefined ? 0 : range[0];
    const aHi = range === undefined ? 0 : range[1];
    const G = options.errorFactor;
    const memo = options.memo ?? ((_key: string, compute: () => Float64Array) => compute());
    const yMax = memo('yMax', () => magnitudes(inp)); // [nBoxes, size]
    const floor = memo('floor', () => magnitudeSums(yMax, inp.nBoxes, size));
    const out = options.allocate?.(nRows * size) ?? new Float64Array(nRows * size); // [nRows, size]
    const bias = options.allocate?.(nRows) ?? new Float64Array(nRows);
    const slack = options.allocate?.(nRows) ?? new Float64Array(nRows);
    backwardRows(A, nRows, size, rowBox, relaxation, inp.lo, inp.hi, alpha ?? NO_ALPHA, alpha !== undefined, aLo, aHi, yMax, floor, G, out, bias, slack);
    return { inputCoeffs: [out], bias, slack };
  }
}

const NO_ALPHA = new Float64Array(0);

/**
 * The row loop of `ActivationBound.backward`, a separate function with only typed arrays and
 * numbers as arguments: one monomorphic kernel for every activation class. Inside `backward` the
 * loop shared the method's polymorphic receivers and options, and Chromium's V8 (Maglev, then
 * Turbofan on-stack replacement) deoptimised it for OSR on nearly every call: the same
 * branch-and-bound ran four times slower in the browser than in Node.
 */
function backwardRows(
  A: Float64Array,
  nRows: number,
  size: number,
  rowBox: Int32Array,
  relaxation: Relaxation,
  ilo: Float64Array,
  ihi: Float64Array,
  alpha: Float64Array,
  hasAlpha: boolean,
  aLo: number,
  aHi: number,
  yMax: Float64Array,
  floor: Float64Array,
  G: number,
  out: Float64Array,
  bias: Float64Array,
  slack: Float64Array,
): void {
  const { lowerSlope, lowerIntercept, upperSlope, upperIntercept } = relaxation;
  for (let r = 0; r < nRows; r++) {
    const ro = r * size;
    const box = rowBox[r];
    const bo = box * size;
    let bsum = 0;
    let err = 0; // sum |a s| |y|max + |a t|: the magnitudes that the rounding error scales with
    for (let j = 0; j < size; j++) {
      const a = A[ro + j];
      if (a === 0) continue;
      const q = bo + j;
      let s: number;
      let t: number;
      if (a > 0) {
        s = upperSlope[q];
        t = upperIntercept[q];
      } else if (hasAlpha && ilo[q] < 0 && ihi[q] > 0) {
        // clamped so that a stray alpha can never make the line unsound
        const al = alpha[ro + j];
        s = al < aLo ? aLo : al > aHi ? aHi : al;
        t = 0;
      } else {
        s = lowerSlope[q];
        t = lowerIntercept[q];
      }
      const as = a * s;
      const at = a * t;
      out[ro + j] = as;
      bsum += at;
      err += Math.abs(at) + Math.abs(as) * yMax[q];
    }
    bias[r] = bsum;
    slack[r] = G * err + UNDERFLOW_FLOOR * floor[box];
  }
}
