import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { VnnlibParseError } from '@nnmax/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BENCHMARKS } from '../../../../test/helpers/corpus.js';
import { formatVnnlib } from './format-vnnlib.js';
import { parseVnnlib } from './parse-vnnlib.js';
import type { Property } from './property.js';

function vnnlibFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...vnnlibFiles(p));
    else if (e.name.endsWith('.vnnlib')) out.push(p);
  }
  return out.sort();
}

function parseFile(rel: string): Property {
  const path = join(BENCHMARKS, rel);
  return parseVnnlib(readFileSync(path, 'utf8'), rel);
}

function errorOf(fn: () => unknown): VnnlibParseError {
  try {
    fn();
  } catch (e) {
    if (e instanceof VnnlibParseError) return e;
    throw e;
  }
  throw new Error('expected a VnnlibParseError');
}

/** Output row over nOut outputs from a sparse description. */
function row(nOut: number, coeffs: Record<number, number>): number[] {
  const a = new Array<number>(nOut).fill(0);
  for (const [k, v] of Object.entries(coeffs)) a[Number(k)] = v;
  return a;
}

const HEADER = '(declare-const X_0 Real)\n(declare-const X_1 Real)\n(declare-const Y_0 Real)\n(declare-const Y_1 Real)\n';
const BOUNDS = '(assert (>= X_0 -1))\n(assert (<= X_0 1))\n(assert (>= X_1 0))\n(assert (<= X_1 2))\n';

