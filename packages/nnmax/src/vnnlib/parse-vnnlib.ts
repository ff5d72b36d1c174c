import { invariant, VnnlibParseError } from '@nnmax/core';
import type { Disjunct, LinearConstraint, Property, PropertyCase, SourceLocation } from './property.js';
import { readSexprs, type SExpr, type SList, type SNumber } from './read-sexpr.js';
import { tokenize } from './tokenize.js';

/**
 * Largest number of conjunctions the asserts may expand to (the product of the disjunct counts of
 * every `or`). ACAS Xu property 6 needs 8; the limit only stops pathological files.
 */
export const MAX_DNF_TERMS = 100_000;

/** Commands that carry no constraint and are skipped. */
const IGNORED_COMMANDS: ReadonlySet<string> = new Set(['set-logic', 'set-info', 'set-option', 'check-sat', 'get-model', 'exit']);

const VARIABLE = /^([XY])_(0|[1-9]\d*)$/;

type VarKind = 'X' | 'Y';

/** `sum x[i] X_i + sum y[j] Y_j + c`, with no zero coefficients stored. */
interface LinExpr {
  readonly x: Map<number, number>;
  readonly y: Map<number, number>;
  c: number;
}

/** `sum x[i] X_i + sum y[j] Y_j <= rhs`, located at its comparison. */
interface Atom {
  readonly x: Map<number, number>;
  readonly y: Map<number, number>;
  readonly rhs: number;
  readonly at: SourceLocation;
}

/** Disjunctive normal form: an OR of ANDs of atoms. `[]` is false; `[[]]` is true. */
type Dnf = Atom[][];

interface Declarations {
  readonly byName: Map<string, { kind: VarKind; index: number }>;
  readonly inputs: Map<number, SourceLocation>;
  readonly outputs: Map<number, SourceLocation>;
}

/**
 * Parses a VNN-LIB 1.0 property (the SMT-LIB subset of VNN-COMP) from its text.
 *
 * Supported: `(declare-const X_i Real)`, `(declare-const Y_j Real)`, `(assert F)` where F nests
 * `and`, `or` and comparisons `<=`, `>=`, `<`, `>` (strict ones are read as non-strict, as every
 * VNN-COMP tool does), `=` (two inequalities) over linear terms built from numbers, variables,
 * `+`, `-`, `*` (at most one non-constant factor) and `/` (by a constant). `true`/`false`,
 * comments and `set-logic`/`check-sat`-style commands are accepted. All asserts are conjoined,
 * expanded to disjunctive normal form, and grouped by their input part: each distinct input
 * region (box plus rows over several inputs) becomes one `PropertyCase` whose unsafe set is the
 * disjunction of the output parts that came with it.
 *
 * Throws `VnnlibParseError` (file, line, column) for malformed text, unknown operators, bad
 * numbers, undeclared or misnamed variables, atoms that mix X and Y, a constraint or input region
 * that can never hold, and inputs left without a lower or an upper bound.
 */
