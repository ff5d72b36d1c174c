import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { VnnlibParseError } from '@nnmax/core';
import { describe, expect, it } from 'vitest';
import { BENCHMARKS } from '../../../../test/helpers/corpus.js';
import { parseVnnlib } from './parse-vnnlib.js';
import { validateProperty } from './validate-property.js';

function errorOf(fn: () => unknown): VnnlibParseError {
  try {
    fn();
  } catch (e) {
    if (e instanceof VnnlibParseError) return e;
    throw e;
  }
  throw new Error('expected a VnnlibParseError');
}

describe('validateProperty', () => {
  const p = parseVnnlib(readFileSync(join(BENCHMARKS, 'acasxu/prop_1.vnnlib'), 'utf8'), 'prop_1.vnnlib');

  it('accepts the model it was written for (5 inputs, 5 outputs)', () => {
    expect(() => validateProperty(p, 5, 5)).not.toThrow();
  });

  it('names the first input the model lacks, at its declaration', () => {
    const e = errorOf(() => validateProperty(p, 3, 5));
    expect(e).toMatchObject({ file: 'prop_1.vnnlib', line: 6, column: 16 });
    expect(e.problem).toContain('X_3 is not a variable of the model');
  });

  it('names the first output the model lacks', () => {
    const e = errorOf(() => validateProperty(p, 5, 1));
    expect(e.problem).toContain('Y_1 is not a variable of the model');
    expect(e.line).toBe(10);
  });

  it('names the first model input the property does not declare', () => {
    const e = errorOf(() => validateProperty(p, 784, 5));
    expect(e.problem).toContain('X_5 is missing');
    expect(e.line).toBe(7); // the last input declaration
  });
});
