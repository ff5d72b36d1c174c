import { InvalidOptionError, makeBox, type Box } from '@nnmax/core';
import { forward64 } from '@nnmax/onnx';
import { polytopeBound, rowsCuttingBox, type InputPolytope, type MaxMinSpec } from '@nnmax/bounds';
import { isFeasible, repairToDomain, type Domain } from './domain/parse-domain.js';
import { SEARCH_METHODS, type MaximizeOptions, type MaximizeResult, type SearchMethod } from './maximize-types.js';
import type { Model } from './model.js';
import { outputObjective, parseObjective, type LinearObjective } from './objective.js';
import { linearScalar, marginScalar, type ScalarObjective } from './scalar-objective.js';
import type { Repair } from './search-context.js';
import { solve } from './solve.js';
import { compileMargin, type CompiledMargin } from './vnnlib/index.js';
import type { SearchShare } from './turn-taking.js';

export const MAXIMIZE_DEFAULTS = {
  timeLimitMs: 10_000,
  tol: 1e-4,
  method: 'auto' as SearchMethod,
  seed: 0,
};

/**
 * Finds the maximum of an objective over the input domain: anytime, seeded, and with a
 * certified upper bound when `certify` is set (or `method: 'bab'`).
 */
export function maximize(model: Model, options: MaximizeOptions = {}): Promise<MaximizeResult> {
  return optimize(model, options, 'max');
}

/** Minimisation is maximisation of the negated objective; values are reported in the caller's sense. */
export function minimize(model: Model, options: MaximizeOptions = {}): Promise<MaximizeResult> {
  return optimize(model, options, 'min');
}

/** Options of the search after validation (values in maximisation sense). */
export interface ResolvedSearch {
  readonly method: SearchMethod;
  readonly timeLimitMs: number;
  readonly tol: number;
  readonly target: number | undefined;
  readonly seed: number;
  readonly signal: AbortSignal | undefined;
  readonly certify: boolean;
  /** The search's share of the thread beside branch-and-bound (default 0.4; verify gives less). */
  readonly searchShare?: SearchShare;
}


/**
 * A maximisation problem over the network: the scalar the searches see, the same objective as a
 * max-min spec for the bounds, the search box (fixed inputs collapsed) and, for richer domains,
 * the repair that maps any point into the domain exactly.
 */
export interface Problem {
  readonly scalar: ScalarObjective;
  readonly spec: MaxMinSpec;
  readonly box: Box;
  readonly repair: Repair | undefined;
  readonly isFeasible: (x: Float64Array) => boolean;
  /** True when the bound of `spec` over `box` is a bound over the domain that is tight to it (no linear rows, no integers). */
  readonly isBoxDomain: boolean;
  /**
   * What branch-and-bound bounds over besides the box: the linear rows, with each one-hot group's
   * sum as two rows (<= 1 and >= 1), and the integer inputs, one-hot members included.
   */
  readonly bab: { readonly polytope: InputPolytope | undefined; readonly integers: readonly number[] };
  /** Proved: no point of the box meets every linear row (see `provedEmpty`). */
  readonly isEmpty: boolean;
  /** Where the domain came from, for error messages: its file, or the VNN-LIB property. */
  readonly domainName: string | undefined;
}

export function resolveObjective(model: Model, objective: MaximizeOptions['objective']): LinearObjective {
  if (objective === undefined) return outputObjective(0, model.nOut);
  if (typeof objective === 'number') return outputObjective(objective, model.nOut);
  if (typeof objective === 'string') return parseObjective(objective, model.nOut);
  if (objective.c.length !== model.nOut) {
    throw new InvalidOptionError('objective', `${objective.c.length} weights`, `${model.nOut} weights (one per output)`);
  }
  return objective;
}

export function resolveSearch(options: MaximizeOptions, sign: 1 | -1): ResolvedSearch {
  const method = options.method ?? MAXIMIZE_DEFAULTS.method;
  if (!SEARCH_METHODS.includes(method)) throw new InvalidOptionError('method', method, SEARCH_METHODS.join(' | '));
  const timeLimitMs = options.timeLimitMs ?? MAXIMIZE_DEFAULTS.timeLimitMs;
  if (!(timeLimitMs > 0)) throw new InvalidOptionError('timeLimit', timeLimitMs, 'a positive time');
  const tol = options.tol ?? MAXIMIZE_DEFAULTS.tol;
  if (!(tol >= 0) || !Number.isFinite(tol)) throw new InvalidOptionError('tol', tol, 'a non-negative absolute gap');
  if (options.target !== undefined && Number.isNaN(options.target)) throw new InvalidOptionError('target', options.target, 'a number');
  const seed = options.seed ?? MAXIMIZE_DEFAULTS.seed;
  if (!Number.isInteger(seed)) throw new InvalidOptionError('seed', seed, 'an integer');
  return {
    method,
    timeLimitMs,
    tol,
    target: options.target === undefined ? undefined : sign * options.target,
    seed,
    signal: options.signal,
    certify: options.certify === true || method === 'bab',
  };
}

