import type { TanhNode } from '@nnmax/onnx';
import { UNDERFLOW_FLOOR } from '../soundness.js';
import { ActivationBound, type Relaxation } from './activation-bound.js';
import { SMOOTH_REL_ERR, smoothRange, smoothRelax, type SmoothActivation } from './smooth.js';

/** Math.tanh: relative error below 64 ulps; 1 - t^2 loses at most that much absolutely. */
export const TANH: SmoothActivation = {
  f: Math.tanh,
  df: (x) => {
    const t = Math.tanh(x);
    return 1 - t * t;
  },
  fErr: (_x, v) => SMOOTH_REL_ERR * Math.abs(v) + UNDERFLOW_FLOOR,
  dfErr: (_x, d) => SMOOTH_REL_ERR * (Math.abs(d) + 1),
  breaks: [0],
  curvature: ['convex', 'concave'],
  lipschitz: 1,
  isMonotone: true,
};

/** Tanh: S-shaped, convex on x <= 0 and concave on x >= 0. */
export class TanhBound extends ActivationBound<TanhNode> {
  /**
   * Guarantees lower(x) <= tanh(x) <= upper(x) for x in [l, u]:
   * - convex region (u <= 0): upper is the secant; lower is the better of the midpoint tangent
   *   and the tangent parallel to the secant;
   * - concave region (l >= 0): mirrored (lower secant, upper tangents);
   * - straddling (S-shaped): the best of the secant, endpoint and midpoint tangents, extreme
   *   chord slopes from each endpoint (tangent-through-endpoint lines), and the constant lines;
   * stable-negative/positive are the convex/concave cases. Intercepts are rigorous bounds of
   * max/min of tanh(x) - a x over [l, u] including Math.tanh's error, so any slope is sound.
   */
  relax(lower: Float64Array, upper: Float64Array): Relaxation {
    return smoothRelax(TANH, lower, upper);
  }

  /** [tanh(l), tanh(u)] rounded outward by the error model. */
  override range(lower: Float64Array, upper: Float64Array): { lo: Float64Array; hi: Float64Array } {
    return smoothRange(TANH, lower, upper);
  }
}
