/**
 * Reusable scratch buffers for temporaries that never outlive one synchronous call.
 *
 * Allocating a typed array costs far more than the arithmetic on it here: a fresh 1,000-element
 * Float64Array costs about 10 us in Node and about 100 us in Chromium (a zeroed ArrayBuffer
 * backing store each time), against under 1 us to reuse one. Each call site owns a numbered slot;
 * a slot's buffer only grows. A caller must finish with a slot before anything it calls could ask
 * for the same slot, which holds when slots are used only in leaf functions (kernels), as here.
 * Contents are not cleared: a caller writes every element it reads.
 */
const f64: Float64Array[] = [];
const i32: Int32Array[] = [];

/** A view of `n` elements on the buffer of `slot` in `buffers`, grown (doubling) as needed. */
function scratch<T extends Float64Array | Int32Array>(buffers: T[], make: (n: number) => T, slot: number, n: number): T {
  let buf = buffers[slot];
  if (buf === undefined || buf.length < n) {
    buf = make(Math.max(n, 2 * (buf?.length ?? 0), 64));
    buffers[slot] = buf;
  }
  return buf.length === n ? buf : (buf.subarray(0, n) as T);
}

/** A view of `n` float64 values on the buffer of `slot` (contents undefined). */
export function scratchF64(slot: number, n: number): Float64Array {
  return scratch(f64, (k) => new Float64Array(k), slot, n);
}

/** A view of `n` int32 values on the buffer of `slot` (contents undefined). */
export function scratchI32(slot: number, n: number): Int32Array {
  return scratch(i32, (k) => new Int32Array(k), slot, n);
}

/** The slots (one per call site). */
export const SLOT = {
  matrixIdx: 0,
  matrixW: 1,
  matrixA: 2,
  affineMid: 3,
  affineRad: 4,
  affineMagMax: 5,
  affineC: 6,
  affineR: 7,
  matrixLive: 8,
} as const;

/**
 * A pool of zero-filled float64 arrays for the coefficient matrices of back-substitution: each
 * step makes a `[nRows, size]` matrix (often 50-100 kB) and the previous one dies, so recycling
 * them spares an allocation per step. Arrays come back only from code that took them and knows
 * no one else holds them: `backSubstitute`, alpha-CROWN's iterations and the local ascent (see
 * there). `take` zero-fills, exactly like `new`.
 */
const POOL_BYTES = 64 * 2 ** 20;
const pool = new Map<number, Float64Array[]>();
let pooledBytes = 0;

export function takeF64(n: number): Float64Array {
  const list = pool.get(n);
  const a = list?.pop();
  if (a === undefined) return new Float64Array(n);
  pooledBytes -= a.byteLength;
  a.fill(0);
  return a;
}

export function giveF64(a: Float64Array): void {
  // only whole buffers: a view would hand out memory that its buffer's owner still uses
  if (a.byteOffset !== 0 || a.buffer.byteLength !== a.byteLength) return;
  if (pooledBytes + a.byteLength > POOL_BYTES) {
    pool.clear();
    pooledBytes = 0;
  }
  let list = pool.get(a.length);
  if (list === undefined) {
    list = [];
    pool.set(a.length, list);
  }
  list.push(a);
  pooledBytes += a.byteLength;
}

/**
 * Drops every scratch buffer and pooled array of this thread (the next calls allocate afresh):
 * for a thread that goes idle, such as the bounding helper's between two searches.
 */
export function releaseScratch(): void {
  f64.length = 0;
  i32.length = 0;
  pool.clear();
  pooledBytes = 0;
}