/** The search box: the user's box (or the domain's, or the VNN-LIB case's) with fixed inputs collapsed. */
function resolveBox(model: Model, options: MaximizeOptions, fallback: Box | undefined): Box {
  const sources = [options.box && 'box', options.domain && 'domain', options.vnnlib && 'vnnlib'].filter(Boolean);
  if (options.box && options.domain) throw new InvalidOptionError('box', 'both box and domain', 'one of box or domain (the domain file has its own box)');
  const src = options.box ?? options.domain?.box ?? fallback;
  if (!src) {
    throw new InvalidOptionError('box', sources.length === 0 ? 'none' : sources.join(', '), `an input box with ${model.nIn} intervals (or a domain or a VNN-LIB property)`);
  }
  if (src.lo.length !== model.nIn || src.hi.length !== model.nIn) {
    throw new InvalidOptionError('box', `${src.lo.length} intervals`, `${model.nIn} intervals, one per input of the model`);
  }
  const box = makeBox(src.lo, src.hi, 'box');
  const fix = options.fix instanceof Map ? options.fix : new Map(Object.entries(options.fix ?? {}).map(([k, v]) => [Number(k), v]));
  const fixed = new Map([...(options.domain?.fixed ?? []), ...fix]);
  for (const [i, v] of fixed) {
    if (!Number.isInteger(i) || i < 0 || i >= model.nIn) throw new InvalidOptionError('fix', i, `an input index 0..${model.nIn - 1}`);
    if (!Number.isFinite(v) || v < box.lo[i] || v > box.hi[i]) {
      throw new InvalidOptionError(`fix[${i}]`, v, `a value inside the box [${box.lo[i]}, ${box.hi[i]}]`);
    }
    box.lo[i] = v;
    box.hi[i] = v;
  }
  return box;
}

/** The max-min margin of a VNN-LIB case as a spec for the bounds: D = -a, e = b per term. */
export function marginSpec(m: CompiledMargin): MaxMinSpec {
  return {
    nOut: m.nOut,
    disjuncts: m.groups.map((g) => {
      const D = new Float64Array(g.length * m.nOut);
      g.forEach((row, j) => {
        for (let t = 0; t < m.nOut; t++) D[j * m.nOut + t] = -m.rows[row * m.nOut + t];
      });
      return { D, e: Float64Array.from(g, (row) => m.offsets[row]) };
    }),
  };
}

/** Builds the problem from the options: a linear objective, or the margin of a one-case VNN-LIB property. */
export function resolveProblem(model: Model, options: MaximizeOptions, sign: 1 | -1): Problem {
  const property = options.vnnlib;
  const useMargin = property !== undefined && options.objective === undefined;
  if (property && property.cases.length !== 1 && (useMargin || !options.box)) {
    throw new InvalidOptionError(
      'vnnlib',
      `${property.cases.length} input regions`,
      "a property with one input region (use 'verify' for properties with several)",
    );
  }
  const pcase = property?.cases[0];
  if (pcase && pcase.box.lo.length !== model.nIn) {
    throw new InvalidOptionError('vnnlib', `${pcase.box.lo.length} inputs`, `${model.nIn} inputs (X_0..X_${model.nIn - 1})`);
  }
  const box = resolveBox(model, options, pcase?.box);
  let scalar: ScalarObjective;
  let spec: MaxMinSpec;
  if (useMargin) {
    if (sign === -1) throw new InvalidOptionError('minimize', true, 'maximisation of a VNN-LIB margin (give an --objective to minimise)');
    const margin = compileMargin(pcase!, model.nOut);
    scalar = marginScalar(margin);
    spec = marginSpec(margin);
  } else {
    const objective = resolveObjective(model, options.objective);
    scalar = linearScalar(objective.c, objective.offset, sign);
    spec = {
      nOut: model.nOut,
      disjuncts: [{ D: objective.c.map((v) => sign * v), e: Float64Array.of(sign * objective.offset) }],
    };
  }
  const domain = options.domain ? withBox(options.domain, box) : undefined;
  const constraints = pcase?.inputConstraints ?? [];
  if (constraints.length > 0 && domain) {
    throw new InvalidOptionError('domain', 'a domain file and VNN-LIB input constraints', 'one source of linear input constraints');
  }
  const full: Domain | undefined = domain ?? (constraints.length > 0 ? constraintDomain(box, constraints) : undefined);
  const isBoxDomain = !full || (full.linear.b.length === 0 && full.integer.length === 0 && full.oneHot.length === 0);
  const bab = full ? babDomain(full) : { polytope: undefined, integers: [] };
  return {
    scalar,
    spec,
    box,
    repair: full && !isBoxDomain ? (x) => repairToDomain(full, x) : undefined,
    isFeasible: (x) => (full ? isFeasible(full, x, 0) : x.every((v, i) => v >= box.lo[i] && v <= box.hi[i])),
    isBoxDomain,
    bab,
    isEmpty: bab.polytope !== undefined && provedEmpty(bab.polytope, box),
    domainName: options.domain ? (options.domain.name ?? 'domain') : full ? `${property?.file ?? 'vnnlib'} (its input constraints)` : undefined,
  };
}

