import { InvalidOptionError, ShapeError } from '@nnmax/core';
import { describe, expect, it } from 'vitest';
import { formatVnncompResult } from './result-format.js';

/** The VNN-COMP scorer's reading (vnncomp2022_results SCORING/counterexamples.py), re-done here. */
function readLikeScorer(text: string): { x: number[]; y: number[] } {
  const content = text.replace(/\n/g, ' ').trim();
  if (content[0] !== '(' || content[content.length - 1] !== ')') throw new Error('not wrapped in parentheses');
  const x: number[] = [];
  const y: number[] = [];
  for (let part of content.slice(1, -1).split(')')) {
    part = part.trim();
    if (part === '') continue;
    if (part[0] !== '(') throw new Error(`bad term ${part}`);
    const [name, num, ...rest] = part.slice(1).split(' ');
    if (rest.length > 0) throw new Error(`bad term ${part}`);
    const list = name.startsWith('X_') ? x : name.startsWith('Y_') ? y : undefined;
    if (list === undefined || Number(name.slice(2)) !== list.length) throw new Error(`bad name ${name}`);
    list.push(Number(num));
  }
  return { x, y };
}

describe('formatVnncompResult', () => {
  it.each(['unsat', 'timeout', 'unknown'] as const)('%s is one line', (status) => {
    expect(formatVnncompResult(status)).toBe(`${status}\n`);
  });

  it('sat is followed by ((X_0 v) ... (Y_0 v) ...) with one term a line', () => {
    expect(formatVnncompResult('sat', [0.1, -0.25], [3.5])).toBe('sat\n((X_0 0.1)\n (X_1 -0.25)\n (Y_0 3.5))\n');
  });

  it('the counterexample reads back exactly, the way the VNN-COMP scorer splits it', () => {
    const x = [0.1, -1 / 3, 1e-12, -2.5e21, 0];
    const y = [Math.PI, -7];
    const text = formatVnncompResult('sat', x, y);
    const [first, ...rest] = text.split('\n');
    expect(first).toBe('sat');
    expect(readLikeScorer(rest.join('\n'))).toEqual({ x, y });
  });

  it('rejects sat without a counterexample, a counterexample without sat, non-finite values and unknown statuses', () => {
    expect(() => formatVnncompResult('sat')).toThrow(ShapeError);
    expect(() => formatVnncompResult('sat', [1], [])).toThrow(ShapeError);
    expect(() => formatVnncompResult('unsat', [1], [1])).toThrow(InvalidOptionError);
    expect(() => formatVnncompResult('sat', [NaN], [1])).toThrow(InvalidOptionError);
    expect(() => formatVnncompResult('holds' as never)).toThrow(InvalidOptionError);
  });
});
