import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rng, ShapeError } from '@nnmax/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BENCHMARKS } from '../../../../test/helpers/corpus.js';
import { compileMargin, marginActive, marginValue, marginValues } from './compile-margin.js';
import { parseVnnlib } from './parse-vnnlib.js';
import type { PropertyCase } from './property.js';

/** Is y in the case's unsafe region, straight from the definition (some disjunct, every term). */
function isUnsafe(pcase: PropertyCase, y: ArrayLike<number>): boolean {
  return pcase.unsafe.some((d) => d.terms.every((t) => t.a.reduce((s, a, k) => s + a * y[k], 0) <= t.b));
}

/** max_k min_j (b - a.y) computed on the Disjunct objects, not on compiled rows. */
function definitionMargin(pcase: PropertyCase, y: ArrayLike<number>): number {
  return Math.max(
    ...pcase.unsafe.map((d) =>
      d.terms.length === 0 ? 0 : Math.min(...d.terms.map((t) => t.b - t.a.reduce((s, a, k) => s + a * y[k], 0))),
    ),
  );
}

function parse(rel: string) {
  return parseVnnlib(readFileSync(join(BENCHMARKS, rel), 'utf8'), rel);
}

describe('compileMargin', () => {
  it('acasxu/prop_1: g(y) = y0 - 3.991125645861615', () => {
    const p = parse('acasxu/prop_1.vnnlib');
    const m = compileMargin(p.cases[0], p.nOut);
    expect(Array.from(m.rows)).toEqual([-1, 0, 0, 0, 0]);
    expect(Array.from(m.offsets)).toEqual([-3.991125645861615]);
    expect(m.groups).toEqual([[0]]);
    expect(marginValue(m, [4, 9, 9, 9, 9])).toBeCloseTo(4 - 3.991125645861615, 15);
    expect(marginValue(m, [3.99, 0, 0, 0, 0])).toBeLessThan(0);
  });

  it('acasxu/prop_7: g(y) >= 0 exactly when y3 or y4 is <= y0, y1 and y2', () => {
    const p = parse('acasxu/prop_7.vnnlib');
    const m = compileMargin(p.cases[0], p.nOut);
    expect(m.groups).toEqual([
      [0, 1, 2],
      [3, 4, 5],
    ]);
    expect(marginValue(m, [3, 2, 5, 1, 9])).toBe(1); // y3 is 1 below min(y0, y1, y2) = 2
    expect(marginValue(m, [3, 2, 5, 9, 2.5])).toBe(-0.5);
  });

  it.each(['acasxu/prop_2.vnnlib', 'acasxu/prop_5.vnnlib', 'acasxu/prop_6.vnnlib', 'acasxu/prop_8.vnnlib', 'mnistfc/prop_3_0.05.vnnlib'])(
    '%s: the sign of g matches the unsafe-region definition on random outputs',
    (rel) => {
      const p = parse(rel);
      const rng = new Rng(7);
      for (const c of p.cases) {
        const m = compileMargin(c, p.nOut);
        for (let s = 0; s < 2000; s++) {
          const y = Float64Array.from({ length: p.nOut }, () => rng.uniform(-1, 1));
          expect(marginValue(m, y) >= 0).toBe(isUnsafe(c, y));
          expect(marginValue(m, y)).toBe(definitionMargin(c, y));
        }
      }
    },
  );

  it('a disjunct with no terms compiles to the zero row: g = 0 everywhere', () => {
    const m = compileMargin({ box: { lo: new Float64Array(1), hi: new Float64Array(1) }, inputConstraints: [], unsafe: [{ terms: [] }] }, 2);
    expect(Array.from(m.rows)).toEqual([0, 0]);
    expect(m.groups).toEqual([[0]]);
    expect(marginValue(m, [5, -7])).toBe(0);
  });

  it('rejects a term whose length is not nOut', () => {
    const pcase: PropertyCase = { box: { lo: new Float64Array(1), hi: new Float64Array(1) }, inputConstraints: [], unsafe: [{ terms: [{ a: new Float64Array(3), b: 0 }] }] };
    expect(() => compileMargin(pcase, 2)).toThrow(ShapeError);
  });
});

describe('marginValue, marginValues, marginActive', () => {
  const caseArb = fc.integer({ min: 1, max: 4 }).chain((nOut) =>
    fc.record({
      nOut: fc.constant(nOut),
      pcase: fc
        .array(
          fc.array(
            fc.record({
              a: fc.array(fc.double({ min: -10, max: 10, noNaN: true }), { minLength: nOut, maxLength: nOut }).map((a) => Float64Array.from(a)),
              b: fc.double({ min: -10, max: 10, noNaN: true }),
            }),
            { minLength: 1, maxLength: 4 },
          ),
          { minLength: 1, maxLength: 4 },
        )
        .map((ds): PropertyCase => ({ box: { lo: new Float64Array(1), hi: new Float64Array(1) }, inputConstraints: [], unsafe: ds.map((terms) => ({ terms })) })),
      ys: fc.array(fc.array(fc.double({ min: -10, max: 10, noNaN: true }), { minLength: nOut, maxLength: nOut }), { minLength: 1, maxLength: 5 }),
    }),
  );

  it('agree with the max-min definition; the active row attains the value; the batch agrees with single calls', () => {
    fc.assert(
      fc.property(caseArb, ({ nOut, pcase, ys }) => {
        const m = compileMargin(pcase, nOut);
        const batch = marginValues(m, Float64Array.from(ys.flat()), ys.length);
        ys.forEach((y, s) => {
          const v = marginValue(m, y);
          expect(v).toBe(definitionMargin(pcase, y));
          expect(batch[s]).toBe(v);
          const act = marginActive(m, y);
          expect(act.value).toBe(v);
          expect(m.groups[act.group]).toContain(act.row);
          let dot = 0;
          for (let t = 0; t < nOut; t++) dot += m.rows[act.row * nOut + t] * y[t];
          expect(m.offsets[act.row] - dot).toBe(v);
        });
      }),
      { numRuns: 300 },
    );
  });

  it('the active row gives a subgradient: g(y + h) >= g(y) - rows[row] . h', () => {
    // g is a max of mins of affine functions; along the active row the change is exact while
    // the active set is unchanged, so a tiny step checks the direction
    const p = parse('acasxu/prop_8.vnnlib');
    const m = compileMargin(p.cases[0], p.nOut);
    const y = [0.5, 0.2, -0.3, 0.1, 0.9];
    const act = marginActive(m, y);
    const h = [1e-7, -2e-7, 3e-7, 0, 1e-7];
    const yh = y.map((v, k) => v + h[k]);
    let lin = act.value;
    for (let t = 0; t < p.nOut; t++) lin -= m.rows[act.row * p.nOut + t] * h[t];
    expect(marginValue(m, yh)).toBeCloseTo(lin, 12);
  });

  it('a NaN output never makes a point look unsafe', () => {
    const p = parse('acasxu/prop_2.vnnlib');
    const m = compileMargin(p.cases[0], p.nOut);
    expect(marginValue(m, [NaN, 0, 0, 0, 0])).toBe(-Infinity);
    expect(marginValue(m, [10, NaN, 0, 0, 0])).toBe(-Infinity);
  });

  it('rejects outputs of the wrong length', () => {
    const p = parse('acasxu/prop_2.vnnlib');
    const m = compileMargin(p.cases[0], p.nOut);
    expect(() => marginValue(m, [1, 2])).toThrow(ShapeError);
    expect(() => marginValues(m, new Float64Array(9), 2)).toThrow(ShapeError);
  });
});
