import { VnnlibParseError } from '@nnmax/core';

/** A lexical token of the SMT-LIB subset used by VNN-LIB, with its 1-based position. */
export interface Token {
  readonly kind: 'lparen' | 'rparen' | 'symbol' | 'number';
  readonly text: string;
  readonly line: number;
  readonly column: number;
}

/** Decimal literals as VNN-LIB files write them: `3`, `-0.5`, `.25`, `1e-5`, `+2.5E+3`. */
const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
/** A token that starts like a number must be one (`1.2.3`, `1e`, `-3x` are bad numbers). */
const NUMBER_START = /^(?:[+-]?[0-9.])/;

/**
 * Splits VNN-LIB text into parentheses, symbols and numbers. Comments run from `;` to the end of
 * the line. Quoted symbols (`|...|`) and string literals are not part of VNN-LIB and are rejected.
 */
export function tokenize(text: string, file: string): Token[] {
  const tokens: Token[] = [];
  let line = 1;
  let column = 1;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const ch = text[i];
    if (ch === '\n') {
      line++;
      column = 1;
      i++;
      continue;
    }
    if (ch === ' ' || ch === '\t' || ch === '\r' || ch === '\f' || ch === '\v') {
      column++;
      i++;
      continue;
    }
    if (ch === ';') {
      while (i < n && text[i] !== '\n') i++;
      continue;
    }
    if (ch === '(' || ch === ')') {
      tokens.push({ kind: ch === '(' ? 'lparen' : 'rparen', text: ch, line, column });
      column++;
      i++;
      continue;
    }
    if (ch === '|' || ch === '"') {
      throw new VnnlibParseError(
        file,
        line,
        column,
        `${ch === '|' ? 'quoted symbols (|...|)' : 'string literals'} are not supported; VNN-LIB uses plain names such as X_0 and Y_0`,
      );
    }
    const start = i;
    while (i < n && !isDelimiter(text[i])) i++;
    const word = text.slice(start, i);
    if (NUMBER_START.test(word)) {
      if (!NUMBER.test(word)) {
        throw new VnnlibParseError(file, line, column, `bad number '${word}'; expected a decimal such as 0.5, -2 or 1e-3`);
      }
      tokens.push({ kind: 'number', text: word, line, column });
    } else {
      tokens.push({ kind: 'symbol', text: word, line, column });
    }
    column += word.length;
  }
  return tokens;
}

function isDelimiter(ch: string): boolean {
  return ch === '(' || ch === ')' || ch === ';' || ch === ' ' || ch === '\n' || ch === '\t' || ch === '\r' || ch === '\f' || ch === '\v' || ch === '|' || ch === '"';
}
