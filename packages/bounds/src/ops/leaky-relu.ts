import { nextUp } from '@nnmax/core';
import type { LeakyReluNode } from '@nnmax/onnx';
import { mulDown, mulUp } from '../soundness.js';
import { ActivationBound, makeRelaxation, type Relaxation } from './activation-bound.js';

/** LeakyReLU, y = x for x >= 0 and alpha x otherwise. */
export class LeakyReluBound extends ActivationBound<LeakyReluNode> {
  /**
   * Guarantees lower(x) <= f(x) <= upper(x) for x in [l, u], with a = node.alpha:
   * - stable-negative (u <= 0): both lines are a x (exact);
   * - stable-positive (l >= 0): both lines are x (exact);
   * - straddling, convex case (a <= 1, f = max(x, a x)): upper is the chord through (l, a l)
   *   and (u, u) with its intercept rounded up so it is above both endpoints; lower is x when
   *   u >= -l and a x otherwise (any slope in [a, 1] through the origin is below f on R);
   * - straddling, concave case (a > 1, f = min(x, a x)): mirrored: lower is the chord with its
   *   intercept rounded down, upper is x or a x.
   */
  relax(lower: Float64Array, upper: Float64Array, node: LeakyReluNode): Relaxation {
    const al = node.alpha;
    const n = lower.length;
    const r = makeRelaxation(n);
    for (let i = 0; i < n; i++) {
      const l = lower[i];
      const u = upper[i];
      if (u <= 0 || l >= 0) {
        const s = u <= 0 ? al : 1;
        r.lowerSlope[i] = s;
        r.upperSlope[i] = s;
        continue;
      }
      const a = (u - al * l) / (u - l);
      const pick = u >= -l ? 1 : al;
      if (al <= 1) {
        // b >= a l_f - a l at l (with f(l) = al*l rounded up) and b >= u - a u at u
        const b1 = nextUp(mulUp(al, l) - mulDown(a, l));
        const b2 = nextUp(u - mulDown(a, u));
        r.upperSlope[i] = a;
        r.upperIntercept[i] = b1 > b2 ? b1 : b2;
        r.lowerSlope[i] = pick;
      } else {
        // b <= f(l) - a l and b <= u - a u, rounded down
        const b1 = -nextUp(mulUp(a, l) - mulDown(al, l));
        const b2 = -nextUp(mulUp(a, u) - u);
        r.lowerSlope[i] = a;
        r.lowerIntercept[i] = b1 < b2 ? b1 : b2;
        r.upperSlope[i] = pick;
      }
    }
    return r;
  }

  /** Monotone for alpha >= 0: [f(l), f(u)] rounded outward; otherwise the lines' extremes. */
  override range(lower: Float64Array, upper: Float64Array, node: LeakyReluNode): { lo: Float64Array; hi: Float64Array } {
    const al = node.alpha;
    if (al < 0) return super.range(lower, upper, node);
    const lo = new Float64Array(lower.length);
    const hi = new Float64Array(lower.length);
    for (let i = 0; i < lo.length; i++) {
      const l = lower[i];
      const u = upper[i];
      lo[i] = l >= 0 ? l : mulDown(al, l);
      hi[i] = u >= 0 ? u : mulUp(al, u);
    }
    return { lo, hi };
  }

  override alphaRange(node: LeakyReluNode): readonly [number, number] | undefined {
    return node.alpha <= 1 ? [node.alpha, 1] : undefined;
  }

  override isPiecewiseLinear(): boolean {
    return true;
  }

  override isSettled(l: number, u: number): boolean {
    return l >= 0 || u <= 0;
  }
}
