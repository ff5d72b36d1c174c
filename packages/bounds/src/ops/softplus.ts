import { sigmoid, softplus, type SoftplusNode } from '@nnmax/onnx';
import { UNDERFLOW_FLOOR } from '../soundness.js';
import { ActivationBound, type Relaxation } from './activation-bound.js';
import { SMOOTH_REL_ERR, smoothRange, smoothRelax, type SmoothActivation } from './smooth.js';

/** softplus = max(x, 0) + log1p(e^-|x|): a sum of nonnegative terms, relative error below 64 ulps. */
export const SOFTPLUS: SmoothActivation = {
  f: softplus,
  df: sigmoid,
  fErr: (_x, v) => SMOOTH_REL_ERR * Math.abs(v) + UNDERFLOW_FLOOR,
  dfErr: (_x, d) => SMOOTH_REL_ERR * Math.abs(d) + UNDERFLOW_FLOOR,
  breaks: [],
  curvature: ['convex'],
  lipschitz: 1,
  isMonotone: true,
};

/** Softplus: convex and increasing everywhere. */
export class SoftplusBound extends ActivationBound<SoftplusNode> {
  /**
   * Guarantees lower(x) <= softplus(x) <= upper(x) for x in [l, u]. Softplus is convex on all
   * of R (no concave region, no stable cases): upper is the secant through the endpoints and
   * lower the better of the tangent at the midpoint and the tangent parallel to the secant.
   * Intercepts are rigorous bounds of max/min of softplus(x) - a x over [l, u] including the
   * evaluation error, so the lines are sound whatever the slope.
   */
  relax(lower: Float64Array, upper: Float64Array): Relaxation {
    return smoothRelax(SOFTPLUS, lower, upper);
  }

  override range(lower: Float64Array, upper: Float64Array): { lo: Float64Array; hi: Float64Array } {
    return smoothRange(SOFTPLUS, lower, upper);
  }
}