export function parseVnnlib(text: string, file = 'property.vnnlib'): Property {
  const commands = readSexprs(tokenize(text, file), file);
  const decls: Declarations = { byName: new Map(), inputs: new Map(), outputs: new Map() };
  const common: Atom[] = [];
  const alternatives: { dnf: Dnf; at: SList }[] = [];
  const ctx = new Context(file, decls);

  for (const cmd of commands) {
    if (cmd.kind !== 'list') throw ctx.error(cmd, `expected a command in parentheses, got '${cmd.text}'`);
    const head = cmd.items[0];
    if (head === undefined || head.kind !== 'symbol') {
      throw ctx.error(cmd, 'expected a command such as (declare-const X_0 Real) or (assert ...)');
    }
    if (head.text === 'declare-const') {
      declare(ctx, cmd);
    } else if (head.text === 'assert') {
      if (cmd.items.length !== 2) throw ctx.error(cmd, `assert takes exactly one formula, got ${cmd.items.length - 1}`);
      const dnf = ctx.toDnf(cmd.items[1]);
      if (dnf.length === 0) throw ctx.error(cmd, 'this assertion can never hold, so no input can violate the property; check the constants');
      if (dnf.length === 1) common.push(...dnf[0]);
      else alternatives.push({ dnf, at: cmd });
    } else if (!IGNORED_COMMANDS.has(head.text)) {
      throw ctx.error(head, `unknown command '${head.text}'; VNN-LIB uses declare-const and assert`);
    }
  }

  const nIn = contiguousCount(ctx, decls.inputs, 'X');
  const nOut = contiguousCount(ctx, decls.outputs, 'Y');
  const inputDecls = Array.from({ length: nIn }, (_, i) => decls.inputs.get(i) as SourceLocation);
  const outputDecls = Array.from({ length: nOut }, (_, j) => decls.outputs.get(j) as SourceLocation);

  let total = 1;
  for (const alt of alternatives) {
    total *= alt.dnf.length;
    if (total > MAX_DNF_TERMS) {
      throw ctx.error(alt.at, `the asserts expand to more than ${MAX_DNF_TERMS} conjunctions (a product of disjunctions); split the property into several files`);
    }
  }

  const base = new CaseBuilder(nIn, nOut);
  for (const atom of common) base.add(ctx, atom);
  const cases: { key: string; builder: CaseBuilder; unsafe: Disjunct[] }[] = [];
  const byKey = new Map<string, number>();
  let firstEmpty = base.empty;

  const choice = new Array<number>(alternatives.length).fill(0);
  for (let t = 0; t < total; t++) {
    if (base.empty !== undefined) break;
    const term = base.clone();
    for (let k = 0; k < alternatives.length; k++) for (const atom of alternatives[k].dnf[choice[k]]) term.add(ctx, atom);
    // odometer over the alternatives' disjuncts
    for (let k = alternatives.length - 1; k >= 0; k--) {
      if (++choice[k] < alternatives[k].dnf.length) break;
      choice[k] = 0;
    }
    if (term.empty !== undefined) {
      firstEmpty ??= term.empty;
      continue;
    }
    const key = term.inputKey();
    const found = byKey.get(key);
    const disjunct: Disjunct = { terms: term.outputTerms };
    if (found === undefined) {
      byKey.set(key, cases.length);
      cases.push({ key, builder: term, unsafe: [disjunct] });
    } else {
      cases[found].unsafe.push(disjunct);
    }
  }

  if (cases.length === 0) {
    const e = firstEmpty;
    invariant(e !== undefined, () => `${file}: no case was built, yet no input region was empty`);
    throw ctx.error(
      e.atom.at,
      `no input satisfies the constraints: here X_${e.index} gets lower bound ${e.lo} above upper bound ${e.hi}, so the input region is empty`,
    );
  }

  const out: PropertyCase[] = cases.map(({ builder, unsafe }) => {
    for (let i = 0; i < nIn; i++) {
      const missing = builder.lo[i] === -Infinity ? 'lower' : builder.hi[i] === Infinity ? 'upper' : undefined;
      if (missing !== undefined) {
        const at = inputDecls[i];
        throw new VnnlibParseError(
          file,
          at.line,
          at.column,
          `input X_${i} has no ${missing} bound${cases.length > 1 ? ' in one of the input regions' : ''}; bound every input with (assert (>= X_${i} lo)) and (assert (<= X_${i} hi))`,
        );
      }
    }
    return { box: { lo: builder.lo, hi: builder.hi }, inputConstraints: builder.inputRows, unsafe };
  });

  return { file, nIn, nOut, cases: out, declarations: { inputs: inputDecls, outputs: outputDecls } };
}

