import { InternalError, nextUp } from '@nnmax/core';
import { UNDERFLOW_FLOOR } from '../soundness.js';
import { makeRelaxation, type Relaxation } from './activation-bound.js';

/** Curvature of an activation on one piece of the real line. */
export type Curvature = 'convex' | 'concave' | 'linear' | 'unknown';

/**
 * A smooth (or piecewise smooth) activation, described for the verified line construction below.
 *
 * Error model (an assumption, stated once here): `f` and `df` are float64 implementations built
 * from a handful of operations on Math.exp, Math.expm1, Math.log1p and Math.tanh. We assume each
 * of those library functions is within a few ulps of the exact value (V8's are fdlibm ports,
 * documented below 1 ulp). `fErr(x, fx)` and `dfErr(x, dfx)` must bound the absolute error of the
 * computed value; each activation sets them with a wide margin (64 ulps relative or more).
 */
export interface SmoothActivation {
  f(x: number): number;
  /**
   * The derivative on each piece. At a breakpoint between pieces it may return either one-sided
   * derivative, so pieces whose curvature analysis needs a derivative at an end must be smooth
   * across that end (kinks only sit next to 'linear' pieces, which never use it).
   */
  df(x: number): number;
  fErr(x: number, fx: number): number;
  dfErr(x: number, dfx: number): number;
  /**
   * Breakpoints b_0 < b_1 < ... splitting R into pieces (-inf, b_0], [b_0, b_1], ..., [b_last, inf),
   * and the curvature of f on each piece ('unknown': a thin sliver around a numerically located
   * inflection point, handled with the Lipschitz constant).
   */
  readonly breaks: readonly number[];
  readonly curvature: readonly Curvature[];
  /** An upper bound of |f'| on R. */
  readonly lipschitz: number;
  /** f is nondecreasing on R (allows a cheap exact range). */
  readonly isMonotone: boolean;
}

/** Relative error assumed for the composite float64 activations: 2^-46, 128 ulps. */
export const SMOOTH_REL_ERR = 2 ** -46;

const U = 2 ** -53;
/** Bisection steps for tangent points: 64 halvings reach float64 resolution on any interval. */
const BISECTION_STEPS = 64;
/** Samples used to estimate the steepest chord from an endpoint (quality only, not soundness). */
const CHORD_SAMPLES = 24;
/** Below this relative width an interval gets only the tangent at its midpoint (quality only). */
const TINY_WIDTH = 1e-9;

/** An upper bound of s * (f(y) - a y) for the exact f, given the error model. */
function hUp(F: SmoothActivation, s: 1 | -1, a: number, y: number): number {
  const ay = a * y;
  if (!Number.isFinite(ay)) return Infinity; // a trivially valid bound; only huge intervals get here
  const fy = F.f(y);
  const v = s * fy - s * ay;
  // two roundings (a * y and the subtraction) of at most u (|fy| + |ay|) each; 4u covers them
  // and the rounding of `pad` itself
  const pad = 4 * U * (Math.abs(fy) + Math.abs(ay)) + F.fErr(y, fy) + UNDERFLOW_FLOOR;
  return nextUp(v + pad);
}

/** Centre of s * (f'(y) - a) and a bound on its error (the exact value is within v +- e). */
function hDeriv(F: SmoothActivation, s: 1 | -1, a: number, y: number): { v: number; e: number } {
  const d = F.df(y);
  return { v: s * (d - a), e: F.dfErr(y, d) + 2 * U * (Math.abs(d) + Math.abs(a)) + UNDERFLOW_FLOOR };
}

/**
 * A rigorous upper bound of max over y in [l, u] of h(y) = s (f(y) - a y), for s = +1 or -1.
 * The maximum over [l, u] is the maximum over the pieces it meets; on each piece [p, q]:
 * - h convex or linear: the maximum is at p or q;
 * - h concave: h(y) <= h(t) + h'(t) (y - t) for every t in the piece (tangent inequality), so the
 *   maximum is at most h(t) + |h'(t)| max(t - p, q - t); t is found by bisection on h' so that
 *   h'(t) ~ 0, and when h' has one sign on the whole piece (h' is monotone; the sign is checked
 *   with its error bound) the maximum is at the corresponding endpoint;
 * - unknown (sliver): h is (L + |a|)-Lipschitz, so max <= max(h(p), h(q)) + (L + |a|)(q - p) / 2.
 */
