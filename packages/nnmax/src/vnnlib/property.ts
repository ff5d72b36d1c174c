import type { Box } from '@nnmax/core';

/**
 * The one sign convention of this folder: a `LinearConstraint` `{ a, b }` holds iff `a . v <= b`.
 * Its margin `b - a . v` is `>= 0` exactly when it holds.
 */
export interface LinearConstraint {
  readonly a: Float64Array; // [nIn] for input constraints, [nOut] for output terms
  readonly b: number;
}

/** A conjunction of output constraints: the unsafe region contains y iff every term holds. */
export interface Disjunct {
  readonly terms: readonly LinearConstraint[];
}

/**
 * One input region of a property with its own unsafe output region.
 *
 * The case is violated iff some x in `box` that satisfies every `inputConstraints` row maps to
 * a y = F(x) inside some disjunct of `unsafe` (all of its terms hold). A disjunct with no terms
 * is the whole output space.
 */
export interface PropertyCase {
  readonly box: Box;
  /** Linear input constraints beyond the bounds (an extension: rows with two or more X_i). */
  readonly inputConstraints: readonly LinearConstraint[];
  readonly unsafe: readonly Disjunct[];
}

/** A 1-based place in the source text. */
export interface SourceLocation {
  readonly line: number;
  readonly column: number;
}

/**
 * A parsed VNN-LIB property. The property is violated (VNN-COMP `sat`) iff some case is violated.
 * Most files have one case; a disjunction over input boxes (ACAS Xu property 6) gives one case
 * per box.
 */
export interface Property {
  readonly file: string;
  readonly nIn: number;
  readonly nOut: number;
  readonly cases: readonly PropertyCase[];
  /** Where each `X_i` and `Y_j` is declared, for messages that name a variable. */
  readonly declarations: {
    readonly inputs: readonly SourceLocation[]; // [nIn]
    readonly outputs: readonly SourceLocation[]; // [nOut]
  };
}