function declare(ctx: Context, cmd: SList): void {
  const [, nameExpr, sortExpr] = cmd.items;
  if (cmd.items.length !== 3 || nameExpr.kind !== 'symbol' || sortExpr.kind !== 'symbol') {
    throw ctx.error(cmd, 'expected (declare-const NAME Real)');
  }
  if (sortExpr.text !== 'Real') throw ctx.error(sortExpr, `variables must have sort Real, got '${sortExpr.text}'`);
  const m = VARIABLE.exec(nameExpr.text);
  if (m === null) {
    throw ctx.error(nameExpr, `variable '${nameExpr.text}' is not named X_<i> (input) or Y_<j> (output)`);
  }
  if (ctx.decls.byName.has(nameExpr.text)) throw ctx.error(nameExpr, `variable '${nameExpr.text}' is declared twice`);
  const kind = m[1] as VarKind;
  const index = Number(m[2]);
  ctx.decls.byName.set(nameExpr.text, { kind, index });
  (kind === 'X' ? ctx.decls.inputs : ctx.decls.outputs).set(index, { line: nameExpr.line, column: nameExpr.column });
}

function contiguousCount(ctx: Context, declared: Map<number, SourceLocation>, kind: VarKind): number {
  const n = declared.size;
  if (n === 0) {
    throw new VnnlibParseError(ctx.file, 1, 1, `no ${kind === 'X' ? 'input' : 'output'} variables declared; expected (declare-const ${kind}_0 Real) ...`);
  }
  for (const [index, at] of declared) {
    if (index >= n) {
      let gap = 0;
      while (declared.has(gap)) gap++;
      throw new VnnlibParseError(ctx.file, at.line, at.column, `${kind}_${index} is declared but ${kind}_${gap} is not; declare ${kind}_0 .. ${kind}_${n - 1} without gaps`);
    }
  }
  return n;
}

/** Intersects atoms into one input region (box and rows) with its output conjunction. */
class CaseBuilder {
  lo: Float64Array; // [nIn]
  hi: Float64Array; // [nIn]
  inputRows: LinearConstraint[] = [];
  outputTerms: LinearConstraint[] = [];
  /** The atom that emptied the box, the input it emptied, and that input's bounds. */
  empty: { atom: Atom; index: number; lo: number; hi: number } | undefined;

  constructor(
    readonly nIn: number,
    readonly nOut: number,
  ) {
    this.lo = new Float64Array(nIn).fill(-Infinity);
    this.hi = new Float64Array(nIn).fill(Infinity);
  }

  clone(): CaseBuilder {
    const c = new CaseBuilder(this.nIn, this.nOut);
    c.lo = Float64Array.from(this.lo);
    c.hi = Float64Array.from(this.hi);
    c.inputRows = [...this.inputRows];
    c.outputTerms = [...this.outputTerms];
    c.empty = this.empty;
    return c;
  }

  add(ctx: Context, atom: Atom): void {
    if (atom.x.size > 0 && atom.y.size > 0) {
      throw ctx.error(atom.at, 'a constraint mixes inputs (X_i) and outputs (Y_j); VNN-LIB constrains inputs and outputs separately');
    }
    if (atom.x.size === 1) {
      const [[i, k]] = atom.x;
      // k X_i <= rhs. For k = +-1 (every corpus file) the bound is exact; otherwise it is rounded
      // to nearest, which moves it by at most half an ulp.
      const bound = atom.rhs / k + 0; // + 0 folds -0 into 0
      if (k > 0) {
        if (bound < this.hi[i]) this.hi[i] = bound;
      } else if (bound > this.lo[i]) {
        this.lo[i] = bound;
      }
      if (this.lo[i] > this.hi[i] && this.empty === undefined) this.empty = { atom, index: i, lo: this.lo[i], hi: this.hi[i] };
    } else if (atom.x.size > 1) {
      this.inputRows.push({ a: dense(atom.x, this.nIn), b: atom.rhs });
    } else {
      this.outputTerms.push({ a: dense(atom.y, this.nOut), b: atom.rhs });
    }
  }

