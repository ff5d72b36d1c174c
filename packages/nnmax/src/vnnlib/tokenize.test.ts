import { VnnlibParseError } from '@nnmax/core';
import { describe, expect, it } from 'vitest';
import { readSexprs } from './read-sexpr.js';
import { tokenize } from './tokenize.js';

function errorOf(fn: () => unknown): VnnlibParseError {
  try {
    fn();
  } catch (e) {
    if (e instanceof VnnlibParseError) return e;
    throw e;
  }
  throw new Error('expected a VnnlibParseError');
}

describe('tokenize', () => {
  it('splits parentheses, symbols and numbers with 1-based line and column, skipping comments', () => {
    const toks = tokenize('; header\n(assert (<= X_0 -1.5e-3)) ; trailing\n  )', 'p.vnnlib');
    expect(toks.map((t) => [t.kind, t.text, t.line, t.column])).toEqual([
      ['lparen', '(', 2, 1],
      ['symbol', 'assert', 2, 2],
      ['lparen', '(', 2, 9],
      ['symbol', '<=', 2, 10],
      ['symbol', 'X_0', 2, 13],
      ['number', '-1.5e-3', 2, 17],
      ['rparen', ')', 2, 24],
      ['rparen', ')', 2, 25],
      ['rparen', ')', 3, 3],
    ]);
  });

  it.each(['0', '-1', '+2', '3.', '.5', '-.5', '1e5', '1E-05', '-2.5e+3', '0.000'])('reads %s as a number', (text) => {
    const [tok] = tokenize(text, 'p');
    expect(tok.kind).toBe('number');
    expect(Number(tok.text)).toBe(Number(text));
  });

  it.each(['-', '+', '<=', 'X_12', 'and', 'declare-const'])('reads %s as a symbol', (text) => {
    expect(tokenize(text, 'p')[0].kind).toBe('symbol');
  });

  it.each([
    ['(assert (<= X_0 1.2.3))', 17],
    ['(assert (<= X_0 1e))', 17],
    ['(assert (<= X_0 -3x))', 17],
  ])('rejects the bad number in %s at its column', (text, column) => {
    const e = errorOf(() => tokenize(text, 'bad.vnnlib'));
    expect(e).toMatchObject({ file: 'bad.vnnlib', line: 1, column });
    expect(e.problem).toContain('bad number');
  });

  it('rejects quoted symbols and strings', () => {
    expect(errorOf(() => tokenize('(declare-const |x y| Real)', 'q')).column).toBe(16);
    expect(errorOf(() => tokenize('\n (set-info "a")', 'q'))).toMatchObject({ line: 2, column: 12 });
  });
});

describe('readSexprs', () => {
  it('nests lists and keeps the position of each opening parenthesis', () => {
    const [cmd] = readSexprs(tokenize('(a (b 1)\n (c))', 'p'), 'p');
    expect(cmd).toMatchObject({ kind: 'list', line: 1, column: 1 });
    if (cmd.kind !== 'list') throw new Error('list expected');
    expect(cmd.items.map((i) => i.kind)).toEqual(['symbol', 'list', 'list']);
    expect(cmd.items[2]).toMatchObject({ line: 2, column: 2 });
  });

  it("reports an unclosed '(' where it opens and a stray ')' where it stands", () => {
    expect(errorOf(() => readSexprs(tokenize('(a)\n(b (c)', 'u'), 'u'))).toMatchObject({ line: 2, column: 1 });
    expect(errorOf(() => readSexprs(tokenize('(a))', 'u'), 'u'))).toMatchObject({ line: 1, column: 4 });
  });

  it('rejects a bare atom at top level', () => {
    expect(errorOf(() => readSexprs(tokenize('(a)\nassert', 'u'), 'u'))).toMatchObject({ line: 2, column: 1 });
  });
});
