import type { LinearConstraint, Property, PropertyCase } from './property.js';

/**
 * Prints a property as VNN-LIB text that `parseVnnlib` reads back to the same structure. One case
 * is printed the way VNN-COMP files are: bounds as top-level asserts and the unsafe set as
 * `(assert (or (and ...) ...))`. Several cases are printed as one disjunction with a conjunction
 * per (case, disjunct) pair, each repeating its case's bounds. Numbers use the shortest text
 * that reads back to the same float64.
 */
export function formatVnnlib(property: Property): string {
  const lines: string[] = [`; ${property.file}: ${property.cases.length} input region(s)`];
  for (let i = 0; i < property.nIn; i++) lines.push(`(declare-const X_${i} Real)`);
  for (let j = 0; j < property.nOut; j++) lines.push(`(declare-const Y_${j} Real)`);
  if (property.cases.length === 1) {
    const c = property.cases[0];
    for (const atom of inputAtoms(c)) lines.push(`(assert ${atom})`);
    lines.push('(assert (or');
    for (const d of c.unsafe) lines.push(`  (and ${d.terms.map((t) => constraint(t, 'Y')).join(' ')})`);
    lines.push('))');
  } else {
    lines.push('(assert (or');
    for (const c of property.cases) {
      const box = inputAtoms(c).join(' ');
      for (const d of c.unsafe) lines.push(`  (and ${box} ${d.terms.map((t) => constraint(t, 'Y')).join(' ')})`);
    }
    lines.push('))');
  }
  return `${lines.join('\n')}\n`;
}

function inputAtoms(c: PropertyCase): string[] {
  const atoms: string[] = [];
  for (let i = 0; i < c.box.lo.length; i++) atoms.push(`(>= X_${i} ${c.box.lo[i]})`, `(<= X_${i} ${c.box.hi[i]})`);
  for (const row of c.inputConstraints) atoms.push(constraint(row, 'X'));
  return atoms;
}

/** `a . v <= b` as `(<= (+ (* a_0 V_0) ...) b)`, skipping zero coefficients. */
function constraint(row: LinearConstraint, prefix: 'X' | 'Y'): string {
  const terms: string[] = [];
  for (let k = 0; k < row.a.length; k++) if (row.a[k] !== 0) terms.push(`(* ${row.a[k]} ${prefix}_${k})`);
  const lhs = terms.length === 0 ? '0' : terms.length === 1 ? terms[0] : `(+ ${terms.join(' ')})`;
  return `(<= ${lhs} ${row.b})`;
}
