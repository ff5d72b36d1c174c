import type { Rng } from '@nnmax/core';

/**
 * Classic test functions for the optimisers' tests and benchmarks. All of them are MINIMISATION
 * functions with minimum 0 (pass `x => -f(x)` to a maximiser); definitions as in Hansen &
 * Ostermeier (2001) and Hansen & Kern (2004).
 */
export type TestFunction = (x: ArrayLike<number>) => number;

/** sum x_i^2; minimum 0 at x = 0. */
export const sphere: TestFunction = (x) => {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * x[i];
  return s;
};

/** sum 10^(6 (i-1)/(n-1)) x_i^2 (condition number 1e6); minimum 0 at x = 0. */
export const ellipsoid: TestFunction = (x) => {
  const n = x.length;
  let s = 0;
  for (let i = 0; i < n; i++) s += 10 ** ((6 * i) / Math.max(1, n - 1)) * x[i] * x[i];
  return s;
};

/** sum_{i<n} 100 (x_i^2 - x_{i+1})^2 + (1 - x_i)^2; minimum 0 at x = (1, ..., 1). */
export const rosenbrock: TestFunction = (x) => {
  let s = 0;
  for (let i = 0; i + 1 < x.length; i++) {
    const a = x[i] * x[i] - x[i + 1];
    const b = 1 - x[i];
    s += 100 * a * a + b * b;
  }
  return s;
};

/** 10 n + sum (x_i^2 - 10 cos(2 pi x_i)); minimum 0 at x = 0, about 10^n local minima in [-5.12, 5.12]^n. */
export const rastrigin: TestFunction = (x) => {
  let s = 10 * x.length;
  for (let i = 0; i < x.length; i++) s += x[i] * x[i] - 10 * Math.cos(2 * Math.PI * x[i]);
  return s;
};

/**
 * A random orthogonal matrix ([n, n] row-major), uniformly (Haar) distributed: Gram-Schmidt on
 * the columns of a standard normal matrix drawn from `rng`.
 */
export function randomOrthogonal(n: number, rng: Rng): Float64Array {
  const q = new Float64Array(n * n);
  for (let i = 0; i < n * n; i++) q[i] = rng.normal();
  for (let j = 0; j < n; j++) {
    for (let pass = 0; pass < 2; pass++) {
      // two passes of modified Gram-Schmidt keep the columns orthogonal to float64 accuracy
      for (let k = 0; k < j; k++) {
        let dot = 0;
        for (let i = 0; i < n; i++) dot += q[i * n + k] * q[i * n + j];
        for (let i = 0; i < n; i++) q[i * n + j] -= dot * q[i * n + k];
      }
    }
    let norm = 0;
    for (let i = 0; i < n; i++) norm += q[i * n + j] ** 2;
    norm = Math.sqrt(norm);
    for (let i = 0; i < n; i++) q[i * n + j] /= norm;
  }
  return q;
}

/** x -> f(R x) for an orthogonal R ([n, n] row-major), e.g. from `randomOrthogonal`. */
export function rotated(f: TestFunction, r: Float64Array): TestFunction {
  return (x) => {
    const n = x.length;
    const y = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += r[i * n + k] * x[k];
      y[i] = s;
    }
    return f(y);
  };
}