  /** Identifies the input region: equal keys, equal box and rows. */
  inputKey(): string {
    const parts: string[] = [];
    for (let i = 0; i < this.nIn; i++) parts.push(`${this.lo[i]}:${this.hi[i]}`);
    for (const row of this.inputRows) parts.push(`${Array.from(row.a).join(',')}<=${row.b}`);
    return parts.join(' ');
  }
}

function dense(coeffs: Map<number, number>, n: number): Float64Array {
  const a = new Float64Array(n);
  for (const [i, v] of coeffs) a[i] = v;
  return a;
}

class Context {
  constructor(
    readonly file: string,
    readonly decls: Declarations,
  ) {}

  error(at: SourceLocation, problem: string): VnnlibParseError {
    return new VnnlibParseError(this.file, at.line, at.column, problem);
  }

  toDnf(f: SExpr): Dnf {
    if (f.kind === 'symbol') {
      if (f.text === 'true') return [[]];
      if (f.text === 'false') return [];
      throw this.error(f, `expected a formula such as (<= X_0 1), got '${f.text}'`);
    }
    if (f.kind === 'number') throw this.error(f, `expected a formula such as (<= X_0 1), got the number ${f.text}`);
    const head = f.items[0];
    if (head === undefined || head.kind !== 'symbol') throw this.error(f, 'expected a formula (and ...), (or ...) or a comparison such as (<= X_0 1)');
    const args = f.items.slice(1);
    switch (head.text) {
      case 'and': {
        let acc: Dnf = [[]];
        for (const arg of args) {
          const d = this.toDnf(arg);
          if (acc.length * d.length > MAX_DNF_TERMS) {
            throw this.error(f, `this conjunction expands to more than ${MAX_DNF_TERMS} conjunctions; split the property into several files`);
          }
          const next: Dnf = [];
          for (const t of acc) for (const u of d) next.push(t.length === 0 ? u : u.length === 0 ? t : [...t, ...u]);
          acc = next;
        }
        return acc;
      }
      case 'or': {
        const acc: Dnf = [];
        for (const arg of args) {
          acc.push(...this.toDnf(arg));
          if (acc.length > MAX_DNF_TERMS) {
            throw this.error(f, `this disjunction expands to more than ${MAX_DNF_TERMS} conjunctions; split the property into several files`);
          }
        }
        return acc;
      }
      case '<=':
      case '<':
      case '>=':
      case '>':
      case '=':
        return this.comparison(f, head.text, args);
      case 'not':
        throw this.error(head, "'not' is not supported; write the negated comparison instead (for example (>= a b) for (not (< a b)))");
      default:
        throw this.error(head, `unknown operator '${head.text}' in a formula; supported: and, or, <=, >=, <, >, =`);
    }
  }

  /** A chained comparison `(op t1 t2 ... tn)`: the conjunction of `t_k op t_{k+1}`. */
  private comparison(f: SList, op: string, args: readonly SExpr[]): Dnf {
    if (args.length < 2) throw this.error(f, `'${op}' needs at least two terms, got ${args.length}`);
    const terms = args.map((a) => this.toLinExpr(a));
    const atoms: Atom[] = [];
    const at: SourceLocation = { line: f.line, column: f.column };
    for (let k = 0; k + 1 < terms.length; k++) {
      const lhs = terms[k];
      const rhs = terms[k + 1];
      // lhs <= rhs  <=>  (lhs - rhs) <= 0; '<' and '>' are read as non-strict.
      if (op !== '>=' && op !== '>') {
        const atom = makeAtom(lhs, rhs, at);
        if (atom === false) return [];
        if (atom !== true) atoms.push(atom);
      }
      if (op !== '<=' && op !== '<') {
        const atom = makeAtom(rhs, lhs, at);
        if (atom === false) return [];
        if (atom !== true) atoms.push(atom);
      }
    }
    return [atoms];
  }