describe('parseVnnlib on the benchmark corpus', () => {
  const files = vnnlibFiles(BENCHMARKS).map((f) => relative(BENCHMARKS, f));

  it('finds every property of the corpus (10 ACAS Xu, 30 MNIST-FC, ERAN specs, test, TLL)', () => {
    expect(files.filter((f) => f.startsWith('acasxu/'))).toHaveLength(10);
    expect(files.filter((f) => f.startsWith('mnistfc/'))).toHaveLength(30);
    expect(files.filter((f) => f.startsWith('eran/')).length).toBeGreaterThan(0);
    expect(files.filter((f) => f.startsWith('test/'))).toHaveLength(4);
    expect(files.filter((f) => f.startsWith('tll/'))).toHaveLength(1);
  });

  it.each(files)('%s: parses with finite boxes and consistent shapes', (rel) => {
    const p = parseFile(rel);
    expect(p.cases.length).toBeGreaterThan(0);
    for (const c of p.cases) {
      expect(c.box.lo).toHaveLength(p.nIn);
      expect(c.box.hi).toHaveLength(p.nIn);
      for (let i = 0; i < p.nIn; i++) {
        expect(Number.isFinite(c.box.lo[i]) && Number.isFinite(c.box.hi[i])).toBe(true);
        expect(c.box.lo[i]).toBeLessThanOrEqual(c.box.hi[i]);
      }
      expect(c.unsafe.length).toBeGreaterThan(0);
      for (const d of c.unsafe) for (const t of d.terms) expect(t.a).toHaveLength(p.nOut);
    }
  });

  // [file, nIn, nOut, disjunct counts per case, terms per disjunct of case 0]
  const SHAPES: [string, number, number, number[], number[]][] = [
    ['acasxu/prop_1.vnnlib', 5, 5, [1], [1]],
    ['acasxu/prop_2.vnnlib', 5, 5, [1], [4]],
    ['acasxu/prop_3.vnnlib', 5, 5, [1], [4]],
    ['acasxu/prop_4.vnnlib', 5, 5, [1], [4]],
    ['acasxu/prop_5.vnnlib', 5, 5, [4], [1, 1, 1, 1]],
    ['acasxu/prop_6.vnnlib', 5, 5, [4, 4], [1, 1, 1, 1]],
    ['acasxu/prop_7.vnnlib', 5, 5, [2], [3, 3]],
    ['acasxu/prop_8.vnnlib', 5, 5, [3], [2, 2, 2]],
    ['acasxu/prop_9.vnnlib', 5, 5, [4], [1, 1, 1, 1]],
    ['acasxu/prop_10.vnnlib', 5, 5, [4], [1, 1, 1, 1]],
    ['mnistfc/prop_0_0.03.vnnlib', 784, 10, [9], [1, 1, 1, 1, 1, 1, 1, 1, 1]],
    ['eran/specs/mnist/mnist_spec_idx_56_eps_0.01200.vnnlib', 784, 10, [9], [1, 1, 1, 1, 1, 1, 1, 1, 1]],
    ['test/test_nano.vnnlib', 1, 1, [1], [1]],
    ['test/test_tiny.vnnlib', 1, 1, [1], [1]],
    ['test/test_small.vnnlib', 1, 1, [1], [1]],
    ['test/test_prop.vnnlib', 5, 5, [1], [4]],
    ['tll/property_N=8_0.vnnlib', 2, 1, [1], [1]],
  ];
  it.each(SHAPES)('%s: %i inputs, %i outputs, disjuncts per case %j, terms %j', (rel, nIn, nOut, disjuncts, terms) => {
    const p = parseFile(rel);
    expect([p.nIn, p.nOut]).toEqual([nIn, nOut]);
    expect(p.cases.map((c) => c.unsafe.length)).toEqual(disjuncts);
    expect(p.cases[0].unsafe.map((d) => d.terms.length)).toEqual(terms);
    for (const c of p.cases) expect(c.inputConstraints).toHaveLength(0);
  });

  it('acasxu/prop_1: the exact box and the single row -Y_0 <= -3.991125645861615', () => {
    const p = parseFile('acasxu/prop_1.vnnlib');
    expect(p.cases).toHaveLength(1);
    const [c] = p.cases;
    expect(Array.from(c.box.lo)).toEqual([0.6, -0.5, -0.5, 0.45, -0.5]);
    expect(Array.from(c.box.hi)).toEqual([0.679857769, 0.5, 0.5, 0.5, -0.45]);
    expect(c.unsafe).toHaveLength(1);
    expect(c.unsafe[0].terms).toHaveLength(1);
    expect(Array.from(c.unsafe[0].terms[0].a)).toEqual([-1, 0, 0, 0, 0]);
    expect(c.unsafe[0].terms[0].b).toBe(-3.991125645861615);
    expect(p.declarations.inputs[0]).toEqual({ line: 3, column: 16 });
  });

  it('acasxu/prop_6: one case per input box of the disjunction, each with the 4 output disjuncts', () => {
    const p = parseFile('acasxu/prop_6.vnnlib');
    expect(p.cases).toHaveLength(2);
    expect(p.cases[0].box.lo[1]).toBe(0.11140846);
    expect(p.cases[0].box.hi[1]).toBe(0.499999896);
    expect(p.cases[1].box.lo[1]).toBe(-0.499999896);
    expect(p.cases[1].box.hi[1]).toBe(-0.11140846);
    for (const c of p.cases) {
      // (<= Y_k Y_0): Y_k - Y_0 <= 0
      expect(c.unsafe.map((d) => Array.from(d.terms[0].a))).toEqual([1, 2, 3, 4].map((k) => row(5, { [k]: 1, 0: -1 })));
      expect(c.unsafe.every((d) => d.terms[0].b === 0)).toBe(true);
    }
  });

  it('acasxu/prop_7: two disjuncts of three terms each', () => {
    const p = parseFile('acasxu/prop_7.vnnlib');
    const [d0, d1] = p.cases[0].unsafe;
    expect(d0.terms.map((t) => Array.from(t.a))).toEqual([0, 1, 2].map((k) => row(5, { 3: 1, [k]: -1 })));
    expect(d1.terms.map((t) => Array.from(t.a))).toEqual([0, 1, 2].map((k) => row(5, { 4: 1, [k]: -1 })));
  });

  it('test_tiny: input bounds inside the (or (and ...)) are the box; Y_0 >= 100 is the only term', () => {
    const p = parseFile('test/test_tiny.vnnlib');
    expect(Array.from(p.cases[0].box.lo)).toEqual([-1]);
    expect(Array.from(p.cases[0].box.hi)).toEqual([1]);
    expect(Array.from(p.cases[0].unsafe[0].terms[0].a)).toEqual([-1]);
    expect(p.cases[0].unsafe[0].terms[0].b).toBe(-100);
  });

  it('mnistfc/prop_0_0.03: a 784-input box around the image and "label 8 is not the top class"', () => {
    const p = parseFile('mnistfc/prop_0_0.03.vnnlib');
    const c = p.cases[0];
    expect(c.box.lo[0]).toBe(0);
    expect(c.box.hi[0]).toBe(0.029999999329447746);
    const others = [0, 1, 2, 3, 4, 5, 6, 7, 9];
    // (>= Y_k Y_8): Y_8 - Y_k <= 0
    expect(c.unsafe.map((d) => Array.from(d.terms[0].a))).toEqual(others.map((k) => row(10, { 8: 1, [k]: -1 })));
  });
});

