import { ShapeError } from '@nnmax/core';

export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

/** numpy broadcasting of two shapes; throws ShapeError naming `where` if incompatible. */
export function broadcastShapes(a: readonly number[], b: readonly number[], where: string): number[] {
  const n = Math.max(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new ShapeError(where, `broadcastable shapes`, `[${a.join(',')}] and [${b.join(',')}]`);
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/**
 * For each flat index of `outShape`, the flat index of the (broadcast) source of shape `inShape`.
 * Returns null when the map is the identity (same size, no broadcasting).
 */
export function broadcastMap(outShape: readonly number[], inShape: readonly number[]): Int32Array | null {
  const outSize = sizeOf(outShape);
  if (sizeOf(inShape) === outSize) return null;
  const n = outShape.length;
  const inStrides = stridesOf(inShape);
  const map = new Int32Array(outSize);
  const idx = new Array<number>(n).fill(0);
  for (let flat = 0; flat < outSize; flat++) {
    let src = 0;
    for (let d = 0; d < n; d++) {
      const k = d - (n - inShape.length);
      if (k >= 0 && inShape[k] !== 1) src += idx[d] * inStrides[k];
    }
    map[flat] = src;
    for (let d = n - 1; d >= 0; d--) {
      if (++idx[d] < outShape[d]) break;
      idx[d] = 0;
    }
  }
  return map;
}

/** Flat source index for each flat output index of a transpose with permutation `perm`. */
export function transposeMap(shape: readonly number[], perm: readonly number[]): { shape: number[]; map: Int32Array } {
  const outShape = perm.map((p) => shape[p]);
  const inStrides = stridesOf(shape);
  const size = sizeOf(shape);
  const map = new Int32Array(size);
  const idx = new Array<number>(outShape.length).fill(0);
  for (let flat = 0; flat < size; flat++) {
    let src = 0;
    for (let d = 0; d < outShape.length; d++) src += idx[d] * inStrides[perm[d]];
    map[flat] = src;
    for (let d = outShape.length - 1; d >= 0; d--) {
      if (++idx[d] < outShape[d]) break;
      idx[d] = 0;
    }
  }
  return { shape: outShape, map };
}
