import { Rng } from '@nnmax/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { symmetricEigen } from './symmetric-eigen.js';
import { randomOrthogonal } from './test-functions.js';

/** max |A - V diag(values) V^T| and max |V^T V - I|, computed independently of the solver. */
function residuals(a: Float64Array, n: number, values: Float64Array, v: Float64Array): { reconstruction: number; orthogonality: number } {
  let reconstruction = 0;
  let orthogonality = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let r = 0;
      let o = 0;
      for (let k = 0; k < n; k++) {
        r += v[i * n + k] * values[k] * v[j * n + k];
        o += v[k * n + i] * v[k * n + j];
      }
      reconstruction = Math.max(reconstruction, Math.abs(a[i * n + j] - r));
      orthogonality = Math.max(orthogonality, Math.abs(o - (i === j ? 1 : 0)));
    }
  }
  return { reconstruction, orthogonality };
}

function maxAbs(a: Float64Array): number {
  return a.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
}

/** A = Q diag(lambda) Q^T with a seeded random orthogonal Q. */
function withSpectrum(lambda: readonly number[], seed: number): Float64Array {
  const n = lambda.length;
  const q = randomOrthogonal(n, new Rng(seed));
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += q[i * n + k] * lambda[k] * q[j * n + k];
      a[i * n + j] = s;
      a[j * n + i] = s;
    }
  }
  return a;
}

describe('symmetricEigen', () => {
  it('random symmetric matrices: A = B D^2 B^T and B^T B = I to float64 accuracy, values ascending', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 24 }), fc.integer({ min: 0, max: 2 ** 31 }), fc.double({ min: -3, max: 3, noNaN: true }), (n, seed, logScale) => {
        const rng = new Rng(seed);
        const scale = 10 ** logScale;
        const a = new Float64Array(n * n);
        for (let i = 0; i < n; i++) {
          for (let j = 0; j <= i; j++) {
            const x = scale * rng.normal();
            a[i * n + j] = x;
            a[j * n + i] = x;
          }
        }
        const { values, vectors } = symmetricEigen(a, n);
        const { reconstruction, orthogonality } = residuals(a, n, values, vectors);
        expect(reconstruction).toBeLessThanOrEqual(1e-13 * n * maxAbs(a));
        expect(orthogonality).toBeLessThanOrEqual(1e-13 * n);
        for (let j = 1; j < n; j++) expect(values[j]).toBeGreaterThanOrEqual(values[j - 1]);
      }),
      { numRuns: 150 },
    );
  });

  it('covariance-like matrices (positive definite, condition up to 1e12): eigenvalues match the constructed spectrum', () => {
    for (const [n, cond, seed] of [[10, 1e6, 1], [30, 1e12, 2], [5, 1, 3]] as const) {
      const lambda = Array.from({ length: n }, (_, i) => cond ** (i / Math.max(1, n - 1)));
      const a = withSpectrum(lambda, seed);
      const { values, vectors } = symmetricEigen(a, n);
      for (let i = 0; i < n; i++) expect(Math.abs(values[i] - lambda[i])).toBeLessThanOrEqual(1e-13 * n * cond);
      const { reconstruction, orthogonality } = residuals(a, n, values, vectors);
      expect(reconstruction).toBeLessThanOrEqual(1e-13 * n * cond);
      expect(orthogonality).toBeLessThanOrEqual(1e-13 * n);
    }
  });

  it('repeated eigenvalues, diagonal, zero and 1x1 matrices decompose exactly', () => {
    const identity = new Float64Array(16);
    for (let i = 0; i < 4; i++) identity[i * 4 + i] = 1;
    expect(Array.from(symmetricEigen(identity, 4).values)).toEqual([1, 1, 1, 1]);
    const diag = Float64Array.from([3, 0, 0, 0, -1, 0, 0, 0, 2]);
    expect(Array.from(symmetricEigen(diag, 3).values)).toEqual([-1, 2, 3]);
    expect(Array.from(symmetricEigen(new Float64Array(9), 3).values)).toEqual([0, 0, 0]);
    const one = symmetricEigen(Float64Array.of(-7), 1);
    expect(Array.from(one.values)).toEqual([-7]);
    expect(Array.from(one.vectors)).toEqual([1]);
    expect(symmetricEigen(new Float64Array(0), 0).values.length).toBe(0);
    const repeated = withSpectrum([2, 2, 2, 5, 5, 9], 7);
    const { values, vectors } = symmetricEigen(repeated, 6);
    [2, 2, 2, 5, 5, 9].forEach((x, i) => expect(values[i]).toBeCloseTo(x, 12));
    expect(residuals(repeated, 6, values, vectors).orthogonality).toBeLessThanOrEqual(1e-13);
  });

  it('2x2: closed-form eigenvalues (a+c)/2 -+ sqrt(((a-c)/2)^2 + b^2)', () => {
    const [a, b, c] = [1.5, -0.75, -2];
    const { values } = symmetricEigen(Float64Array.of(a, b, b, c), 2);
    const r = Math.hypot((a - c) / 2, b);
    expect(values[0]).toBeCloseTo((a + c) / 2 - r, 14);
    expect(values[1]).toBeCloseTo((a + c) / 2 + r, 14);
  });
});
