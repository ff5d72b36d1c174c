import { nextUp } from '@nnmax/core';
import type { ReluNode } from '@nnmax/onnx';
import { mulDown, mulUp } from '../soundness.js';
import { ActivationBound, makeRelaxation, type Relaxation } from './activation-bound.js';

/** ReLU, y = max(x, 0). */
export class ReluBound extends ActivationBound<ReluNode> {
  /**
   * Guarantees lower(x) <= max(x, 0) <= upper(x) for x in [l, u]:
   * - stable-negative (u <= 0): both lines are 0 (exact);
   * - stable-positive (l >= 0): both lines are x (exact);
   * - straddling (l < 0 < u): upper is the chord through (l, 0) and (u, u), with its intercept
   *   rounded up so the line is above both endpoints, hence above the convex ReLU on [l, u];
   *   lower is x when u >= -l and 0 otherwise (CROWN's adaptive choice; any slope in [0, 1]
   *   through the origin is below ReLU on all of R).
   * ReLU is convex, so there is no concave region.
   */
  relax(lower: Float64Array, upper: Float64Array): Relaxation {
    const n = lower.length;
    const r = makeRelaxation(n);
    for (let i = 0; i < n; i++) {
      const l = lower[i];
      const u = upper[i];
      if (u <= 0) continue;
      if (l >= 0) {
        r.lowerSlope[i] = 1;
        r.upperSlope[i] = 1;
        continue;
      }
      const a = u / (u - l);
      // a*l + b >= 0 and a*u + b >= u, each rounded in the safe direction
      const b1 = mulUp(a, -l);
      const b2 = nextUp(u - mulDown(a, u));
      r.upperSlope[i] = a;
      r.upperIntercept[i] = b1 > b2 ? b1 : b2;
      r.lowerSlope[i] = u >= -l ? 1 : 0;
    }
    return r;
  }

  /** [max(l, 0), max(u, 0)], exact. */
  override range(lower: Float64Array, upper: Float64Array): { lo: Float64Array; hi: Float64Array } {
    const lo = new Float64Array(lower.length);
    const hi = new Float64Array(lower.length);
    for (let i = 0; i < lo.length; i++) {
      lo[i] = lower[i] > 0 ? lower[i] : 0;
      hi[i] = upper[i] > 0 ? upper[i] : 0;
    }
    return { lo, hi };
  }

  override alphaRange(): readonly [number, number] {
    return [0, 1];
  }

  override isPiecewiseLinear(): boolean {
    return true;
  }

  override isSettled(l: number, u: number): boolean {
    return l >= 0 || u <= 0;
  }
}

