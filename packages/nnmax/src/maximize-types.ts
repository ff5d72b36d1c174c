import type { Box } from '@nnmax/core';
import type { Domain } from './domain/parse-domain.js';
import type { LinearObjective } from './objective.js';
import type { Property } from './vnnlib/index.js';

export type SearchMethod = 'auto' | 'sample' | 'adam' | 'multistart' | 'cmaes' | 'de' | 'basinhopping' | 'bab';
export const SEARCH_METHODS: readonly SearchMethod[] = ['auto', 'sample', 'adam', 'multistart', 'cmaes', 'de', 'basinhopping', 'bab'];

/** `optimal`: certified within tol; `feasible`: stopped by target/abort with a point; `timeout`: time ran out. */
export type MaximizeStatus = 'optimal' | 'feasible' | 'timeout';

/** One progress event: the anytime state of the search (all values in the caller's sense). */
export interface ProgressEvent {
  readonly elapsedMs: number;
  readonly evaluations: number;
  readonly value: number; // incumbent objective value
  readonly x: Float64Array; // incumbent point
  readonly bound: number | null; // certified bound (upper for max, lower for min), when certifying
  readonly gap: number | null;
  readonly phase: string; // which component produced the event ('sample', 'adam', 'cmaes', 'bab', ...)
}

export interface MaximizeOptions {
  /** Objective: an expression ("y2 - 0.5*y0"), a parsed LinearObjective, or an output index. Default y0. */
  readonly objective?: string | LinearObjective | number;
  /** The input box (flattened input order). Required unless `vnnlib` gives one. */
  readonly box?: Box | { readonly lo: ArrayLike<number>; readonly hi: ArrayLike<number> };
  /**
   * A VNN-LIB property with one input region: its box is the domain (and its input constraints,
   * if any); without an `objective`, the objective is the property's max-min margin (>= 0 exactly
   * in the unsafe region), so a maximum >= 0 is a counterexample.
   */
  readonly vnnlib?: Property;
  /** A domain (see docs/domain-format.md): box, fixed inputs, linear rows, integer and one-hot inputs. */
  readonly domain?: Domain;
  /** Fixed inputs: index -> value (inside the box). */
  readonly fix?: ReadonlyMap<number, number> | Readonly<Record<number, number>>;
  readonly method?: SearchMethod;
  /** Also compute a certified bound by branch-and-bound (status 'optimal' once gap <= tol). */
  readonly certify?: boolean;
  /** Absolute gap at which a certified search stops (default 1e-4). */
  readonly tol?: number;
  /** Stop as soon as the incumbent reaches this value (falsification). */
  readonly target?: number;
  readonly timeLimitMs?: number;
  readonly signal?: AbortSignal;
  readonly seed?: number;
  readonly onProgress?: (e: ProgressEvent) => void;
}

/** The `maximize --json` contract of DESIGN.md. */
export interface MaximizeResult {
  readonly status: MaximizeStatus;
  readonly sense: 'max' | 'min';
  readonly value: number;
  readonly x: number[];
  /** The certified bound (for 'min', a lower bound); null without certification or when it is not finite. */
  readonly upperBound: number | null;
  readonly gap: number | null;
  /** True when `upperBound` is a finite certified bound. */
  readonly certified: boolean;
  readonly evaluations: number;
  readonly timeMs: number;
  readonly method: string;
}