describe('parseVnnlib on hand-written properties', () => {
  it('reads arithmetic terms: +, binary and unary -, * by constants, / by a constant, scientific notation', () => {
    const p = parseVnnlib(
      `${HEADER}${BOUNDS}(assert (<= (+ (* 2 Y_0) (- Y_1) (* -1.5e1 0.1 Y_1) 3) (- 10 (/ Y_0 4) 1e0)))`,
      'arith',
    );
    // 2 y0 - y1 - 1.5 y1 + 3 <= 9 - 0.25 y0  ->  2.25 y0 - 2.5 y1 <= 6
    const [t] = p.cases[0].unsafe[0].terms;
    expect(Array.from(t.a)).toEqual([2.25, -2.5]);
    expect(t.b).toBe(6);
  });

  it('treats < and > as non-strict, expands chained comparisons and = into inequalities', () => {
    const p = parseVnnlib(`${HEADER}${BOUNDS}(assert (< Y_0 Y_1 5))\n(assert (= Y_0 -2))\n(assert (> Y_1 -7))`, 'cmp');
    expect(p.cases[0].unsafe[0].terms.map((t) => [...Array.from(t.a), t.b])).toEqual([
      [1, -1, 0],
      [0, 1, 5],
      [1, 0, -2],
      [-1, 0, 2],
      [0, -1, 7],
    ]);
  });

  it('input bounds written with = and scaled variables give the exact box', () => {
    const p = parseVnnlib(
      `${HEADER}(assert (= X_0 0.25))\n(assert (and (<= (* 2 X_1) 3) (>= (- X_1) -4) (>= X_1 -1e-3)))\n(assert (<= Y_0 1))`,
      'eq',
    );
    expect(Array.from(p.cases[0].box.lo)).toEqual([0.25, -1e-3]);
    expect(Array.from(p.cases[0].box.hi)).toEqual([0.25, 1.5]);
  });

  it('intersects repeated bounds and keeps the tightest', () => {
    const p = parseVnnlib(`${HEADER}${BOUNDS}(assert (<= X_0 0.5))\n(assert (>= X_0 -2))\n(assert (<= Y_0 1))`, 'tight');
    expect(Array.from(p.cases[0].box.lo)).toEqual([-1, 0]);
    expect(Array.from(p.cases[0].box.hi)).toEqual([0.5, 2]);
  });

  it('keeps constraints over several inputs as input rows (a.x <= b)', () => {
    const p = parseVnnlib(`${HEADER}${BOUNDS}(assert (<= (+ X_0 X_1) 1.5))\n(assert (>= (- X_0 (* 3 X_1)) -2))\n(assert (<= Y_0 1))`, 'rows');
    expect(p.cases[0].inputConstraints.map((r) => [...Array.from(r.a), r.b])).toEqual([
      [1, 1, 1.5],
      [-1, 3, 2],
    ]);
  });

  it('splits a disjunction over input boxes into cases, each with its own output disjuncts', () => {
    const p = parseVnnlib(
      `${HEADER}(assert (or
         (and (>= X_0 0) (<= X_0 1) (>= X_1 0) (<= X_1 1) (>= Y_0 5))
         (and (>= X_0 0) (<= X_0 1) (>= X_1 0) (<= X_1 1) (>= Y_1 6))
         (and (>= X_0 -1) (<= X_0 0) (>= X_1 0) (<= X_1 1) (<= Y_0 Y_1))))`,
      'boxes',
    );
    expect(p.cases).toHaveLength(2);
    expect(p.cases[0].unsafe.map((d) => d.terms.map((t) => [...Array.from(t.a), t.b]))).toEqual([[[-1, 0, -5]], [[0, -1, -6]]]);
    expect(Array.from(p.cases[1].box.lo)).toEqual([-1, 0]);
    expect(p.cases[1].unsafe.map((d) => d.terms.map((t) => [...Array.from(t.a), t.b]))).toEqual([[[1, -1, 0]]]);
  });

  it('distributes an and over an or (nested formulas) into disjunctive normal form', () => {
    const p = parseVnnlib(`${HEADER}${BOUNDS}(assert (and (<= Y_0 1) (or (<= Y_1 2) (and (<= Y_1 3) (or (>= Y_0 -4) (>= Y_0 -5))))))`, 'nest');
    expect(p.cases[0].unsafe.map((d) => d.terms.map((t) => t.b))).toEqual([
      [1, 2],
      [1, 3, 4],
      [1, 3, 5],
    ]);
  });

  it('accepts true/false, comments, set-logic/check-sat, and constant comparisons', () => {
    const p = parseVnnlib(
      `(set-logic QF_LRA) ; logic\n${HEADER}${BOUNDS}(assert true)\n(assert (<= 1 2))\n(assert (or false (<= Y_0 1)))\n(check-sat)\n(get-model)\n(exit)`,
      'misc',
    );
    expect(p.cases[0].unsafe).toHaveLength(1);
    expect(p.cases[0].unsafe[0].terms).toHaveLength(1);
  });

  it('a property with no output constraint has one disjunct with no terms (every output is unsafe)', () => {
    const p = parseVnnlib(`${HEADER}${BOUNDS}`, 'noout');
    expect(p.cases[0].unsafe).toEqual([{ terms: [] }]);
  });

  it('records where each variable is declared', () => {
    const p = parseVnnlib(`${HEADER}${BOUNDS}`, 'decl');
    expect(p.declarations.inputs).toEqual([
      { line: 1, column: 16 },
      { line: 2, column: 16 },
    ]);
    expect(p.declarations.outputs[1]).toEqual({ line: 4, column: 16 });
  });
});

