/**
 * Float64 matrix kernels for the bound computations. Plain typed-array loops, register-blocked
 * (4 rows x 4 columns of the result per inner loop), which is two to three times as fast in V8 as the
 * textbook triple loop. Each entry of a result is one dot product summed in some order, so
 * Higham's gamma_n bound on its rounding error holds whatever the blocking (n = the number of
 * terms, at most the inner dimension).
 */

import { SLOT, scratchF64, scratchI32 } from './scratch.js';

/** Rows of the left operand handled per compaction of zero columns. */
const BLOCK_ROWS = 16;

/** Output columns known to be unused: `dead[rowBox[r] * nIn + k] === 1` lets out[r, k] be left 0. */
export interface DeadColumns {
  readonly rowBox: Int32Array;
  readonly dead: Uint8Array;
}

/**
 * out[r, :] = A[r, :] W for A `[nRows, size]` and W `[size, nIn]` (both row-major); out is
 * `[nRows, nIn]`, overwritten. Back-substitution rows are sparse in a shared way (inactive ReLUs
 * zero a column for every row of a box), so each block of rows first drops the columns of A that
 * are zero in all its rows, then multiplies the compacted block. Dropping zero terms leaves every
 * sum the same, term order included. With `skip`, the output columns dead in a row's box are left
 * 0 (`rowsTimesRowsTSkipping`): behind a ReLU with u <= 0, whose next step zeroes them anyway,
 * that is most of the work on small boxes.
 */
export function rowsTimesMatrix(A: Float64Array, nRows: number, size: number, W: Float64Array, nIn: number, out: Float64Array, skip?: DeadColumns): void {
  if (skip !== undefined) {
    rowsTimesRowsTSkipping(A, nRows, size, transposed(W, size, nIn), nIn, out, skip);
    return;
  }
  const idx = scratchI32(SLOT.matrixIdx, size);
  const Wc = scratchF64(SLOT.matrixW, nIn * size); // [nIn, nnz]: the used rows of W, transposed
  const Ac = scratchF64(SLOT.matrixA, BLOCK_ROWS * size); // [nb, nnz]
  for (let r0 = 0; r0 < nRows; r0 += BLOCK_ROWS) {
    const nb = Math.min(BLOCK_ROWS, nRows - r0);
    let nnz = 0;
    for (let j = 0; j < size; j++) {
      for (let r = 0; r < nb; r++) {
        if (A[(r0 + r) * size + j] !== 0) {
          idx[nnz++] = j;
          break;
        }
      }
    }
    if (nnz === 0) {
      out.fill(0, r0 * nIn, (r0 + nb) * nIn);
      continue;
    }
    for (let t = 0; t < nnz; t++) {
      const wo = idx[t] * nIn;
      for (let k = 0; k < nIn; k++) Wc[k * nnz + t] = W[wo + k];
    }
    for (let r = 0; r < nb; r++) {
      const ao = (r0 + r) * size;
      const co = r * nnz;
      for (let t = 0; t < nnz; t++) Ac[co + t] = A[ao + idx[t]];
    }
    dotBlock(Ac, nb, Wc, nIn, nnz, out, r0 * nIn);
  }
}

/**
 * out = X Y^T for X `[nRows, len]` and Y `[m, len]` (row-major), out `[nRows, m]` overwritten,
 * leaving out[r, k] = 0 where `skip.dead[skip.rowBox[r] * m + k]`. A block holds the rows of one
 * box; it reads only the columns of X nonzero in some row of the block and computes only the
 * live columns of out, in place through the index lists (no copies). Each computed entry is the
 * full dot product with its zero terms dropped, summed in order: the dense product's value.
 */
