import { InternalError, invariant } from '@nnmax/core';

/** The eigendecomposition A = V diag(values) V^T of a real symmetric matrix. */
export interface SymmetricEigen {
  /** [n] eigenvalues in ascending order. */
  readonly values: Float64Array;
  /** [n, n] row-major, orthonormal; column j is the unit eigenvector of values[j]. */
  readonly vectors: Float64Array;
}

/** Implicit QL sweeps allowed per eigenvalue; about 1.5 are typical, 30 is the classic EISPACK limit doubled. */
const MAX_QL_ITERATIONS = 60;

/**
 * Eigendecomposition of the symmetric matrix `a` ([n, n] row-major, only read) in float64:
 * Householder reduction to tridiagonal form, then the implicit QL algorithm with Wilkinson-type
 * shifts on the tridiagonal matrix, accumulating every reflection and rotation (Golub & Van Loan,
 * "Matrix Computations", sections 8.3 and 8.3.3; the EISPACK tred2/tql2 scheme). O(n^3).
 * Only the lower triangle of `a` matters for the result when `a` is exactly symmetric.
 */
export function symmetricEigen(a: Float64Array, n: number): SymmetricEigen {
  invariant(Number.isInteger(n) && n >= 0 && a.length === n * n, () => `symmetricEigen: ${a.length} entries for n = ${n}`);
  const w = Float64Array.from(a); // [n, n] working copy, reduced in place to tridiagonal form
  const qt = new Float64Array(n * n); // [n, n] row-major; row i is column i of the accumulated Q
  for (let i = 0; i < n; i++) qt[i * n + i] = 1;
  const d = new Float64Array(n); // diagonal of T
  const e = new Float64Array(n); // e[i] = T[i+1][i], e[n-1] = 0
  tridiagonalize(w, n, qt, d, e);
  tridiagonalQl(d, e, qt, n);
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => d[i] - d[j] || i - j);
  const values = new Float64Array(n);
  const vectors = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    const src = order[j];
    values[j] = d[src];
    for (let i = 0; i < n; i++) vectors[i * n + j] = qt[src * n + i];
  }
  return { values, vectors };
}

/**
 * Householder reduction: for k = 0..n-3, H_k = I - beta v v^T zeroes column k below the
 * subdiagonal, and W <- H_k W H_k. Accumulates Q^T <- H_k Q^T, so that A = Q T Q^T.
 */
function tridiagonalize(w: Float64Array, n: number, qt: Float64Array, d: Float64Array, e: Float64Array): void {
  const v = new Float64Array(n);
  const p = new Float64Array(n);
  const t = new Float64Array(n);
  for (let k = 0; k + 2 < n; k++) {
    const s = k + 1; // first row of the active block
    let scale = 0;
    for (let i = s; i < n; i++) scale += Math.abs(w[i * n + k]);
    if (scale === 0) continue; // column already reduced
    let norm2 = 0;
    for (let i = s; i < n; i++) {
      v[i] = w[i * n + k] / scale;
      norm2 += v[i] * v[i];
    }
    const alpha = v[s] > 0 ? -Math.sqrt(norm2) : Math.sqrt(norm2); // H x = alpha e_1 (scaled), no cancellation
    v[s] -= alpha;
    let vtv = 0;
    for (let i = s; i < n; i++) vtv += v[i] * v[i];
    if (vtv === 0) continue;
    const beta = 2 / vtv;
    // p = beta W22 v; K = beta v.p / 2; q = p - K v (kept in p); W22 -= v q^T + q v^T
    let vp = 0;
    for (let i = s; i < n; i++) {
      let wv = 0;
      const row = i * n;
      for (let j = s; j < n; j++) wv += w[row + j] * v[j];
      p[i] = beta * wv;
      vp += v[i] * p[i];
    }
    const kk = (beta * vp) / 2;
    for (let i = s; i < n; i++) p[i] -= kk * v[i];
    for (let i = s; i < n; i++) {
      const row = i * n;
      const vi = v[i];
      const pi = p[i];
      for (let j = s; j < n; j++) w[row + j] -= vi * p[j] + pi * v[j];
    }
    w[s * n + k] = alpha * scale;
    w[k * n + s] = alpha * scale;
    for (let i = s + 1; i < n; i++) {
      w[i * n + k] = 0;
      w[k * n + i] = 0;
    }
    // Q^T <- H_k Q^T: rows s..n-1 of Q^T change by -beta v (v^T Q^T), row by row for locality
    t.fill(0);
    for (let i = s; i < n; i++) {
      const vi = v[i];
      const row = i * n;
      for (let c = 0; c < n; c++) t[c] += vi * qt[row + c];
    }
    for (let i = s; i < n; i++) {
      const bvi = beta * v[i];
      const row = i * n;
      for (let c = 0; c < n; c++) qt[row + c] -= bvi * t[c];
    }
  }
  for (let i = 0; i < n; i++) {
    d[i] = w[i * n + i];
    e[i] = i + 1 < n ? w[(i + 1) * n + i] : 0;
  }
}

/**
 * Implicit QL on the symmetric tridiagonal (d, e): each sweep chases a bulge up from the first
 * negligible subdiagonal entry below l, with a shift from the leading 2x2 block, using Givens
 * rotations that are also applied to the rows of `qt` (the eigenvectors, as rows).
 */
function tridiagonalQl(d: Float64Array, e: Float64Array, qt: Float64Array, n: number): void {
  for (let l = 0; l < n; l++) {
    for (let iteration = 0; ; iteration++) {
      let m = l;
      while (m + 1 < n && Math.abs(e[m]) > Number.EPSILON * (Math.abs(d[m]) + Math.abs(d[m + 1]))) m++;
      if (m === l) break;
      if (iteration >= MAX_QL_ITERATIONS) {
        throw new InternalError(`symmetricEigen: QL did not converge for eigenvalue ${l} of ${n}`);
      }
      // shift: the eigenvalue of the leading 2x2 block [d_l e_l; e_l d_{l+1}] nearer to d_l
      let g = (d[l + 1] - d[l]) / (2 * e[l]);
      let r = Math.hypot(g, 1);
      g = d[m] - d[l] + e[l] / (g + (g >= 0 ? r : -r));
      let s = 1;
      let c = 1;
      let p = 0;
      let isDeflated = false;
      for (let i = m - 1; i >= l; i--) {
        const f = s * e[i];
        const b = c * e[i];
        r = Math.hypot(f, g);
        e[i + 1] = r;
        if (r === 0) {
          // the bulge vanished (underflow): the matrix split between i and i+1
          d[i + 1] -= p;
          e[m] = 0;
          isDeflated = true;
          break;
        }
        s = f / r;
        c = g / r;
        g = d[i + 1] - p;
        r = (d[i] - g) * s + 2 * c * b;
        p = s * r;
        d[i + 1] = g + p;
        g = c * r - b;
        const ri = i * n;
        const rj = (i + 1) * n;
        for (let k = 0; k < n; k++) {
          const x = qt[rj + k];
          const y = qt[ri + k];
          qt[rj + k] = s * y + c * x;
          qt[ri + k] = c * y - s * x;
        }
      }
      if (isDeflated) continue;
      d[l] -= p;
      e[l] = g;
      e[m] = 0;
    }
  }
}
