import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { InvalidOptionError, Rng, ShapeError } from '@nnmax/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { domainFromBox, isFeasible, normalizeDomain, parseDomain, repairToDomain, type Domain } from './parse-domain.js';

function optionErrorOf(fn: () => unknown): InvalidOptionError {
  try {
    fn();
  } catch (e) {
    if (e instanceof InvalidOptionError) return e;
    throw e;
  }
  throw new Error('expected an InvalidOptionError');
}

describe('parseDomain', () => {
  it('reads "box" as [[lo, hi], ...]', () => {
    const d = parseDomain('{"box": [[-1, 1], [0, 2.5]]}', 2);
    expect(Array.from(d.box.lo)).toEqual([-1, 0]);
    expect(Array.from(d.box.hi)).toEqual([1, 2.5]);
    expect(d.fixed.size).toBe(0);
    expect(d.linear.b).toHaveLength(0);
    expect(d.integer).toEqual([]);
    expect(d.oneHot).toEqual([]);
  });

  it('reads per-input entries with names, fixed values and integer flags', () => {
    const d = parseDomain(
      JSON.stringify({
        description: 'loan model',
        inputs: [{ name: 'age', lo: 18.5, hi: 70.2, integer: true }, { name: 'rate', fixed: 0.25 }, { lo: -1, hi: 1, fixed: 0.5 }],
      }),
      3,
    );
    expect(Array.from(d.box.lo)).toEqual([19, 0.25, 0.5]);
    expect(Array.from(d.box.hi)).toEqual([70, 0.25, 0.5]);
    expect([...d.fixed]).toEqual([
      [1, 0.25],
      [2, 0.5],
    ]);
    expect(d.integer).toEqual([0]);
  });

  it('reads top-level fixed, integer, oneHot and linear rows (dense, sparse, >=)', () => {
    const d = parseDomain(
      JSON.stringify({
        box: [[0, 10], [0, 10], [0, 1], [-0.5, 1.5], [0, 1], [-3, 3]],
        fixed: { '5': -2 },
        integer: [1, 0],
        oneHot: [[4, 2, 3]],
        linear: [{ a: [1, 1, 0, 0, 0, 0], b: 12 }, { a: { '0': 1, '1': -2 }, b: -1, sense: '>=' }],
      }),
      6,
    );
    expect([...d.fixed]).toEqual([[5, -2]]);
    expect(d.integer).toEqual([0, 1]);
    expect(d.oneHot).toEqual([[2, 3, 4]]);
    expect(Array.from(d.box.lo)).toEqual([0, 0, 0, 0, 0, -2]);
    expect(Array.from(d.box.hi)).toEqual([10, 10, 1, 1, 1, -2]);
    expect(Array.from(d.linear.A)).toEqual([1, 1, 0, 0, 0, 0, -1, 2, 0, 0, 0, 0]);
    expect(Array.from(d.linear.b)).toEqual([12, 1]);
  });

  it('one-hot members may be fixed to 0 or 1', () => {
    const d = parseDomain('{"box": [[0,1],[0,1],[0,1]], "oneHot": [[0,1,2]], "fixed": {"1": 0}}', 3);
    expect(d.oneHot).toEqual([[0, 1, 2]]);
    expect(Array.from(d.box.hi)).toEqual([1, 0, 1]);
  });

  // [name, json, nIn, option path, value]
  const ERRORS: [string, string, number, string, unknown][] = [
    ['invalid JSON', '{"box": [[0, 1]', 1, 'domain', undefined],
    ['not an object', '[1, 2]', 2, 'domain', [1, 2]],
    ['unknown field', '{"box": [[0,1]], "bounds": 3}', 1, 'domain.bounds', 3],
    ['both box and inputs', '{"box": [[0,1]], "inputs": [{"lo":0,"hi":1}]}', 1, 'domain', 'both box and inputs'],
    ['neither box nor inputs', '{"fixed": {"0": 1}}', 1, 'domain', 'neither box nor inputs'],
    ['box of the wrong length', '{"box": [[0,1]]}', 2, 'domain.box', '1 entries'],
    ['box pair of the wrong length', '{"box": [[0,1,2]]}', 1, 'domain.box[0]', '3 entries'],
    ['box bound not a number', '{"box": [[0,"1"]]}', 1, 'domain.box[0][1]', '1'],
    ['box lo > hi', '{"box": [[2,1]]}', 1, 'domain.box[0]', [2, 1]],
    ['input entry without hi', '{"inputs": [{"lo": 0}]}', 1, 'domain.inputs[0]', { lo: 0 }],
    ['unknown input field', '{"inputs": [{"lo": 0, "hi": 1, "step": 2}]}', 1, 'domain.inputs[0].step', 2],
    ['integer flag not boolean', '{"inputs": [{"lo": 0, "hi": 1, "integer": 1}]}', 1, 'domain.inputs[0].integer', 1],
    ['fixed outside the bounds', '{"box": [[0,1]], "fixed": {"0": 2}}', 1, 'domain.fixed.0', 2],
    ['fixed key not an index', '{"box": [[0,1]], "fixed": {"x0": 0.5}}', 1, 'domain.fixed.x0', 'x0'],
    ['fixed index out of range', '{"box": [[0,1]], "fixed": {"1": 0.5}}', 1, 'domain.fixed.1', '1'],
    ['fixed twice with different values', '{"inputs": [{"fixed": 0.5}], "fixed": {"0": 0.25}}', 1, 'domain.fixed.0', 0.25],
    ['integer index out of range', '{"box": [[0,1]], "integer": [3]}', 1, 'domain.integer[0]', 3],
    ['integer input with no integer in its bounds', '{"box": [[0.2,0.8]], "integer": [0]}', 1, 'domain input 0', '0.2:0.8'],
    ['fixed non-integer value of an integer input', '{"box": [[0,1]], "fixed": {"0": 0.5}, "integer": [0]}', 1, 'domain input 0', 0.5],
    ['one-hot group of one', '{"box": [[0,1]], "oneHot": [[0]]}', 1, 'domain.oneHot[0]', [0]],
    ['one-hot groups sharing an input', '{"box": [[0,1],[0,1],[0,1]], "oneHot": [[0,1],[1,2]]}', 3, 'domain.oneHot[1]', [1, 2]],
    ['one-hot member whose bounds exclude 1', '{"box": [[0,1],[0,0.5]], "oneHot": [[0,1]]}', 2, 'domain input 1', '0:0.5'],
    ['one-hot member fixed to 0.5', '{"box": [[0,1],[0,1]], "oneHot": [[0,1]], "fixed": {"0": 0.5}}', 2, 'domain input 0', 0.5],
    ['one-hot group with two members fixed to 1', '{"box": [[0,1],[0,1]], "oneHot": [[0,1]], "fixed": {"0": 1, "1": 1}}', 2, 'domain.oneHot[0]', [0, 1]],
    ['one-hot group with all members fixed to 0', '{"box": [[0,1],[0,1]], "oneHot": [[0,1]], "fixed": {"0": 0, "1": 0}}', 2, 'domain.oneHot[0]', [0, 1]],
    ['linear row of zeros', '{"box": [[0,1],[0,1]], "linear": [{"a": [0, 0], "b": 1}]}', 2, 'domain.linear[0].a', [0, 0]],
    ['linear row of the wrong length', '{"box": [[0,1],[0,1]], "linear": [{"a": [1], "b": 1}]}', 2, 'domain.linear[0].a', '1 entries'],
    ['linear coefficient not a number', '{"box": [[0,1],[0,1]], "linear": [{"a": [1, null], "b": 1}]}', 2, 'domain.linear[0].a[1]', null],
    ['linear sparse key out of range', '{"box": [[0,1],[0,1]], "linear": [{"a": {"2": 1}, "b": 1}]}', 2, 'domain.linear[0].a.2', '2'],
    ['linear rhs missing', '{"box": [[0,1],[0,1]], "linear": [{"a": [1, 1]}]}', 2, 'domain.linear[0].b', undefined],
    ['linear equality', '{"box": [[0,1],[0,1]], "linear": [{"a": [1, 1], "b": 1, "sense": "="}]}', 2, 'domain.linear[0].sense', '='],
    ['unknown linear field', '{"box": [[0,1],[0,1]], "linear": [{"a": [1, 1], "b": 1, "c": 0}]}', 2, 'domain.linear[0].c', 0],
  ];
  it.each(ERRORS)('%s: InvalidOptionError names the field and the value', (_name, json, nIn, option, value) => {
    const e = optionErrorOf(() => parseDomain(json, nIn));
    expect(e.option).toBe(option);
    if (value !== undefined) expect(e.value).toEqual(value);
    expect(e.message).toContain(`invalid ${option}`);
  });

  it('invalid JSON carries the parser message', () => {
    const e = optionErrorOf(() => parseDomain('{"box": [[0, 1]', 1, 'dom.json'));
    expect(e.option).toBe('dom.json');
    expect(String(e.value).length).toBeGreaterThan(0);
  });

  it('normalizeDomain accepts an already parsed object', () => {
    const d = normalizeDomain({ box: [[0, 1]] }, 1);
    expect(Array.from(d.box.hi)).toEqual([1]);
  });
});

