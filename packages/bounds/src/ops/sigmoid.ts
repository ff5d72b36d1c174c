import { sigmoid, type SigmoidNode } from '@nnmax/onnx';
import { UNDERFLOW_FLOOR } from '../soundness.js';
import { ActivationBound, type Relaxation } from './activation-bound.js';
import { SMOOTH_REL_ERR, smoothRange, smoothRelax, type SmoothActivation } from './smooth.js';

/**
 * sigmoid = 1 / (1 + e^-x) as computed by @nnmax/onnx: relative error below 64 ulps; its
 * derivative s (1 - s) loses at most that much absolutely to the cancellation in 1 - s.
 */
export const SIGMOID: SmoothActivation = {
  f: sigmoid,
  df: (x) => {
    const s = sigmoid(x);
    return s * (1 - s);
  },
  fErr: (_x, v) => SMOOTH_REL_ERR * Math.abs(v) + UNDERFLOW_FLOOR,
  dfErr: (_x, d) => SMOOTH_REL_ERR * (Math.abs(d) + 1),
  breaks: [0],
  curvature: ['convex', 'concave'],
  lipschitz: 0.25,
  isMonotone: true,
};

/** Sigmoid: S-shaped, convex on x <= 0 and concave on x >= 0. */
export class SigmoidBound extends ActivationBound<SigmoidNode> {
  /**
   * Guarantees lower(x) <= sigmoid(x) <= upper(x) for x in [l, u]:
   * - convex region (u <= 0): upper is the secant; lower is the better of the midpoint tangent
   *   and the tangent parallel to the secant;
   * - concave region (l >= 0): mirrored (lower secant, upper tangents);
   * - straddling (S-shaped): the best of the secant, endpoint and midpoint tangents and the
   *   extreme chord slopes from each endpoint (CROWN's tangent-through-endpoint lines, with the
   *   touching point estimated), and the constant lines at the rigorous min and max;
   * stable-negative/positive are the convex/concave cases. In every case the intercept is a
   * rigorous bound of max/min of sigmoid(x) - a x over [l, u] (see `maxDeviation`) with the
   * evaluation error of Math.exp accounted for, so the lines are sound for any slope.
   */
  relax(lower: Float64Array, upper: Float64Array): Relaxation {
    return smoothRelax(SIGMOID, lower, upper);
  }

  /** [sigmoid(l), sigmoid(u)] rounded outward by the error model. */
  override range(lower: Float64Array, upper: Float64Array): { lo: Float64Array; hi: Float64Array } {
    return smoothRange(SIGMOID, lower, upper);
  }
}