  private toLinExpr(t: SExpr): LinExpr {
    if (t.kind === 'number') return { x: new Map(), y: new Map(), c: this.number(t) };
    if (t.kind === 'symbol') {
      const v = this.decls.byName.get(t.text);
      if (v === undefined) {
        if (VARIABLE.test(t.text)) throw this.error(t, `undeclared variable '${t.text}'; declare it first with (declare-const ${t.text} Real)`);
        throw this.error(t, `unknown symbol '${t.text}' in a term; expected a number or a declared X_i / Y_j`);
      }
      const e: LinExpr = { x: new Map(), y: new Map(), c: 0 };
      (v.kind === 'X' ? e.x : e.y).set(v.index, 1);
      return e;
    }
    const head = t.items[0];
    if (head === undefined || head.kind !== 'symbol') throw this.error(t, 'expected a term: a number, a variable, or (+ ...), (- ...), (* ...), (/ ...)');
    const args = t.items.slice(1).map((a) => this.toLinExpr(a));
    if (args.length === 0) throw this.error(t, `'${head.text}' needs at least one argument`);
    switch (head.text) {
      case '+':
        return args.reduce((acc, e) => addScaled(acc, e, 1));
      case '-':
        if (args.length === 1) return scale(args[0], -1);
        return args.slice(1).reduce((acc, e) => addScaled(acc, e, -1), args[0]);
      case '*': {
        let factor = 1;
        let variable: LinExpr | undefined;
        for (const e of args) {
          if (isConstant(e)) {
            factor *= e.c;
          } else if (variable === undefined) {
            variable = e;
          } else {
            throw this.error(t, 'nonlinear term: a product may have at most one non-constant factor');
          }
        }
        return variable === undefined ? { x: new Map(), y: new Map(), c: factor } : scale(variable, factor);
      }
      case '/': {
        let acc = args[0];
        for (const d of args.slice(1)) {
          if (!isConstant(d)) throw this.error(t, 'nonlinear term: division is only by a constant');
          if (d.c === 0) throw this.error(t, 'division by zero');
          acc = scale(acc, 1 / d.c);
        }
        return acc;
      }
      default:
        throw this.error(head, `unknown operator '${head.text}' in a term; supported: +, -, *, /`);
    }
  }

  private number(t: SNumber): number {
    const v = Number(t.text);
    if (!Number.isFinite(v)) throw this.error(t, `number '${t.text}' is out of the float64 range`);
    return v;
  }
}

/** `lhs <= rhs` as an atom, or `true`/`false` when no variable is left. */
function makeAtom(lhs: LinExpr, rhs: LinExpr, at: SourceLocation): Atom | boolean {
  const d = addScaled(lhs, rhs, -1);
  if (isConstant(d)) return d.c <= 0;
  return { x: d.x, y: d.y, rhs: 0 - d.c, at }; // 0 - c, not -c: no -0 bounds
}

function isConstant(e: LinExpr): boolean {
  return e.x.size === 0 && e.y.size === 0;
}

function scale(e: LinExpr, s: number): LinExpr {
  const out: LinExpr = { x: new Map(), y: new Map(), c: e.c * s };
  if (s === 0) return out;
  for (const [i, v] of e.x) out.x.set(i, v * s);
  for (const [j, v] of e.y) out.y.set(j, v * s);
  return out;
}

/** A fresh `a + s b`, dropping coefficients that cancel to zero. */
function addScaled(a: LinExpr, b: LinExpr, s: number): LinExpr {
  const out: LinExpr = { x: new Map(a.x), y: new Map(a.y), c: a.c + s * b.c };
  for (const [map, src] of [
    [out.x, b.x],
    [out.y, b.y],
  ] as const) {
    for (const [i, v] of src) {
      const sum = (map.get(i) ?? 0) + s * v;
      if (sum === 0) map.delete(i);
      else map.set(i, sum);
    }
  }
  return out;
}
