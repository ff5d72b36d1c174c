import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidOptionError, ShapeError } from '@nnmax/core';
import { describe, expect, it } from 'vitest';
import { BENCHMARKS } from '../../../../test/helpers/corpus.js';
import { checkCounterexample } from './check-counterexample.js';
import { parseVnnlib } from './parse-vnnlib.js';

function parse(rel: string) {
  return parseVnnlib(readFileSync(join(BENCHMARKS, rel), 'utf8'), rel);
}

describe('checkCounterexample', () => {
  const prop1 = parse('acasxu/prop_1.vnnlib');
  const inside = [0.65, 0, 0, 0.47, -0.47];

  it('accepts x in the box with y in the unsafe region (Y_0 >= 3.9911...)', () => {
    expect(checkCounterexample(prop1, inside, [4, 0, 0, 0, 0])).toMatchObject({ isValid: true, caseIndex: 0, disjunctIndex: 0 });
  });

  it('rejects y outside the unsafe region, beyond the tolerance', () => {
    const r = checkCounterexample(prop1, inside, [3.99, 0, 0, 0, 0]);
    expect(r.isValid).toBe(false);
    expect(r.reason).toContain('none of its 1 unsafe disjuncts');
  });

  it('allows the VNN-COMP slack of 1e-4 on outputs and inputs, and no more', () => {
    const b = 3.991125645861615;
    expect(checkCounterexample(prop1, inside, [b - 0.9e-4, 0, 0, 0, 0]).isValid).toBe(true);
    expect(checkCounterexample(prop1, inside, [b - 1.1e-4, 0, 0, 0, 0]).isValid).toBe(false);
    expect(checkCounterexample(prop1, [0.6 - 0.9e-4, 0, 0, 0.47, -0.47], [4, 0, 0, 0, 0]).isValid).toBe(true);
    const out = checkCounterexample(prop1, [0.6 - 1.1e-4, 0, 0, 0.47, -0.47], [4, 0, 0, 0, 0]);
    expect(out.isValid).toBe(false);
    expect(out.reason).toContain('X_0');
    expect(checkCounterexample(prop1, inside, [b - 0.9e-4, 0, 0, 0, 0], 0).isValid).toBe(false);
  });

  it('acasxu/prop_6: x must lie in one of the two input boxes, and y must match that case', () => {
    const p6 = parse('acasxu/prop_6.vnnlib');
    const y = [0, 1, 1, -1, 1]; // y3 <= y0: disjunct 2
    expect(checkCounterexample(p6, [0, -0.3, -0.4995, 0, 0], y)).toMatchObject({ isValid: true, caseIndex: 1, disjunctIndex: 2 });
    expect(checkCounterexample(p6, [0, 0, -0.4995, 0, 0], y).isValid).toBe(false); // X_1 = 0 is in neither box
  });

  it('checks input constraints beyond the box', () => {
    const p = parseVnnlib(
      '(declare-const X_0 Real)(declare-const X_1 Real)(declare-const Y_0 Real)(assert (>= X_0 0))(assert (<= X_0 1))(assert (>= X_1 0))(assert (<= X_1 1))(assert (<= (+ X_0 X_1) 1))(assert (>= Y_0 0))',
      'rows',
    );
    expect(checkCounterexample(p, [0.5, 0.5], [1]).isValid).toBe(true);
    expect(checkCounterexample(p, [0.6, 0.6], [1]).isValid).toBe(false);
  });

  it('never accepts NaN or infinite values, and rejects wrong lengths and a negative tolerance', () => {
    expect(checkCounterexample(prop1, inside, [NaN, 0, 0, 0, 0]).isValid).toBe(false);
    expect(checkCounterexample(prop1, [Infinity, 0, 0, 0.47, -0.47], [4, 0, 0, 0, 0]).isValid).toBe(false);
    expect(() => checkCounterexample(prop1, [0, 0], [4, 0, 0, 0, 0])).toThrow(ShapeError);
    expect(() => checkCounterexample(prop1, inside, [4])).toThrow(ShapeError);
    expect(() => checkCounterexample(prop1, inside, [4, 0, 0, 0, 0], -1)).toThrow(InvalidOptionError);
  });
});
