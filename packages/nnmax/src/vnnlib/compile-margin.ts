import { ShapeError } from '@nnmax/core';
import type { PropertyCase } from './property.js';

/**
 * The unsafe region of one property case as a max-min of affine functions of the outputs:
 *
 *   g(y) = max over groups k of min over rows j in groups[k] of (offsets[j] - rows[j] . y)
 *
 * `g(y) >= 0` iff y is in the unsafe region (some disjunct has all its terms `a . y <= b`).
 * Maximising `g(F(x))` over the case's input region answers the property: a maximum `>= 0` is a
 * counterexample, a certified upper bound `< 0` proves that the case holds.
 */
export interface CompiledMargin {
  readonly nOut: number;
  readonly rows: Float64Array; // [K, nOut] row-major
  readonly offsets: Float64Array; // [K]
  /** Row indices of each disjunct, in the case's disjunct order; never empty. */
  readonly groups: readonly (readonly number[])[];
}

/** The row that attains `g(y)`: the subgradient of g with respect to y is `-rows[row]`. */
export interface ActiveMargin {
  readonly value: number;
  readonly group: number;
  readonly row: number;
}

/**
 * Compiles a case's unsafe disjunction into rows. A disjunct with no terms (the whole output
 * space) becomes the zero row with offset 0, so its margin is 0 everywhere.
 */
export function compileMargin(pcase: PropertyCase, nOut: number): CompiledMargin {
  let k = 0;
  for (const d of pcase.unsafe) k += Math.max(1, d.terms.length);
  const rows = new Float64Array(k * nOut);
  const offsets = new Float64Array(k);
  const groups: number[][] = [];
  let r = 0;
  for (const d of pcase.unsafe) {
    const group: number[] = [];
    if (d.terms.length === 0) group.push(r++);
    for (const term of d.terms) {
      if (term.a.length !== nOut) throw new ShapeError('output constraint', `${nOut} coefficients`, `${term.a.length}`);
      rows.set(term.a, r * nOut);
      offsets[r] = term.b;
      group.push(r++);
    }
    groups.push(group);
  }
  return { nOut, rows, offsets, groups };
}

/** `g(y)` in float64. `y` is `[nOut]`; `-Infinity` when the case has no disjunct. */
export function marginValue(compiled: CompiledMargin, y: ArrayLike<number>): number {
  checkLength(compiled, y.length, 1);
  return evaluate(compiled, y, 0).value;
}

/** `g(y)` for a batch: `ys` is `[n, nOut]` row-major; returns `[n]`. */
export function marginValues(compiled: CompiledMargin, ys: Float64Array, n: number): Float64Array {
  checkLength(compiled, ys.length, n);
  const out = new Float64Array(n);
  for (let s = 0; s < n; s++) out[s] = evaluate(compiled, ys, s * compiled.nOut).value;
  return out;
}

/**
 * `g(y)` with the group and row that attain it (the first on ties). With no disjunct at all the
 * value is `-Infinity` and group and row are -1.
 */
export function marginActive(compiled: CompiledMargin, y: ArrayLike<number>): ActiveMargin {
  checkLength(compiled, y.length, 1);
  return evaluate(compiled, y, 0);
}

function evaluate(compiled: CompiledMargin, y: ArrayLike<number>, yo: number): ActiveMargin {
  const { rows, offsets, groups, nOut } = compiled;
  let best = -Infinity;
  let bestGroup = -1;
  let bestRow = -1;
  for (let k = 0; k < groups.length; k++) {
    let min = Infinity;
    let minRow = -1;
    for (const j of groups[k]) {
      let dot = 0;
      const ro = j * nOut;
      for (let t = 0; t < nOut; t++) dot += rows[ro + t] * y[yo + t];
      // A NaN margin (NaN output) ranks lowest: it never makes a point look unsafe.
      const m = offsets[j] - dot;
      const mv = Number.isNaN(m) ? -Infinity : m;
      if (mv < min || minRow === -1) {
        min = mv;
        minRow = j;
      }
    }
    if (min > best || bestGroup === -1) {
      best = min;
      bestGroup = k;
      bestRow = minRow;
    }
  }
  return { value: best, group: bestGroup, row: bestRow };
}

function checkLength(compiled: CompiledMargin, length: number, n: number): void {
  if (length !== n * compiled.nOut) {
    throw new ShapeError('margin outputs y', `${n} x ${compiled.nOut} = ${n * compiled.nOut} values`, `${length}`);
  }
}