describe('isFeasible', () => {
  const d = parseDomain(
    JSON.stringify({
      box: [[0, 10], [0, 10], [0, 1], [0, 1], [-3, 3]],
      fixed: { '4': 1.5 },
      integer: [0],
      oneHot: [[2, 3]],
      linear: [{ a: [1, 1, 0, 0, 0], b: 12 }],
    }),
    5,
  );

  it('accepts a point that meets every constraint', () => {
    expect(isFeasible(d, [3, 8.5, 0, 1, 1.5])).toBe(true);
  });

  it.each([
    ['outside the box', [11, 0, 0, 1, 1.5]],
    ['fixed input moved', [3, 8.5, 0, 1, 1.4]],
    ['integer input fractional', [3.5, 8, 0, 1, 1.5]],
    ['one-hot group with two ones', [3, 8, 1, 1, 1.5]],
    ['one-hot group with no one', [3, 8, 0, 0, 1.5]],
    ['one-hot member fractional', [3, 8, 0.5, 0.5, 1.5]],
    ['linear row broken', [4, 8.5, 0, 1, 1.5]],
    ['NaN entry', [3, NaN, 0, 1, 1.5]],
  ])('rejects a point with %s', (_name, x) => {
    expect(isFeasible(d, x)).toBe(false);
  });

  it('a tolerance forgives small violations', () => {
    expect(isFeasible(d, [3, 9.0000001, 0, 1, 1.5])).toBe(false);
    expect(isFeasible(d, [3, 9.0000001, 0, 1, 1.5], 1e-6)).toBe(true);
  });

  it('rejects a point of the wrong length', () => {
    expect(() => isFeasible(d, [1, 2])).toThrow(ShapeError);
  });
});