export function rowsTimesRowsTSkipping(X: Float64Array, nRows: number, len: number, Y: Float64Array, m: number, out: Float64Array, skip: DeadColumns): void {
  const idx = scratchI32(SLOT.matrixIdx, len);
  const live = scratchI32(SLOT.matrixLive, m);
  const { rowBox, dead } = skip;
  let r0 = 0;
  while (r0 < nRows) {
    const box = rowBox[r0];
    let nb = 1;
    while (nb < BLOCK_ROWS && r0 + nb < nRows && rowBox[r0 + nb] === box) nb++;
    out.fill(0, r0 * m, (r0 + nb) * m);
    let nLive = 0;
    const bo = box * m;
    for (let k = 0; k < m; k++) if (dead[bo + k] === 0) live[nLive++] = k;
    let nnz = 0;
    for (let j = 0; j < len; j++) {
      for (let r = 0; r < nb; r++) {
        if (X[(r0 + r) * len + j] !== 0) {
          idx[nnz++] = j;
          break;
        }
      }
    }
    if (nnz > 0 && nLive > 0) dotIndexed(X, r0, nb, len, idx, nnz, Y, live, nLive, out, m);
    r0 += nb;
  }
}

/** Matrices derived from a weight matrix, computed once per matrix and kind (weights are never mutated). */
const derivedCache = new WeakMap<Float64Array, Map<string, Float64Array>>();

function derived(W: Float64Array, kind: string, compute: () => Float64Array): Float64Array {
  let perKind = derivedCache.get(W);
  if (perKind === undefined) {
    perKind = new Map();
    derivedCache.set(W, perKind);
  }
  let out = perKind.get(kind);
  if (out === undefined) {
    out = compute();
    perKind.set(kind, out);
  }
  return out;
}

/** |W| elementwise. */
export function absolute(W: Float64Array): Float64Array {
  return derived(W, 'abs', () => Float64Array.from(W, Math.abs));
}

/** The sums of |W| over each row of a row-major `[size, nIn]` matrix, `[size]`. */
export function absRowSums(W: Float64Array, size: number, nIn: number): Float64Array {
  return derived(W, 'absRowSums', () => {
    const out = new Float64Array(size);
    for (let j = 0; j < size; j++) {
      let t = 0;
      for (let k = 0; k < nIn; k++) t += Math.abs(W[j * nIn + k]);
      out[j] = t;
    }
    return out;
  });
}

/** W^T `[nIn, size]` of a row-major `[size, nIn]` matrix. */
function transposed(W: Float64Array, size: number, nIn: number): Float64Array {
  return derived(W, 'transposed', () => {
    const T = new Float64Array(W.length);
    for (let j = 0; j < size; j++) for (let k = 0; k < nIn; k++) T[k * size + j] = W[j * nIn + k];
    return T;
  });
}

/**
 * out[(r0 + r) * nOut + live[k]] = sum_t A[(r0 + r) * size + idx[t]] * WT[live[k] * size + idx[t]]
 * for r < nb, k < nLive, summed in the order of idx: the product of a block of rows with the
 * columns `live` of W, over the inner indices `idx` only (4 rows x 4 columns per inner loop).
 */
