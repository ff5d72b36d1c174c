import { Rng } from '@nnmax/core';
import { describe, expect, it } from 'vitest';
import { rowsTimesMatrix, rowsTimesRowsT, rowsTimesRowsTSkipping } from './kernels.js';

/** A random matrix with about `zeros` of its entries exactly 0 (as back-substitution rows are). */
function matrix(rng: Rng, rows: number, cols: number, zeros: number): Float64Array {
  return Float64Array.from({ length: rows * cols }, () => (rng.next() < zeros ? 0 : rng.normal()));
}

/** Relative slack for comparing a blocked dot product with the naive one: both err by at most gamma_n |a| |b|. */
const DOT_SLACK = 1e-13;

describe('matrix kernels agree with the textbook triple loop', () => {
  const shapes = [
    [1, 1, 1],
    [3, 5, 2],
    [4, 8, 7],
    [17, 50, 50],
    [33, 9, 1],
    [5, 1, 6],
  ] as const;

  it.each(shapes)('rowsTimesMatrix: A [%i x %i] times W [. x %i], with zero columns', (nRows, size, nIn) => {
    const rng = new Rng(nRows * 100 + size * 10 + nIn);
    for (const zeros of [0, 0.5, 1]) {
      const A = matrix(rng, nRows, size, zeros);
      const W = matrix(rng, size, nIn, 0);
      const out = new Float64Array(nRows * nIn).fill(NaN);
      rowsTimesMatrix(A, nRows, size, W, nIn, out);
      for (let r = 0; r < nRows; r++) {
        for (let k = 0; k < nIn; k++) {
          let ref = 0;
          let mag = 0;
          for (let j = 0; j < size; j++) {
            ref += A[r * size + j] * W[j * nIn + k];
            mag += Math.abs(A[r * size + j] * W[j * nIn + k]);
          }
          expect(Math.abs(out[r * nIn + k] - ref)).toBeLessThanOrEqual(DOT_SLACK * mag);
        }
      }
    }
  });

  it.each(shapes)('rowsTimesRowsT: X [%i x %i] times Y^T, Y [%i x .]', (n, len, m) => {
    const rng = new Rng(n * 7 + len * 3 + m);
    const X = matrix(rng, n, len, 0.2);
    const Y = matrix(rng, m, len, 0);
    const out = new Float64Array(n * m).fill(NaN);
    rowsTimesRowsT(X, n, Y, m, len, out);
    for (let r = 0; r < n; r++) {
      for (let j = 0; j < m; j++) {
        let ref = 0;
        let mag = 0;
        for (let t = 0; t < len; t++) {
          ref += X[r * len + t] * Y[j * len + t];
          mag += Math.abs(X[r * len + t] * Y[j * len + t]);
        }
        expect(Math.abs(out[r * m + j] - ref)).toBeLessThanOrEqual(DOT_SLACK * mag);
      }
    }
  });
});

describe('products that skip dead output columns', () => {
  it.each([
    [1, 1],
    [7, 5],
    [50, 50],
    [13, 31],
  ] as const)('equal the textbook product term for term on live columns and are 0 on dead ones (len %i, m %i)', (len, m) => {
    const rng = new Rng(len * 131 + m);
    // rows in runs per box of 1 to 40 (several kernel blocks), with zero columns as after a ReLU
    const boxes: number[] = [];
    for (let b = 0; b < 12; b++) for (let k = 1 + rng.int(40); k > 0; k--) boxes.push(b);
    const rowBox = Int32Array.from(boxes);
    const n = rowBox.length;
    const X = matrix(rng, n, len, 0.5);
    const Y = matrix(rng, m, len, 0);
    const dead = Uint8Array.from({ length: 12 * m }, () => (rng.next() < 0.6 ? 1 : 0));
    dead.fill(1, 0, m); // a box with every column dead
    const check = (out: Float64Array, entry: (r: number, k: number, t: number) => number): void => {
      for (let r = 0; r < n; r++) {
        for (let k = 0; k < m; k++) {
          let ref = 0; // in order, zero terms included: adding a zero product leaves a sum unchanged
          for (let t = 0; t < len; t++) ref += entry(r, k, t);
          expect(out[r * m + k]).toBe(dead[rowBox[r] * m + k] ? 0 : ref + 0);
        }
      }
    };
    const out = new Float64Array(n * m).fill(NaN);
    rowsTimesRowsTSkipping(X, n, len, Y, m, out, { rowBox, dead });
    check(out, (r, k, t) => X[r * len + t] * Y[k * len + t]);
    // rowsTimesMatrix with a skip: X times W = X times (W^T)^T, W [len, m]
    const W = Float64Array.from({ length: len * m }, (_, i) => Y[(i % m) * len + Math.floor(i / m)]);
    const out2 = new Float64Array(n * m).fill(NaN);
    rowsTimesMatrix(X, n, len, W, m, out2, { rowBox, dead });
    check(out2, (r, k, t) => X[r * len + t] * W[t * m + k]);
  });
});