describe('repairToDomain', () => {
  it('clamps, fixes, rounds integers and sets one-hot groups to their largest member', () => {
    const d = parseDomain(
      JSON.stringify({ box: [[0, 10], [0, 1], [0, 1], [0, 1], [-3, 3], [-1, 1]], fixed: { '4': 1.5 }, integer: [0], oneHot: [[1, 2, 3]] }),
      6,
    );
    expect(Array.from(repairToDomain(d, [12.7, 0.2, 0.7, 0.4, 0, -5]) ?? [])).toEqual([10, 0, 1, 0, 1.5, -1]);
    expect(Array.from(repairToDomain(d, [3.4, NaN, 0.1, 0.05, 0, NaN]) ?? [])).toEqual([3, 1, 0, 0, 1.5, 0]);
  });

  it('a one-hot member fixed to 1 wins; members fixed to 0 are never chosen', () => {
    const one = parseDomain('{"box": [[0,1],[0,1],[0,1]], "oneHot": [[0,1,2]], "fixed": {"2": 1}}', 3);
    expect(Array.from(repairToDomain(one, [0.9, 0.8, 0]) ?? [])).toEqual([0, 0, 1]);
    const zero = parseDomain('{"box": [[0,1],[0,1],[0,1]], "oneHot": [[0,1,2]], "fixed": {"0": 0}}', 3);
    expect(Array.from(repairToDomain(zero, [0.9, 0.3, 0.4]) ?? [])).toEqual([0, 0, 1]);
  });

  it('returns a feasible point unchanged', () => {
    const d = parseDomain('{"box": [[0,1],[0,1]], "linear": [{"a": [1, 1], "b": 1}]}', 2);
    const x = [0.25, 0.5];
    expect(Array.from(repairToDomain(d, x) ?? [])).toEqual(x);
  });

  it('projects onto a single halfspace like the closed form x - (a.x - b)/|a|^2 a (box inactive)', () => {
    const d = parseDomain('{"box": [[-10,10],[-10,10],[-10,10]], "linear": [{"a": [1, 2, -1], "b": 1}]}', 3);
    const x = [1, 1, 0];
    const r = repairToDomain(d, x);
    expect(r).not.toBeNull();
    const excess = 1 + 2 - 0 - 1;
    const expected = [1 - excess / 6, 1 - (2 * excess) / 6, 0 + excess / 6];
    for (let i = 0; i < 3; i++) expect(Math.abs((r as Float64Array)[i] - expected[i])).toBeLessThan(1e-6);
    expect(isFeasible(d, r as Float64Array, 0)).toBe(true);
  });

  it('moves only continuous free inputs; discrete and fixed inputs keep their repaired values', () => {
    const d = parseDomain(
      '{"box": [[0,5],[0,5],[0,1],[0,1]], "integer": [0], "oneHot": [[2,3]], "linear": [{"a": [1, 1, 1, 0], "b": 4}]}',
      4,
    );
    const r = repairToDomain(d, [2.6, 3, 0.8, 0.1]);
    expect(r).not.toBeNull();
    const x = r as Float64Array;
    expect([x[0], x[2], x[3]]).toEqual([3, 1, 0]);
    expect(x[1]).toBeLessThanOrEqual(0);
    expect(isFeasible(d, x)).toBe(true);
  });

  it('returns null when no point meets the rows, or only discrete inputs could', () => {
    const empty = parseDomain('{"box": [[0,1],[0,1]], "linear": [{"a": [1, 1], "b": -1}]}', 2);
    expect(repairToDomain(empty, [0.5, 0.5])).toBeNull();
    const discrete = parseDomain('{"box": [[0,3],[0,1]], "integer": [0, 1], "linear": [{"a": [1, 1], "b": 0.5}]}', 2);
    expect(repairToDomain(discrete, [2, 1])).toBeNull();
  });

  it('domainFromBox: repair is a clamp', () => {
    const d = domainFromBox({ lo: Float64Array.from([0, -1]), hi: Float64Array.from([1, 1]) });
    expect(Array.from(repairToDomain(d, [2, -3]) ?? [])).toEqual([1, -1]);
  });

  it('rejects a point of the wrong length', () => {
    expect(() => repairToDomain(domainFromBox({ lo: new Float64Array(2), hi: new Float64Array(2) }), [1])).toThrow(ShapeError);
  });

  /** A random polytope around a known interior point x0: every row has b = a.x0 + slack. */
  const polytope = fc
    .record({
      n: fc.integer({ min: 1, max: 6 }),
      m: fc.integer({ min: 1, max: 5 }),
      seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
    })
    .map(({ n, m, seed }): { d: Domain; rng: Rng } => {
      const rng = new Rng(seed);
      const box = Array.from({ length: n }, () => {
        const a = rng.uniform(-5, 5);
        return [a, a + rng.uniform(0.1, 5)];
      });
      const x0 = box.map(([lo, hi]) => rng.uniform(lo, hi));
      const linear = Array.from({ length: m }, () => {
        const a = Array.from({ length: n }, () => rng.normal());
        const b = a.reduce((s, v, i) => s + v * x0[i], 0) + rng.uniform(0.01, 1);
        return { a, b };
      });
      return { d: normalizeDomain({ box, linear }, n), rng };
    });

  const repairsExactly = fc.property(polytope, ({ d, rng }) => {
        const n = d.box.lo.length;
        for (let s = 0; s < 5; s++) {
          const x = Float64Array.from({ length: n }, (_, i) => rng.uniform(d.box.lo[i] - 2, d.box.hi[i] + 2));
          const r = repairToDomain(d, x);
          expect(r).not.toBeNull();
          expect(isFeasible(d, r as Float64Array, 0)).toBe(true);
          // repairing a repaired point changes nothing
          expect(Array.from(repairToDomain(d, r as Float64Array) ?? [])).toEqual(Array.from(r as Float64Array));
        }
      });

  it('repairs random points into random polytopes that have an interior point, exactly (tol = 0)', () => {
    fc.assert(repairsExactly, { numRuns: 200 });
  });

  it('regression: a thin corner where Dykstra alone stalls short of the polytope still repairs', () => {
    // fast-check counterexample found in CI (seed 1362192170, path 32:35): 6 inputs, 5 rows
    fc.assert(repairsExactly, { seed: 1362192170, path: '32:35', endOnFailure: true });
  });
});