describe('parseVnnlib errors name the file, line and column', () => {
  const CASES: [string, string, number, number, string][] = [
    ['unbalanced (', `${HEADER}${BOUNDS}(assert (<= Y_0 1)`, 9, 1, "unbalanced '('"],
    ['unbalanced )', `${HEADER}${BOUNDS}(assert (<= Y_0 1)))`, 9, 20, "unbalanced ')'"],
    ['unknown operator in a formula', `${HEADER}${BOUNDS}(assert (=> Y_0 1))`, 9, 10, "unknown operator '=>'"],
    ['unknown operator in a term', `${HEADER}${BOUNDS}(assert (<= (exp Y_0) 1))`, 9, 14, "unknown operator 'exp'"],
    ['not', `${HEADER}${BOUNDS}(assert (not (<= Y_0 1)))`, 9, 10, "'not' is not supported"],
    ['bad number', `${HEADER}${BOUNDS}(assert (<= Y_0 1..5))`, 9, 17, 'bad number'],
    ['number out of range', `${HEADER}${BOUNDS}(assert (<= Y_0 1e999))`, 9, 17, 'out of the float64 range'],
    ['undeclared variable', `${HEADER}${BOUNDS}(assert (<= Y_7 1))`, 9, 13, "undeclared variable 'Y_7'"],
    ['unknown symbol', `${HEADER}${BOUNDS}(assert (<= foo 1))`, 9, 13, "unknown symbol 'foo'"],
    ['misnamed variable', `(declare-const x0 Real)\n${HEADER}`, 1, 16, "'x0' is not named X_<i>"],
    ['non-Real sort', '(declare-const X_0 Int)', 1, 20, 'sort Real'],
    ['declared twice', `${HEADER}(declare-const Y_1 Real)`, 5, 16, 'declared twice'],
    ['gap in declarations', `${HEADER}(declare-const X_3 Real)`, 5, 16, 'X_2 is not'],
    ['no outputs', '(declare-const X_0 Real)\n(assert (<= X_0 1))', 1, 1, 'no output variables'],
    ['unknown command', `${HEADER}(define-fun f () Real 1)`, 5, 2, "unknown command 'define-fun'"],
    ['assert arity', `${HEADER}(assert (<= Y_0 1) (<= Y_1 1))`, 5, 1, 'exactly one formula'],
    ['nonlinear product', `${HEADER}${BOUNDS}(assert (<= (* Y_0 Y_1) 1))`, 9, 13, 'nonlinear'],
    ['division by a variable', `${HEADER}${BOUNDS}(assert (<= (/ 1 Y_1) 1))`, 9, 13, 'nonlinear'],
    ['mixed inputs and outputs', `${HEADER}${BOUNDS}(assert (<= X_0 Y_0))`, 9, 9, 'mixes inputs (X_i) and outputs'],
    ['comparison arity', `${HEADER}${BOUNDS}(assert (<= Y_0))`, 9, 9, 'at least two terms'],
    ['formula that is a number', `${HEADER}${BOUNDS}(assert 1)`, 9, 9, 'got the number 1'],
    ['assertion that never holds', `${HEADER}${BOUNDS}(assert (<= 2 1))`, 9, 1, 'can never hold'],
    ['empty input box', `${HEADER}${BOUNDS}(assert (<= X_1 -3))`, 9, 9, 'X_1 gets lower bound 0 above upper bound -3'],
    ['input without an upper bound', `${HEADER}(assert (>= X_0 0))\n(assert (<= X_0 1))\n(assert (>= X_1 0))`, 2, 16, 'X_1 has no upper bound'],
    ['input without any bound', `${HEADER}(assert (>= X_1 0))\n(assert (<= X_1 1))`, 1, 16, 'X_0 has no lower bound'],
  ];
  it.each(CASES)('%s', (_name, text, line, column, problem) => {
    const e = errorOf(() => parseVnnlib(text, 'bad.vnnlib'));
    expect({ file: e.file, line: e.line, column: e.column }).toEqual({ file: 'bad.vnnlib', line, column });
    expect(e.problem).toContain(problem);
    expect(e.message.startsWith(`bad.vnnlib:${line}:${column}: `)).toBe(true);
  });

  it('an input unbounded in one input region of a disjunction is reported', () => {
    const text = `${HEADER}(assert (or (and (>= X_0 0) (<= X_0 1) (>= X_1 0) (<= X_1 1)) (and (>= X_0 0) (<= X_0 1) (>= X_1 0))))`;
    const e = errorOf(() => parseVnnlib(text, 'half.vnnlib'));
    expect(e.problem).toContain('X_1 has no upper bound in one of the input regions');
  });
});

