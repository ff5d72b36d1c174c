import type { EluNode } from '@nnmax/onnx';
import { UNDERFLOW_FLOOR } from '../soundness.js';
import { ActivationBound, type Relaxation } from './activation-bound.js';
import { SMOOTH_REL_ERR, smoothRange, smoothRelax, type SmoothActivation } from './smooth.js';

/**
 * ELU(alpha) as computed by @nnmax/onnx: alpha expm1(x) for x <= 0 (relative error below 64 ulps),
 * x above. `df` returns the left derivative alpha at the kink x = 0; only the left piece uses a
 * derivative, since the right piece is linear.
 */
export function eluActivation(alpha: number): SmoothActivation {
  return {
    f: (x) => (x > 0 ? x : alpha * Math.expm1(x)),
    df: (x) => (x > 0 ? 1 : alpha * Math.exp(x)),
    fErr: (_x, v) => SMOOTH_REL_ERR * Math.abs(v) + UNDERFLOW_FLOOR,
    dfErr: (_x, d) => SMOOTH_REL_ERR * Math.abs(d) + UNDERFLOW_FLOOR,
    // alpha e^x is convex for alpha >= 0 and concave for alpha < 0; x >= 0 is linear
    breaks: [0],
    curvature: [alpha >= 0 ? 'convex' : 'concave', 'linear'],
    lipschitz: Math.max(1, Math.abs(alpha)),
    isMonotone: alpha >= 0,
  };
}

/** ELU: alpha (e^x - 1) for x <= 0, x for x > 0; a kink at 0 unless alpha = 1. */
export class EluBound extends ActivationBound<EluNode> {
  /**
   * Guarantees lower(x) <= elu(x) <= upper(x) for x in [l, u]:
   * - stable-positive (l >= 0): both lines are x (the deviation bound is exact on a linear piece);
   * - stable-negative (u <= 0): alpha (e^x - 1) is convex (alpha >= 0) or concave (alpha < 0):
   *   the secant on the side where it is sound, the midpoint tangent on the other;
   * - straddling: 0 is a breakpoint of the piecewise analysis, so the kink is handled for any
   *   alpha (a convex kink for alpha <= 1, a concave one beyond); candidates are the secant,
   *   endpoint and midpoint tangents and extreme chord slopes.
   * Every intercept is a rigorous bound of max/min of elu(x) - a x over [l, u] (`maxDeviation`),
   * computed piece by piece, so the lines are sound for any slope.
   */
  relax(lower: Float64Array, upper: Float64Array, node: EluNode): Relaxation {
    return smoothRelax(eluActivation(node.alpha), lower, upper);
  }

  /** Rigorous min and max of elu over [l, u] (monotone for alpha >= 0). */
  override range(lower: Float64Array, upper: Float64Array, node: EluNode): { lo: Float64Array; hi: Float64Array } {
    return smoothRange(eluActivation(node.alpha), lower, upper);
  }
}
