import { activationDerivative, activationValue, type GeluNode } from '@nnmax/onnx';
import { UNDERFLOW_FLOOR } from '../soundness.js';
import { ActivationBound, type Relaxation } from './activation-bound.js';
import { SMOOTH_REL_ERR, bisectRoot, smoothRange, smoothRelax, type SmoothActivation } from './smooth.js';

/** Half-width of the 'unknown' slivers around the numerically placed inflection points. */
const SLIVER = 1e-6;
/** Assumed absolute error of @nnmax/onnx `erf` (documented ~1e-15; we allow 1e-13). */
const ERF_ABS_ERR = 1e-13;
const GELU_TANH_C = Math.sqrt(2 / Math.PI);
const GELU_TANH_K = 0.044715;
/**
 * Beyond |x| = 10 both GELU forms are x (x > 0) or 0 (x < 0), and their derivatives 1 or 0, to
 * within 1e-21: there Phi(x) and (1 + tanh(c (x + k x^3))) / 2 are 0 or 1 to within
 * phi(10) / 10 < 1e-23 and e^-87 < 1e-37, x phi(x) < 1e-21, and |x| times each decreases beyond
 * 10. The float formulas return the limits there (erf and tanh round to +-1) up to those tiny
 * terms, except that the tanh form's derivative gives 0 * Infinity once x^2 overflows, so its
 * `df` returns the limit itself.
 */
const GELU_FLAT = 10;
/** Absolute error of the GELU values and derivatives beyond GELU_FLAT (see there). */
const GELU_TAIL_ERR = 1e-20;

const EXACT_NODE: GeluNode = { id: 0, name: 'gelu', size: 1, inputs: [], kind: 'gelu', approximate: 'none' };
const TANH_NODE: GeluNode = { ...EXACT_NODE, approximate: 'tanh' };

/** Sign of the second derivative of the tanh-approximated GELU (up to the positive sech^2 u). */
function geluTanhCurvature(x: number): number {
  const u = GELU_TANH_C * (x + GELU_TANH_K * x * x * x);
  const du = GELU_TANH_C * (1 + 3 * GELU_TANH_K * x * x);
  const ddu = 6 * GELU_TANH_C * GELU_TANH_K * x;
  return du + 0.5 * x * ddu - x * Math.tanh(u) * du * du;
}

/**
 * Exact GELU x Phi(x): GELU'' = phi(x) (2 - x^2), convex on [-sqrt 2, sqrt 2], concave outside.
 * Errors: Phi = (1 + erf) / 2 loses ERF_ABS_ERR absolutely, scaled by |x| in x Phi(x).
 */
export const GELU_EXACT: SmoothActivation = {
  f: (x) => activationValue(EXACT_NODE, x),
  df: (x) => activationDerivative(EXACT_NODE, x),
  fErr: (x, v) =>
    Math.abs(x) > GELU_FLAT ? GELU_TAIL_ERR : ERF_ABS_ERR * Math.abs(x) + SMOOTH_REL_ERR * Math.abs(v) + UNDERFLOW_FLOOR,
  // Phi(x) errs by ERF_ABS_ERR; x phi(x) (|x phi| <= 0.25) by a relative 0.5 x^2 u from exp's
  // argument, at most u absolutely (x^3 phi(x) u / 2 <= 0.24 u)
  dfErr: (x, d) => (Math.abs(x) > GELU_FLAT ? GELU_TAIL_ERR : ERF_ABS_ERR + SMOOTH_REL_ERR * (Math.abs(d) + 1) + UNDERFLOW_FLOOR),
  breaks: [-Math.SQRT2 - SLIVER, -Math.SQRT2 + SLIVER, Math.SQRT2 - SLIVER, Math.SQRT2 + SLIVER],
  curvature: ['concave', 'unknown', 'convex', 'unknown', 'concave'],
  // max |GELU'| is about 1.068 (at x = sqrt 2); 1.2 leaves a margin
  lipschitz: 1.2,
  isMonotone: false,
};

/**
 * The inflection point of the tanh approximation, about 1.4186, found numerically: the curvature
 * expression is even, positive at 0, and has a single positive root (checked on a 1e-4 grid up
 * to 50; beyond, the -x tanh(u) u'^2 term dominates); the sliver covers the root's float error.
 */
const GELU_TANH_INFLECTION = bisectRoot(geluTanhCurvature, 1, 2);

/**
 * tanh-approximated GELU 0.5 x (1 + tanh(c (x + k x^3))): 1 + tanh loses up to 2^-44 absolutely
 * near -1, scaled by |x|; the derivative's x (1 - t^2) u' term likewise by |x| u'.
 */
export const GELU_TANH: SmoothActivation = {
  f: (x) => activationValue(TANH_NODE, x),
  df: (x) => (x > GELU_FLAT ? 1 : x < -GELU_FLAT ? 0 : activationDerivative(TANH_NODE, x)),
  fErr: (x, v) => (Math.abs(x) > GELU_FLAT ? GELU_TAIL_ERR : 2 ** -44 * (Math.abs(x) + Math.abs(v)) + UNDERFLOW_FLOOR),
  dfErr: (x, d) =>
    Math.abs(x) > GELU_FLAT
      ? GELU_TAIL_ERR
      : 2 ** -44 * (1 + Math.abs(d) + Math.abs(x) * GELU_TANH_C * (1 + 3 * GELU_TANH_K * x * x)) + UNDERFLOW_FLOOR,
  breaks: [-GELU_TANH_INFLECTION - SLIVER, -GELU_TANH_INFLECTION + SLIVER, GELU_TANH_INFLECTION - SLIVER, GELU_TANH_INFLECTION + SLIVER],
  curvature: ['concave', 'unknown', 'convex', 'unknown', 'concave'],
  // max |GELU'| of the tanh form is about 1.129 (at x ~ 1.42); 1.2 leaves a margin
  lipschitz: 1.2,
  isMonotone: false,
};

/** GELU, exact (erf) or tanh-approximated: non-monotone, minimum about -0.17 at x ~ -0.75. */
export class GeluBound extends ActivationBound<GeluNode> {
  /**
   * Guarantees lower(x) <= gelu(x) <= upper(x) for x in [l, u], by curvature region:
   * - convex region (|x| below the inflection point, sqrt 2 for the erf form, about 1.4186 for
   *   the tanh form): upper secant, lower secant or midpoint tangent;
   * - concave regions (beyond the inflection points): upper secant or midpoint tangent, lower
   *   secant;
   * - across an inflection point or the dip: secant, endpoint and midpoint tangents and extreme
   *   chord slopes, plus the constant lines at the rigorous min and max.
   * For every slope the intercept is a rigorous bound of max/min of gelu(x) - a x over [l, u]
   * (see `maxDeviation`), including erf's or tanh's evaluation error, so the lines are sound.
   * There are no stable cases: GELU is smooth everywhere.
   */
  relax(lower: Float64Array, upper: Float64Array, node: GeluNode): Relaxation {
    return smoothRelax(node.approximate === 'tanh' ? GELU_TANH : GELU_EXACT, lower, upper);
  }

  /** Rigorous min and max of gelu over [l, u] (the dip is found, not assumed at an endpoint). */
  override range(lower: Float64Array, upper: Float64Array, node: GeluNode): { lo: Float64Array; hi: Float64Array } {
    return smoothRange(node.approximate === 'tanh' ? GELU_TANH : GELU_EXACT, lower, upper);
  }
}