export function maxDeviation(F: SmoothActivation, s: 1 | -1, a: number, l: number, u: number): number {
  let best = -Infinity;
  const { breaks, curvature } = F;
  for (let i = 0; i <= breaks.length; i++) {
    const left = i === 0 ? -Infinity : breaks[i - 1];
    const right = i === breaks.length ? Infinity : breaks[i];
    const p = l > left ? l : left;
    const q = u < right ? u : right;
    if (p > q) continue;
    let m: number;
    const c = curvature[i];
    if (p === q) {
      m = hUp(F, s, a, p);
    } else if (c === 'linear' || (c === 'convex' && s === 1) || (c === 'concave' && s === -1)) {
      m = Math.max(hUp(F, s, a, p), hUp(F, s, a, q));
    } else if (c === 'convex' || c === 'concave') {
      m = concaveMax(F, s, a, p, q);
    } else {
      const w = nextUp(q - p);
      m = nextUp(Math.max(hUp(F, s, a, p), hUp(F, s, a, q)) + nextUp(nextUp(F.lipschitz + Math.abs(a)) * w) * 0.5);
    }
    if (m > best) best = m;
  }
  if (Number.isNaN(best)) throw new InternalError(`bounds: NaN deviation bound for slope ${a} on [${l}, ${u}]`);
  return best;
}

/** maxDeviation on one piece [p, q] where h = s (f - a y) is concave. */
function concaveMax(F: SmoothActivation, s: 1 | -1, a: number, p: number, q: number): number {
  const dp = hDeriv(F, s, a, p);
  if (dp.v + dp.e <= 0) return hUp(F, s, a, p); // h' <= h'(p) <= 0: h is nonincreasing
  const dq = hDeriv(F, s, a, q);
  if (dq.v - dq.e >= 0) return hUp(F, s, a, q); // h' >= h'(q) >= 0: h is nondecreasing
  let lo = p;
  let hi = q;
  for (let k = 0; k < BISECTION_STEPS; k++) {
    const mid = 0.5 * lo + 0.5 * hi;
    if (mid <= lo || mid >= hi) break;
    if (hDeriv(F, s, a, mid).v > 0) lo = mid;
    else hi = mid;
  }
  // the tangent inequality needs t inside the piece; the clamp guards against underflow of 0.5 lo
  const m = 0.5 * lo + 0.5 * hi;
  const t = m < p ? p : m > q ? q : m;
  const dt = hDeriv(F, s, a, t);
  const slope = nextUp(Math.abs(dt.v) + dt.e);
  const reach = nextUp(Math.max(t - p, q - t));
  return nextUp(hUp(F, s, a, t) + nextUp(slope * reach));
}

/** The piece index holding all of [l, u], or -1 when [l, u] crosses a breakpoint. */
function pieceOf(F: SmoothActivation, l: number, u: number): number {
  let i = 0;
  while (i < F.breaks.length && l >= F.breaks[i]) i++;
  if (i < F.breaks.length && u > F.breaks[i]) return -1;
  return i;
}

/** Extreme chord slopes from l and to u over sample points (candidate slopes: quality only). */
function chordExtremes(F: SmoothActivation, l: number, u: number, fl: number, fu: number): number[] {
  let maxFromL = -Infinity;
  let minFromL = Infinity;
  let maxToU = -Infinity;
  let minToU = Infinity;
  for (let k = 1; k < CHORD_SAMPLES; k++) {
    const d = l + ((u - l) * k) / CHORD_SAMPLES;
    if (!(d > l && d < u)) continue;
    const fd = F.f(d);
    const sl = (fd - fl) / (d - l);
    const su = (fu - fd) / (u - d);
    if (sl > maxFromL) maxFromL = sl;
    if (sl < minFromL) minFromL = sl;
    if (su > maxToU) maxToU = su;
    if (su < minToU) minToU = su;
  }
  return [maxFromL, minFromL, maxToU, minToU];
}

/**
 * Sound lines for a smooth activation on each [l_i, u_i]. Candidate slopes are chosen by
 * curvature region (secant where f is convex for the upper line, tangents where it is concave,
 * and, across an inflection point or kink, also endpoint tangents and extreme chord slopes); each
 * candidate's intercept is then computed rigorously by `maxDeviation`, so every line is sound
 * whatever its slope, and the candidate with the lowest (upper line) or highest (lower line)
 * value at the interval's midpoint is kept. The constant lines at the rigorous max and min of f
 * are always candidates, so a line exists even when every other candidate is useless.
 */