function dotIndexed(
  A: Float64Array,
  r0: number,
  nb: number,
  size: number,
  idx: Int32Array,
  nnz: number,
  WT: Float64Array,
  live: Int32Array,
  nLive: number,
  out: Float64Array,
  nOut: number,
): void {
  let r = 0;
  for (; r + 4 <= nb; r += 4) {
    const x0 = (r0 + r) * size;
    const x1 = x0 + size;
    const x2 = x1 + size;
    const x3 = x2 + size;
    const o0 = (r0 + r) * nOut;
    const o1 = o0 + nOut;
    const o2 = o1 + nOut;
    const o3 = o2 + nOut;
    let k = 0;
    for (; k + 4 <= nLive; k += 4) {
      const c0 = live[k];
      const c1 = live[k + 1];
      const c2 = live[k + 2];
      const c3 = live[k + 3];
      const y0 = c0 * size;
      const y1 = c1 * size;
      const y2 = c2 * size;
      const y3 = c3 * size;
      let a00 = 0;
      let a01 = 0;
      let a02 = 0;
      let a03 = 0;
      let a10 = 0;
      let a11 = 0;
      let a12 = 0;
      let a13 = 0;
      let a20 = 0;
      let a21 = 0;
      let a22 = 0;
      let a23 = 0;
      let a30 = 0;
      let a31 = 0;
      let a32 = 0;
      let a33 = 0;
      for (let t = 0; t < nnz; t++) {
        const j = idx[t];
        const p0 = A[x0 + j];
        const p1 = A[x1 + j];
        const p2 = A[x2 + j];
        const p3 = A[x3 + j];
        const q0 = WT[y0 + j];
        const q1 = WT[y1 + j];
        const q2 = WT[y2 + j];
        const q3 = WT[y3 + j];
        a00 += p0 * q0;
        a01 += p0 * q1;
        a02 += p0 * q2;
        a03 += p0 * q3;
        a10 += p1 * q0;
        a11 += p1 * q1;
        a12 += p1 * q2;
        a13 += p1 * q3;
        a20 += p2 * q0;
        a21 += p2 * q1;
        a22 += p2 * q2;
        a23 += p2 * q3;
        a30 += p3 * q0;
        a31 += p3 * q1;
        a32 += p3 * q2;
        a33 += p3 * q3;
      }
      out[o0 + c0] = a00;
      out[o0 + c1] = a01;
      out[o0 + c2] = a02;
      out[o0 + c3] = a03;
      out[o1 + c0] = a10;
      out[o1 + c1] = a11;
      out[o1 + c2] = a12;
      out[o1 + c3] = a13;
      out[o2 + c0] = a20;
      out[o2 + c1] = a21;
      out[o2 + c2] = a22;
      out[o2 + c3] = a23;
      out[o3 + c0] = a30;
      out[o3 + c1] = a31;
      out[o3 + c2] = a32;
      out[o3 + c3] = a33;
    }
    for (; k < nLive; k++) {
      const c = live[k];
      const y = c * size;
      let a0 = 0;
      let a1 = 0;
      let a2 = 0;
      let a3 = 0;
      for (let t = 0; t < nnz; t++) {
        const j = idx[t];
        const q = WT[y + j];
        a0 += A[x0 + j] * q;
        a1 += A[x1 + j] * q;
        a2 += A[x2 + j] * q;
        a3 += A[x3 + j] * q;
      }
      out[o0 + c] = a0;
      out[o1 + c] = a1;
      out[o2 + c] = a2;
      out[o3 + c] = a3;
    }
  }
  for (; r < nb; r++) {
    const x0 = (r0 + r) * size;
    const o0 = (r0 + r) * nOut;
    let k = 0;
    for (; k + 4 <= nLive; k += 4) {
      const c0 = live[k];
      const c1 = live[k + 1];
      const c2 = live[k + 2];
      const c3 = live[k + 3];
      const y0 = c0 * size;
      const y1 = c1 * size;
      const y2 = c2 * size;
      const y3 = c3 * size;
      let a0 = 0;
      let a1 = 0;
      let a2 = 0;
      let a3 = 0;
      for (let t = 0; t < nnz; t++) {
        const j = idx[t];
        const p = A[x0 + j];
        a0 += p * WT[y0 + j];
        a1 += p * WT[y1 + j];
        a2 += p * WT[y2 + j];
        a3 += p * WT[y3 + j];
      }
      out[o0 + c0] = a0;
      out[o0 + c1] = a1;
      out[o0 + c2] = a2;
      out[o0 + c3] = a3;
    }
    for (; k < nLive; k++) {
      const c = live[k];
      const y = c * size;
      let a0 = 0;
      for (let t = 0; t < nnz; t++) {
        const j = idx[t];
        a0 += A[x0 + j] * WT[y + j];
      }
      out[o0 + c] = a0;
    }
  }
}

/**
 * out[off + b * m + j] = X[b, :] . Y[j, :] for X `[n, len]` and Y `[m, len]` row-major: the
 * product X Y^T. Used for affine IBP (boxes times weight rows).
 */
export function rowsTimesRowsT(X: Float64Array, n: number, Y: Float64Array, m: number, len: number, out: Float64Array): void {
  dotBlock(X, n, Y, m, len, out, 0);
}

