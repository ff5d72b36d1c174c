import type { Optimizer } from './optimizer.js';

/**
 * Test functions with exact gradients, for the gradient-based optimisers' tests. Each is stated
 * for MINIMISATION with its known minimiser; tests maximise `-value` with gradient `-gradient`
 * (see {@link drive}).
 */
export interface SmoothFunction {
  readonly name: string;
  value(x: Float64Array): number;
  gradient(x: Float64Array): Float64Array;
}

/** sum x_i^2; minimum 0 at 0. */
export const sphere: SmoothFunction = {
  name: 'sphere',
  value: (x) => x.reduce((s, v) => s + v * v, 0),
  gradient: (x) => x.map((v) => 2 * v),
};

/** sum 100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2; minimum 0 at (1, ..., 1). */
export const rosenbrock: SmoothFunction = {
  name: 'rosenbrock',
  value(x) {
    let s = 0;
    for (let i = 0; i + 1 < x.length; i++) s += 100 * (x[i + 1] - x[i] * x[i]) ** 2 + (1 - x[i]) ** 2;
    return s;
  },
  gradient(x) {
    const g = new Float64Array(x.length);
    for (let i = 0; i + 1 < x.length; i++) {
      const t = x[i + 1] - x[i] * x[i];
      g[i] += -400 * x[i] * t - 2 * (1 - x[i]);
      g[i + 1] += 200 * t;
    }
    return g;
  },
};

/** 10 n + sum x_i^2 - 10 cos(2 pi x_i); minimum 0 at 0, local minima near every integer point. */
export const rastrigin: SmoothFunction = {
  name: 'rastrigin',
  value: (x) => x.reduce((s, v) => s + v * v - 10 * Math.cos(2 * Math.PI * v) + 10, 0),
  gradient: (x) => x.map((v) => 2 * v + 20 * Math.PI * Math.sin(2 * Math.PI * v)),
};

/** 0.5 (x - c)^T A (x - c) for a symmetric A given row-major [n, n]. */
export function quadratic(A: Float64Array, c: Float64Array): SmoothFunction {
  const n = c.length;
  const Ad = (x: Float64Array): Float64Array => {
    const r = new Float64Array(n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) r[i] += A[i * n + j] * (x[j] - c[j]);
    return r;
  };
  return {
    name: 'quadratic',
    value(x) {
      const r = Ad(x);
      let s = 0;
      for (let i = 0; i < n; i++) s += 0.5 * (x[i] - c[i]) * r[i];
      return s;
    },
    gradient: Ad,
  };
}

/**
 * Minus a sum of Gaussian bumps: -sum_k h_k exp(-|x - m_k|^2 / (2 s_k^2)). The minimum is near the
 * tallest narrow bump when bumps are well separated.
 */
export function gaussianBumps(bumps: readonly { m: readonly number[]; h: number; s: number }[]): SmoothFunction {
  return {
    name: 'gaussian-bumps',
    value(x) {
      let v = 0;
      for (const b of bumps) v -= b.h * Math.exp(-dist2(x, b.m) / (2 * b.s * b.s));
      return v;
    },
    gradient(x) {
      const g = new Float64Array(x.length);
      for (const b of bumps) {
        const e = b.h * Math.exp(-dist2(x, b.m) / (2 * b.s * b.s));
        for (let i = 0; i < x.length; i++) g[i] += (e * (x[i] - b.m[i])) / (b.s * b.s);
      }
      return g;
    },
  };
}

function dist2(x: Float64Array, m: readonly number[]): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += (x[i] - m[i]) ** 2;
  return s;
}

export interface DriveResult {
  /** ask/tell rounds (runtime calls). */
  readonly rounds: number;
  /** Points evaluated. */
  readonly evaluations: number;
}

/**
 * Runs an optimiser on a function to MAXIMISE -fn (values -f, gradients -grad) until it stops,
 * the round budget is spent, or `until(best)` holds. `onAsk` sees every batch.
 */
export function drive(
  opt: Optimizer,
  fn: SmoothFunction,
  maxRounds: number,
  hooks: { onAsk?: (points: Float64Array[]) => void; until?: (bestValue: number) => boolean } = {},
): DriveResult {
  let rounds = 0;
  let evaluations = 0;
  while (rounds < maxRounds && opt.stop().length === 0) {
    const points = opt.ask();
    if (points.length === 0) break;
    hooks.onAsk?.(points);
    const values = Float64Array.from(points, (p) => -fn.value(p));
    const grads = opt.needsGradients ? points.map((p) => fn.gradient(p).map((g) => -g)) : undefined;
    opt.tell(points, values, grads);
    rounds++;
    evaluations += points.length;
    if (hooks.until && opt.best && hooks.until(opt.best.value)) break;
  }
  return { rounds, evaluations };
}
