import { InvalidOptionError } from '@nnmax/core';
import { describe, expect, it } from 'vitest';
import { parseFixed } from './parse-args.js';

describe('parseFixed (--fix)', () => {
  it('reads indices plain or as input names, and rejects anything else with the entry named', () => {
    expect([...parseFixed('0=1.5, x3=-2,X_4=1e-3')]).toEqual([
      [0, 1.5],
      [3, -2],
      [4, 1e-3],
    ]);
    expect(() => parseFixed('1=0.5,y2=1')).toThrow(InvalidOptionError);
    expect(() => parseFixed('1=0.5,y2=1')).toThrow(/--fix entry 1 'y2=1'/);
    expect(() => parseFixed('x1=NaN')).toThrow(/--fix entry 0/);
    expect(() => parseFixed('x=1')).toThrow(/--fix entry 0/);
  });
});
