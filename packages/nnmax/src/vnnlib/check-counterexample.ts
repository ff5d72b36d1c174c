import { InvalidOptionError, ShapeError } from '@nnmax/core';
import type { Property } from './property.js';

/** VNN-COMP's counterexample tolerance (absolute, on inputs and on output constraints). */
export const COUNTEREXAMPLE_TOL = 1e-4;

/** The verdict on a candidate counterexample. */
export interface CounterexampleCheck {
  readonly isValid: boolean;
  /** The case whose input region holds x and whose unsafe disjunct holds y; -1 if invalid. */
  readonly caseIndex: number;
  readonly disjunctIndex: number;
  /** Why the point is or is not a counterexample, for messages and logs. */
  readonly reason: string;
}

/**
 * Checks a counterexample as the VNN-COMP scorer does: x lies in some case's input region and y
 * in one of that case's unsafe disjuncts, each constraint allowed a slack of `tol`
 * (`lo - tol <= x_i <= hi + tol`, `a . y <= b + tol`). Call it with y = F(x) from the runtime
 * that will be judged before printing `sat`. Non-finite values never pass.
 */
export function checkCounterexample(
  property: Property,
  x: ArrayLike<number>,
  y: ArrayLike<number>,
  tol = COUNTEREXAMPLE_TOL,
): CounterexampleCheck {
  if (!(tol >= 0)) throw new InvalidOptionError('tol', tol, 'a number >= 0');
  if (x.length !== property.nIn) throw new ShapeError('counterexample x', `${property.nIn} values`, `${x.length}`);
  if (y.length !== property.nOut) throw new ShapeError('counterexample y', `${property.nOut} values`, `${y.length}`);
  for (let i = 0; i < x.length; i++) if (!Number.isFinite(x[i])) return invalid(`X_${i} is ${x[i]}`);
  for (let j = 0; j < y.length; j++) if (!Number.isFinite(y[j])) return invalid(`Y_${j} is ${y[j]}`);

  let reason = 'x lies in no input region of the property';
  for (let c = 0; c < property.cases.length; c++) {
    const { box, inputConstraints, unsafe } = property.cases[c];
    let outside = -1;
    for (let i = 0; i < x.length && outside < 0; i++) if (x[i] < box.lo[i] - tol || x[i] > box.hi[i] + tol) outside = i;
    if (outside >= 0) {
      if (c === 0) reason = `X_${outside} = ${x[outside]} is outside [${box.lo[outside]}, ${box.hi[outside]}]`;
      continue;
    }
    const brokenRow = inputConstraints.findIndex((row) => dot(row.a, x) > row.b + tol);
    if (brokenRow >= 0) {
      if (c === 0) reason = `x breaks input constraint ${brokenRow}`;
      continue;
    }
    for (let d = 0; d < unsafe.length; d++) {
      if (unsafe[d].terms.every((t) => dot(t.a, y) <= t.b + tol)) {
        return { isValid: true, caseIndex: c, disjunctIndex: d, reason: `y satisfies unsafe disjunct ${d} of case ${c}` };
      }
    }
    reason = `x lies in input region ${c} but y is in none of its ${unsafe.length} unsafe disjuncts`;
  }
  return invalid(reason);
}

function invalid(reason: string): CounterexampleCheck {
  return { isValid: false, caseIndex: -1, disjunctIndex: -1, reason };
}

function dot(a: Float64Array, v: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * v[i];
  return s;
}
