import type { ActivationNode } from './ir.js';

/**
 * Float64 values and derivatives of every IR activation, shared by the reference forward, the
 * gradient reference and the bound relaxations.
 */

const SQRT1_2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);
const GELU_TANH_C = Math.sqrt(2 / Math.PI); // sqrt(2/pi), tanh approximation of GELU

export function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

export function softplus(x: number): number {
  // log(1 + e^x) = max(x, 0) + log1p(e^-|x|), stable for all x
  return Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
}

/**
 * The error function to about 1e-15 relative: Maclaurin series for |x| < 2, Lentz's continued
 * fraction for erfc beyond (Numerical Recipes 3rd ed., 6.2; Abramowitz & Stegun 7.1.5, 7.1.14).
 */
export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const ax = Math.abs(x);
  if (ax < 2) {
    // erf x = 2/sqrt(pi) sum_n (-1)^n x^(2n+1) / (n! (2n+1))
    const x2 = x * x;
    let term = x;
    let sum = x;
    for (let n = 1; n < 80; n++) {
      term *= -x2 / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  if (ax > 6) return Math.sign(x);
  const r = erfcLarge(ax);
  return x > 0 ? 1 - r : r - 1;
}

/** erfc(x) for x >= 2 by the continued fraction erfc x = e^-x^2/sqrt(pi) * 1/(x + 1/2/(x + 1/(x + 3/2/(x + ...)))). */
function erfcLarge(x: number): number {
  // modified Lentz on K = x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + ...))))
  const tiny = 1e-300;
  let f = x;
  let c = x;
  let d = 0;
  for (let k = 1; k < 200; k++) {
    const a = k / 2;
    d = x + a * d;
    d = d === 0 ? tiny : d;
    c = x + a / c;
    c = c === 0 ? tiny : c;
    d = 1 / d;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return Math.exp(-x * x) / (Math.sqrt(Math.PI) * f);
}

export function normalCdf(x: number): number {
  return 0.5 * (1 + erf(x * SQRT1_2));
}

export function normalPdf(x: number): number {
  return INV_SQRT_2PI * Math.exp(-0.5 * x * x);
}

export function activationValue(node: ActivationNode, x: number): number {
  switch (node.kind) {
    case 'relu':
      return x > 0 ? x : 0;
    case 'leakyrelu':
      return x >= 0 ? x : node.alpha * x;
    case 'sigmoid':
      return sigmoid(x);
    case 'tanh':
      return Math.tanh(x);
    case 'softplus':
      return softplus(x);
    case 'elu':
      return x > 0 ? x : node.alpha * Math.expm1(x);
    case 'silu':
      return x * sigmoid(x);
    case 'gelu':
      if (node.approximate === 'tanh') {
        return 0.5 * x * (1 + Math.tanh(GELU_TANH_C * (x + 0.044715 * x * x * x)));
      }
      return x * normalCdf(x);
  }
}

/** d activation / dx; at a kink, the right derivative for ReLU-likes at 0 is taken as 0 for ReLU. */
export function activationDerivative(node: ActivationNode, x: number): number {
  switch (node.kind) {
    case 'relu':
      return x > 0 ? 1 : 0;
    case 'leakyrelu':
      return x >= 0 ? 1 : node.alpha;
    case 'sigmoid': {
      const s = sigmoid(x);
      return s * (1 - s);
    }
    case 'tanh': {
      const t = Math.tanh(x);
      return 1 - t * t;
    }
    case 'softplus':
      return sigmoid(x);
    case 'elu':
      return x > 0 ? 1 : node.alpha * Math.exp(x);
    case 'silu': {
      const s = sigmoid(x);
      return s + x * s * (1 - s);
    }
    case 'gelu':
      if (node.approximate === 'tanh') {
        const u = GELU_TANH_C * (x + 0.044715 * x * x * x);
        const t = Math.tanh(u);
        const du = GELU_TANH_C * (1 + 3 * 0.044715 * x * x);
        return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du;
      }
      return normalCdf(x) + x * normalPdf(x);
  }
}