export function smoothRelax(F: SmoothActivation, lower: Float64Array, upper: Float64Array): Relaxation {
  const n = lower.length;
  const r = makeRelaxation(n);
  for (let i = 0; i < n; i++) {
    const l = lower[i];
    const u = upper[i];
    if (!(l <= u)) throw new InternalError(`bounds: activation input interval [${l}, ${u}] is empty or NaN`);
    const mid = 0.5 * l + 0.5 * u;
    const width = u - l;
    let upSlopes: number[];
    let loSlopes: number[];
    if (!Number.isFinite(width)) {
      upSlopes = [];
      loSlopes = [];
    } else if (!(width > TINY_WIDTH * (1 + Math.abs(mid)))) {
      const d = F.df(mid);
      upSlopes = [d];
      loSlopes = [d];
    } else {
      const fl = F.f(l);
      const fu = F.f(u);
      const sec = (fu - fl) / width;
      const piece = pieceOf(F, l, u);
      const c = piece < 0 ? 'unknown' : F.curvature[piece];
      if (c === 'linear') {
        upSlopes = [sec];
        loSlopes = [sec];
      } else if (c === 'convex') {
        upSlopes = [sec];
        loSlopes = [sec, F.df(mid)];
      } else if (c === 'concave') {
        upSlopes = [sec, F.df(mid)];
        loSlopes = [sec];
      } else {
        const [maxFromL, minFromL, maxToU, minToU] = chordExtremes(F, l, u, fl, fu);
        const dl = F.df(l);
        const du = F.df(u);
        const dm = F.df(mid);
        upSlopes = [sec, dl, du, dm, maxFromL, minToU];
        loSlopes = [sec, dl, du, dm, minFromL, maxToU];
      }
    }
    // the constant lines first: always finite, and a fallback for every other candidate
    r.upperSlope[i] = 0;
    r.upperIntercept[i] = maxDeviation(F, 1, 0, l, u);
    let bestU = r.upperIntercept[i];
    for (const a of upSlopes) {
      if (!Number.isFinite(a) || a === 0) continue;
      const b = maxDeviation(F, 1, a, l, u);
      const score = a * mid + b;
      if (score < bestU) {
        bestU = score;
        r.upperSlope[i] = a;
        r.upperIntercept[i] = b;
      }
    }
    r.lowerSlope[i] = 0;
    r.lowerIntercept[i] = -maxDeviation(F, -1, 0, l, u);
    let bestL = r.lowerIntercept[i];
    for (const a of loSlopes) {
      if (!Number.isFinite(a) || a === 0) continue;
      const b = -maxDeviation(F, -1, a, l, u);
      const score = a * mid + b;
      if (score > bestL) {
        bestL = score;
        r.lowerSlope[i] = a;
        r.lowerIntercept[i] = b;
      }
    }
  }
  return r;
}

/** Rigorous [min, max] of f over each [l_i, u_i]. */
export function smoothRange(F: SmoothActivation, lower: Float64Array, upper: Float64Array): { lo: Float64Array; hi: Float64Array } {
  const lo = new Float64Array(lower.length);
  const hi = new Float64Array(lower.length);
  for (let i = 0; i < lo.length; i++) {
    const l = lower[i];
    const u = upper[i];
    if (!(l <= u)) throw new InternalError(`bounds: activation input interval [${l}, ${u}] is empty or NaN`);
    if (F.isMonotone) {
      lo[i] = -hUp(F, -1, 0, l);
      hi[i] = hUp(F, 1, 0, u);
    } else {
      lo[i] = -maxDeviation(F, -1, 0, l, u);
      hi[i] = maxDeviation(F, 1, 0, l, u);
    }
  }
  return { lo, hi };
}

/**
 * A root of g on [a, b] by bisection, given g(a) and g(b) of opposite signs. Used once per module
 * to place inflection points; each caller surrounds the root with an 'unknown' sliver that covers
 * the root's float error.
 */
export function bisectRoot(g: (x: number) => number, a: number, b: number): number {
  let lo = a;
  let hi = b;
  const sLo = Math.sign(g(lo));
  if (sLo === Math.sign(g(hi)) || sLo === 0) throw new InternalError(`bounds: bisectRoot needs a sign change on [${a}, ${b}]`);
  for (let k = 0; k < 200; k++) {
    const mid = 0.5 * (lo + hi);
    if (mid <= lo || mid >= hi) break;
    if (Math.sign(g(mid)) === sLo) lo = mid;
    else hi = mid;
  }
  return 0.5 * (lo + hi);
}