describe('docs/domain-format.md', () => {
  const doc = readFileSync(fileURLToPath(new URL('../../../../docs/domain-format.md', import.meta.url)), 'utf8');

  it('the example file parses, and a repaired point of it is feasible', () => {
    const json = /```json\n([\s\S]*?)```/.exec(doc)?.[1];
    expect(json).toBeDefined();
    const d = parseDomain(json as string, 6);
    expect(d.oneHot).toEqual([[2, 3, 4]]);
    expect([...d.fixed]).toEqual([[5, 0.35]]);
    const r = repairToDomain(d, [40.4, 120, 0.2, 0.9, 0.1, 0]);
    expect(r).not.toBeNull();
    expect(isFeasible(d, r as Float64Array)).toBe(true);
  });

  it('the example error messages are the ones the parser gives', () => {
    const messages = [
      optionErrorOf(() => parseDomain('{"box": [[0,1],[0,1],[0,1],[0,1]], "linear": [{"a": [1, 0, 0, 0], "b": 0}, {"a": [1, 1, 1, null], "b": 0}]}', 4)),
      optionErrorOf(() => parseDomain('{"box": [[0,1],[0,1],[0,1],[0,1]]}', 6)),
      optionErrorOf(() => parseDomain('{"box": [[0,1],[0,1],[0,1]], "oneHot": [[0,1],[1,2]]}', 3)),
      optionErrorOf(() => parseDomain('{"box": [[0.2,0.8]], "integer": [0]}', 1)),
    ].map((e) => e.message);
    for (const m of messages) expect(doc).toContain(m);
  });
});
