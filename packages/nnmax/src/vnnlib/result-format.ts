import { InvalidOptionError, ShapeError } from '@nnmax/core';

/** A verdict in VNN-COMP terms: `sat` = the property is violated (a counterexample exists). */
export type VnncompStatus = 'sat' | 'unsat' | 'timeout' | 'unknown';

const STATUSES: readonly VnncompStatus[] = ['sat', 'unsat', 'timeout', 'unknown'];

/**
 * The VNN-COMP result file: the status on the first line and, after `sat`, the counterexample as
 * one S-expression with one `(name value)` term a line, inputs then outputs:
 *
 * ```
 * sat
 * ((X_0 0.1)
 *  (X_1 -0.25)
 *  (Y_0 3.5))
 * ```
 *
 * This is the layout of the VNN-COMP scorer's own example (vnncomp2022_results
 * `SCORING/test_ce.txt`); the scorer joins the lines and splits on parentheses, so it reads this
 * and the variant with a bare `(` line alike. Values are printed with the shortest text that
 * reads back to the same float64. The text ends with a newline.
 */
export function formatVnncompResult(status: VnncompStatus, x?: ArrayLike<number>, y?: ArrayLike<number>): string {
  if (!STATUSES.includes(status)) throw new InvalidOptionError('status', status, STATUSES.join(' | '));
  if (status !== 'sat') {
    if (x !== undefined || y !== undefined) throw new InvalidOptionError('counterexample', `given with status '${status}'`, "a counterexample only with 'sat'");
    return `${status}\n`;
  }
  if (x === undefined || y === undefined || x.length === 0 || y.length === 0) {
    throw new ShapeError('sat counterexample', 'inputs x and outputs y', x === undefined || x.length === 0 ? 'no x' : 'no y');
  }
  const terms: string[] = [];
  for (let i = 0; i < x.length; i++) terms.push(`(X_${i} ${formatValue(x[i], `X_${i}`)})`);
  for (let j = 0; j < y.length; j++) terms.push(`(Y_${j} ${formatValue(y[j], `Y_${j}`)})`);
  return `sat\n(${terms.join('\n ')})\n`;
}

function formatValue(v: number, name: string): string {
  if (!Number.isFinite(v)) throw new InvalidOptionError(`counterexample ${name}`, v, 'a finite number');
  return String(v);
}
