import { Rng, type Box } from '@nnmax/core';

/** n uniform points in a box, [n, dim] row-major, seeded. */
export function uniformInBox(box: Box, n: number, seed: number): Float64Array {
  const rng = new Rng(seed);
  const d = box.lo.length;
  const x = new Float64Array(n * d);
  for (let s = 0; s < n; s++) for (let i = 0; i < d; i++) x[s * d + i] = rng.uniform(box.lo[i], box.hi[i]);
  return x;
}
