/**
 * Elementwise intervals of one node's output over a batch of boxes: `lo <= value <= hi` for every
 * point of box `b`, neuron `j`, at index `b * size + j`.
 */
export interface IntervalBatch {
  readonly nBoxes: number;
  readonly size: number;
  readonly lo: Float64Array; // [nBoxes, size] row-major
  readonly hi: Float64Array; // [nBoxes, size] row-major
}

export function makeIntervalBatch(nBoxes: number, size: number): IntervalBatch {
  return { nBoxes, size, lo: new Float64Array(nBoxes * size), hi: new Float64Array(nBoxes * size) };
}

/** max(|lo|, |hi|) elementwise: a bound on |value|, `[nBoxes, size]`. */
export function magnitudes(iv: IntervalBatch): Float64Array {
  const out = new Float64Array(iv.lo.length);
  for (let i = 0; i < out.length; i++) {
    const a = Math.abs(iv.lo[i]);
    const b = Math.abs(iv.hi[i]);
    out[i] = a > b ? a : b;
  }
  return out;
}

/**
 * `[nBoxes]` 1 + the sum of each box's magnitudes (`[nBoxes, size]`), rounded up by a factor that
 * covers the sum's own rounding (gamma_size < 1e-10 for any realistic size): the multiplier of the
 * underflow floor (see `UNDERFLOW_FLOOR`).
 */
export function magnitudeSums(mags: Float64Array, nBoxes: number, size: number): Float64Array {
  const out = new Float64Array(nBoxes);
  for (let b = 0; b < nBoxes; b++) {
    let s = 1;
    for (let j = b * size, end = j + size; j < end; j++) s += mags[j];
    out[b] = 2 * s;
  }
  return out;
}