/** out[off + r * m + j] = X[r, :] . Y[j, :], X `[n, len]`, Y `[m, len]`, in 4 x 4 register blocks. */
function dotBlock(X: Float64Array, n: number, Y: Float64Array, m: number, len: number, out: Float64Array, off: number): void {
  let r = 0;
  for (; r + 4 <= n; r += 4) {
    const x0 = r * len;
    const x1 = x0 + len;
    const x2 = x1 + len;
    const x3 = x2 + len;
    const o0 = off + r * m;
    const o1 = o0 + m;
    const o2 = o1 + m;
    const o3 = o2 + m;
    let j = 0;
    for (; j + 4 <= m; j += 4) {
      const y0 = j * len;
      const y1 = y0 + len;
      const y2 = y1 + len;
      const y3 = y2 + len;
      let a00 = 0;
      let a01 = 0;
      let a02 = 0;
      let a03 = 0;
      let a10 = 0;
      let a11 = 0;
      let a12 = 0;
      let a13 = 0;
      let a20 = 0;
      let a21 = 0;
      let a22 = 0;
      let a23 = 0;
      let a30 = 0;
      let a31 = 0;
      let a32 = 0;
      let a33 = 0;
      for (let t = 0; t < len; t++) {
        const p0 = X[x0 + t];
        const p1 = X[x1 + t];
        const p2 = X[x2 + t];
        const p3 = X[x3 + t];
        const q0 = Y[y0 + t];
        const q1 = Y[y1 + t];
        const q2 = Y[y2 + t];
        const q3 = Y[y3 + t];
        a00 += p0 * q0;
        a01 += p0 * q1;
        a02 += p0 * q2;
        a03 += p0 * q3;
        a10 += p1 * q0;
        a11 += p1 * q1;
        a12 += p1 * q2;
        a13 += p1 * q3;
        a20 += p2 * q0;
        a21 += p2 * q1;
        a22 += p2 * q2;
        a23 += p2 * q3;
        a30 += p3 * q0;
        a31 += p3 * q1;
        a32 += p3 * q2;
        a33 += p3 * q3;
      }
      out[o0 + j] = a00;
      out[o0 + j + 1] = a01;
      out[o0 + j + 2] = a02;
      out[o0 + j + 3] = a03;
      out[o1 + j] = a10;
      out[o1 + j + 1] = a11;
      out[o1 + j + 2] = a12;
      out[o1 + j + 3] = a13;
      out[o2 + j] = a20;
      out[o2 + j + 1] = a21;
      out[o2 + j + 2] = a22;
      out[o2 + j + 3] = a23;
      out[o3 + j] = a30;
      out[o3 + j + 1] = a31;
      out[o3 + j + 2] = a32;
      out[o3 + j + 3] = a33;
    }
    for (; j < m; j++) {
      const y0 = j * len;
      let a0 = 0;
      let a1 = 0;
      let a2 = 0;
      let a3 = 0;
      for (let t = 0; t < len; t++) {
        const v = Y[y0 + t];
        a0 += X[x0 + t] * v;
        a1 += X[x1 + t] * v;
        a2 += X[x2 + t] * v;
        a3 += X[x3 + t] * v;
      }
      out[o0 + j] = a0;
      out[o1 + j] = a1;
      out[o2 + j] = a2;
      out[o3 + j] = a3;
    }
  }
  for (; r < n; r++) {
    const x0 = r * len;
    const o0 = off + r * m;
    let j = 0;
    for (; j + 4 <= m; j += 4) {
      const y0 = j * len;
      const y1 = y0 + len;
      const y2 = y1 + len;
      const y3 = y2 + len;
      let a0 = 0;
      let a1 = 0;
      let a2 = 0;
      let a3 = 0;
      for (let t = 0; t < len; t++) {
        const p = X[x0 + t];
        a0 += p * Y[y0 + t];
        a1 += p * Y[y1 + t];
        a2 += p * Y[y2 + t];
        a3 += p * Y[y3 + t];
      }
      out[o0 + j] = a0;
      out[o0 + j + 1] = a1;
      out[o0 + j + 2] = a2;
      out[o0 + j + 3] = a3;
    }
    for (; j < m; j++) {
      const y0 = j * len;
      let a0 = 0;
      for (let t = 0; t < len; t++) a0 += X[x0 + t] * Y[y0 + t];
      out[o0 + j] = a0;
    }
  }
}
