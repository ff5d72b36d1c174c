/**
 * Directed rounding helpers for certified arithmetic. JavaScript rounds every float64 operation
 * to nearest, so a result is within half an ulp of the exact value; stepping one ulp outward
 * (nextUp / nextDown) therefore encloses the exact result of a single operation.
 */
const buf = new Float64Array(1);
const bits = new BigUint64Array(buf.buffer);

export function nextUp(x: number): number {
  if (Number.isNaN(x) || x === Infinity) return x;
  if (x === 0) return Number.MIN_VALUE;
  buf[0] = x;
  bits[0] += x > 0 ? 1n : -1n;
  return buf[0];
}

export function nextDown(x: number): number {
  return -nextUp(-x);
}

/**
 * Relative slack that covers the rounding error of a float64 dot product of length n computed
 * by naive summation: |fl(sum) - sum| <= gamma_n * sum |a_i b_i| with gamma_n = n u / (1 - n u),
 * u = 2^-53 (Higham, Accuracy and Stability of Numerical Algorithms, eq. 3.5).
 */
export function dotErrorFactor(n: number): number {
  const u = 2 ** -53;
  const nu = (n + 2) * u;
  return nu / (1 - nu);
}
