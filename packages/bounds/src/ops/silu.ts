import { sigmoid, type SiluNode } from '@nnmax/onnx';
import { UNDERFLOW_FLOOR } from '../soundness.js';
import { ActivationBound, type Relaxation } from './activation-bound.js';
import { SMOOTH_REL_ERR, bisectRoot, smoothRange, smoothRelax, type SmoothActivation } from './smooth.js';

/**
 * SiLU'' = sigmoid'(x) (2 - x tanh(x / 2)), so SiLU is convex on [-r, r] and concave outside,
 * with r the positive root of x tanh(x / 2) = 2 (about 2.3994; x tanh(x/2) is increasing on
 * x > 0, so the root is unique). The float root is accurate to ~1e-15; the sliver of half-width
 * 1e-6 around it is treated as of unknown curvature, which covers that inaccuracy.
 */
const SILU_INFLECTION = bisectRoot((x) => x * Math.tanh(0.5 * x) - 2, 2, 3);
const SLIVER = 1e-6;

export const SILU: SmoothActivation = {
  f: (x) => x * sigmoid(x),
  df: (x) => {
    const s = sigmoid(x);
    return s + x * s * (1 - s);
  },
  fErr: (_x, v) => SMOOTH_REL_ERR * Math.abs(v) + UNDERFLOW_FLOOR,
  // s + x s (1 - s) with s = sigmoid(x) (1 + d1), |d1| <= eta: 1 - s errs by <= s eta + u |1 - s|,
  // so the sum errs by <= (eta + 6u) (s + |x| s) + u |result|, within SMOOTH_REL_ERR (|d| + 2 s (1 + |x|))
  // (2 s covers s's own error); where s underflows, |x| s <= 745 e^-745 is below the floor
  dfErr: (x, d) => SMOOTH_REL_ERR * (Math.abs(d) + 2 * sigmoid(x) * (1 + Math.abs(x))) + UNDERFLOW_FLOOR,
  breaks: [-SILU_INFLECTION - SLIVER, -SILU_INFLECTION + SLIVER, SILU_INFLECTION - SLIVER, SILU_INFLECTION + SLIVER],
  curvature: ['concave', 'unknown', 'convex', 'unknown', 'concave'],
  // max |SiLU'| is about 1.0998 (at x ~ 2.4); 1.2 leaves a margin
  lipschitz: 1.2,
  isMonotone: false,
};

/** SiLU (swish), x sigmoid(x): non-monotone, minimum about -0.278 at x ~ -1.278. */
export class SiluBound extends ActivationBound<SiluNode> {
  /**
   * Guarantees lower(x) <= silu(x) <= upper(x) for x in [l, u], by curvature region:
   * - inside the convex region [-r, r]: upper secant, lower tangents;
   * - inside a concave region (x <= -r or x >= r): upper tangents, lower secant;
   * - across an inflection point (including the non-monotone dip): candidates are the secant,
   *   endpoint and midpoint tangents, slope 0 (for the lower line through the minimum) and
   *   tangent-through-endpoint slopes.
   * Whatever the slope a, the intercept is a rigorous bound of max/min of silu(x) - a x over
   * [l, u] computed piecewise by curvature (endpoints on convex pieces of the deviation, tangent
   * inequality on concave ones, Lipschitz bound on the slivers), so the lines are verified sound.
   */
  relax(lower: Float64Array, upper: Float64Array): Relaxation {
    return smoothRelax(SILU, lower, upper);
  }

  /** Rigorous min and max of silu over [l, u] (the dip is found, not assumed at an endpoint). */
  override range(lower: Float64Array, upper: Float64Array): { lo: Float64Array; hi: Float64Array } {
    return smoothRange(SILU, lower, upper);
  }
}
