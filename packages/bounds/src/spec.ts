import { InvalidOptionError, ShapeError } from '@nnmax/core';

/** One disjunct of a max-min objective: the terms D[j] . y + e[j], of which the minimum counts. */
export interface SpecDisjunct {
  readonly D: Float64Array; // [nTerms, nOut] row-major
  readonly e: Float64Array; // [nTerms]
}

/**
 * A max-min objective over the network output y = F(x):
 *   g(x) = max over disjuncts k of min over terms j of (D_k[j] . y + e_k[j]).
 * A VNN-LIB property "unsafe region: or_k and_j (a_kj . y <= b_kj)" is violated exactly when
 * max_x g(x) >= 0 with D_k[j] = -a_kj and e_k[j] = b_kj. A plain objective c . F(x) is one
 * disjunct with one term.
 */
export interface MaxMinSpec {
  readonly nOut: number;
  readonly disjuncts: readonly SpecDisjunct[];
}

/** The objective c . F(x) + offset as a spec. */
export function linearSpec(c: Float64Array, offset = 0): MaxMinSpec {
  return { nOut: c.length, disjuncts: [{ D: Float64Array.from(c), e: Float64Array.of(offset) }] };
}

/** Throws when a spec does not fit a network with nOut outputs. */
export function validateSpec(spec: MaxMinSpec, nOut: number): void {
  if (spec.nOut !== nOut) throw new ShapeError('objective', `${nOut} output weights`, `${spec.nOut}`);
  if (spec.disjuncts.length === 0) throw new InvalidOptionError('objective', 'no disjuncts', 'at least one disjunct');
  spec.disjuncts.forEach((d, k) => {
    const nTerms = d.e.length;
    if (nTerms === 0) throw new InvalidOptionError(`objective disjunct ${k}`, 'no terms', 'at least one term');
    if (d.D.length !== nTerms * nOut) {
      throw new ShapeError(`objective disjunct ${k}`, `${nTerms} x ${nOut} = ${nTerms * nOut} coefficients`, `${d.D.length}`);
    }
    for (let i = 0; i < d.D.length; i++) {
      if (!Number.isFinite(d.D[i])) throw new InvalidOptionError(`objective disjunct ${k} coefficient ${i}`, d.D[i], 'a finite number');
    }
    for (let i = 0; i < nTerms; i++) {
      if (!Number.isFinite(d.e[i])) throw new InvalidOptionError(`objective disjunct ${k} offset ${i}`, d.e[i], 'a finite number');
    }
  });
}

/** g for each of n outputs `y` ([n, nOut] row-major), in float64. */
export function evaluateSpec(spec: MaxMinSpec, y: Float64Array, n: number): Float64Array {
  const nOut = spec.nOut;
  const out = new Float64Array(n);
  for (let s = 0; s < n; s++) {
    let g = -Infinity;
    for (const d of spec.disjuncts) {
      let m = Infinity;
      const nTerms = d.e.length;
      for (let j = 0; j < nTerms; j++) {
        let v = d.e[j];
        for (let o = 0; o < nOut; o++) v += d.D[j * nOut + o] * y[s * nOut + o];
        if (v < m) m = v;
      }
      if (m > g) g = m;
    }
    out[s] = g;
  }
  return out;
}
