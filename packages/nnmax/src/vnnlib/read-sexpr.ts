import { VnnlibParseError } from '@nnmax/core';
import type { Token } from './tokenize.js';

interface AtomBase {
  readonly text: string;
  readonly line: number;
  readonly column: number;
}

export interface SSymbol extends AtomBase {
  readonly kind: 'symbol';
}

export interface SNumber extends AtomBase {
  readonly kind: 'number';
}

/** A symbol or number token. */
export type SAtom = SSymbol | SNumber;

/** A parenthesised list; `line`/`column` locate its opening parenthesis. */
export interface SList {
  readonly kind: 'list';
  readonly items: readonly SExpr[];
  readonly line: number;
  readonly column: number;
}

export type SExpr = SAtom | SList;

/**
 * Reads the top-level S-expressions of a token stream. An unclosed `(` is reported where it
 * opens; a stray `)` where it stands.
 */
export function readSexprs(tokens: readonly Token[], file: string): SExpr[] {
  const top: SExpr[] = [];
  // Explicit stack instead of recursion: properties with thousands of asserts stay shallow, but a
  // generated file may nest deeply.
  const stack: { items: SExpr[]; open: Token }[] = [];
  for (const tok of tokens) {
    if (tok.kind === 'lparen') {
      stack.push({ items: [], open: tok });
    } else if (tok.kind === 'rparen') {
      const frame = stack.pop();
      if (frame === undefined) {
        throw new VnnlibParseError(file, tok.line, tok.column, "unbalanced ')': no matching '('");
      }
      const list: SList = { kind: 'list', items: frame.items, line: frame.open.line, column: frame.open.column };
      (stack.length > 0 ? stack[stack.length - 1].items : top).push(list);
    } else {
      const base = { text: tok.text, line: tok.line, column: tok.column };
      const atom: SAtom = tok.kind === 'number' ? { kind: 'number', ...base } : { kind: 'symbol', ...base };
      if (stack.length === 0) {
        throw new VnnlibParseError(file, tok.line, tok.column, `unexpected '${tok.text}' outside a command; commands look like (declare-const X_0 Real) or (assert ...)`);
      }
      stack[stack.length - 1].items.push(atom);
    }
  }
  if (stack.length > 0) {
    const open = stack[stack.length - 1].open;
    throw new VnnlibParseError(file, open.line, open.column, "unbalanced '(': not closed before the end of the file");
  }
  return top;
}