describe('parseVnnlib round trip', () => {
  /** Doubles that print and read back exactly; -0 is folded to 0 (both print as "0"). */
  const num = fc.double({ min: -1e6, max: 1e6, noNaN: true }).map((v) => v + 0);
  const nonZeroRow = (n: number) =>
    fc.array(num, { minLength: n, maxLength: n }).filter((a) => a.some((v) => v !== 0));

  const property = fc
    .record({ nIn: fc.integer({ min: 1, max: 4 }), nOut: fc.integer({ min: 1, max: 4 }) })
    .chain(({ nIn, nOut }) => {
      const box = fc
        .array(fc.tuple(num, num), { minLength: nIn, maxLength: nIn })
        .map((pairs) => ({ lo: Float64Array.from(pairs, ([a, b]) => Math.min(a, b)), hi: Float64Array.from(pairs, ([a, b]) => Math.max(a, b)) }));
      // rows over inputs need two or more non-zero coefficients, or they would read back as bounds
      const inputRow = fc
        .record({ a: fc.array(num, { minLength: nIn, maxLength: nIn }), b: num })
        .filter((r) => r.a.filter((v) => v !== 0).length >= 2)
        .map((r) => ({ a: Float64Array.from(r.a), b: r.b }));
      const term = fc.record({ a: nonZeroRow(nOut), b: num }).map((t) => ({ a: Float64Array.from(t.a), b: t.b }));
      const disjunct = fc.array(term, { minLength: 0, maxLength: 3 }).map((terms) => ({ terms }));
      const pcase = fc.record({
        box,
        inputConstraints: nIn >= 2 ? fc.array(inputRow, { maxLength: 2 }) : fc.constant([]),
        unsafe: fc.array(disjunct, { minLength: 1, maxLength: 3 }),
      });
      return fc.array(pcase, { minLength: 1, maxLength: 3 }).map(
        (cases): Property => ({
          file: 'random.vnnlib',
          nIn,
          nOut,
          cases,
          declarations: { inputs: [], outputs: [] },
        }),
      );
    })
    // cases with equal input regions would merge on reading
    .filter((p) => new Set(p.cases.map((c) => `${c.box.lo}|${c.box.hi}|${c.inputConstraints.map((r) => `${r.a}<=${r.b}`)}`)).size === p.cases.length);

  it('a random property printed to VNN-LIB reads back to the same cases, boxes, rows and disjuncts', () => {
    fc.assert(
      fc.property(property, (p) => {
        const back = parseVnnlib(formatVnnlib(p), p.file);
        expect(back.nIn).toBe(p.nIn);
        expect(back.nOut).toBe(p.nOut);
        expect(back.cases).toEqual(p.cases);
      }),
      { numRuns: 300 },
    );
  });
});