/**
 * True when no point of the box meets every row: one row alone excludes the box, or the bound of
 * the zero objective over the box and the rows (the dual of their LP, see `polytopeBound`) is
 * below 0, which it cannot be over a nonempty set.
 */
function provedEmpty(polytope: InputPolytope, box: Box): boolean {
  const n = box.lo.length;
  const cut = rowsCuttingBox(polytope, box.lo, box.hi, 0, n);
  return cut === 'empty' || polytopeBound(new Float64Array(n), 0, 0, polytope, cut, box.lo, box.hi, 0, n) < 0;
}

/** See `Problem.bab`. */
function babDomain(domain: Domain): Problem['bab'] {
  const n = domain.box.lo.length;
  const m0 = domain.linear.b.length;
  const m = m0 + 2 * domain.oneHot.length;
  const integers = [...new Set([...domain.integer, ...domain.oneHot.flat()])].sort((a, b) => a - b);
  if (m === 0) return { polytope: undefined, integers };
  const A = new Float64Array(m * n);
  const b = new Float64Array(m);
  A.set(domain.linear.A);
  b.set(domain.linear.b);
  domain.oneHot.forEach((group, g) => {
    const r = m0 + 2 * g;
    for (const k of group) {
      A[r * n + k] = 1;
      A[(r + 1) * n + k] = -1;
    }
    b[r] = 1;
    b[r + 1] = -1;
  });
  return { polytope: { m, A, b }, integers };
}

function withBox(domain: Domain, box: Box): Domain {
  const fixed = new Map(domain.fixed);
  for (let i = 0; i < box.lo.length; i++) if (box.lo[i] === box.hi[i]) fixed.set(i, box.lo[i]);
  return { ...domain, box, fixed };
}

function constraintDomain(box: Box, constraints: readonly { a: Float64Array; b: number }[]): Domain {
  const n = box.lo.length;
  const A = new Float64Array(constraints.length * n);
  constraints.forEach((c, r) => A.set(c.a, r * n));
  return withBox(
    { box, fixed: new Map(), integer: [], oneHot: [], linear: { A, b: Float64Array.from(constraints, (c) => c.b) } },
    box,
  );
}

async function optimize(model: Model, options: MaximizeOptions, sense: 'max' | 'min'): Promise<MaximizeResult> {
  const sign = sense === 'max' ? 1 : -1;
  const search = resolveSearch(options, sign);
  const problem = resolveProblem(model, options, sign);
  if (problem.isEmpty) {
    throw new InvalidOptionError(problem.domainName ?? 'domain', 'linear rows that no point of the box meets', 'a domain with at least one point (proved empty by linear programming duality)');
  }
  const outcome = await solve(model, problem, search, options.onProgress, sign);
  // an infinite bound (bounds that overflowed on a huge box) certifies nothing
  const ub = outcome.upperBound !== null && Number.isFinite(outcome.upperBound) ? outcome.upperBound : null;
  return {
    status: outcome.status,
    sense,
    value: sign * outcome.value,
    x: Array.from(outcome.x),
    upperBound: ub === null ? null : sign * ub,
    gap: ub === null ? null : Math.max(0, ub - outcome.value),
    certified: ub !== null,
    evaluations: outcome.evaluations,
    timeMs: outcome.timeMs,
    method: outcome.method,
  };
}

/** The objective at x in float64 on the IR (maximisation sense), or undefined outside the IR. */
export function value64(model: Model, scalar: ScalarObjective, x: Float64Array): number | undefined {
  if (!model.ir) return undefined;
  return scalar.values(forward64(model.ir, x, 1), 1)[0];
}
