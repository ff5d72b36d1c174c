import { Rng } from '@nnmax/core';
import { branchAndBound, type BabResult } from '@nnmax/bounds';
import type { MaximizeStatus, ProgressEvent } from './maximize-types.js';
import type { Problem, ResolvedSearch } from './maximize.js';
import { value64 } from './maximize.js';
import type { Model } from './model.js';
import { runPortfolio, type StopCause } from './portfolio.js';
import { SearchContext } from './search-context.js';

/** The outcome of `solve`, in maximisation sense. */
export interface SolveOutcome {
  readonly status: MaximizeStatus;
  readonly x: Float64Array;
  /** The objective at x: float64 on the IR when the model has one, else onnxruntime's value. */
  readonly value: number;
  /** Certified: no point of the domain has a larger objective (null without certification). */
  readonly upperBound: number | null;
  readonly evaluations: number;
  readonly timeMs: number;
  readonly method: string;
  readonly reason: StopCause | 'certified';
}

/**
 * Runs the search portfolio and, when certifying, branch-and-bound alongside it on the same
 * event loop: the portfolio's incumbents are polled by branch-and-bound (they prune its tree), the
 * bound is streamed in progress events, and the portfolio stops once the gap is within `tol`.
 */
export async function solve(
  model: Model,
  problem: Problem,
  search: ResolvedSearch,
  onProgress: ((e: ProgressEvent) => void) | undefined,
  sign: 1 | -1,
): Promise<SolveOutcome> {
  const t0 = performance.now();
  const ir = search.certify ? model.requireIr('certified bounds') : undefined;
  const ctx = new SearchContext(model.evaluator, problem.scalar, problem.box, problem.repair);
  let upperBound: number | null = null;
  let babResult: BabResult | undefined;
  let babIncumbent: { x: Float64Array; value: number } | undefined;

  const incumbentValue = (): number => Math.max(ctx.incumbent?.value ?? -Infinity, babIncumbent?.value ?? -Infinity);
  const report = (phase: string): void => {
    if (!onProgress) return;
    const useBab = babIncumbent !== undefined && babIncumbent.value > (ctx.incumbent?.value ?? -Infinity);
    const inc = useBab ? babIncumbent : ctx.incumbent;
    if (!inc) return;
    onProgress({
      elapsedMs: performance.now() - t0,
      evaluations: ctx.evaluations,
      value: sign * inc.value,
      x: inc.x,
      bound: upperBound === null ? null : sign * upperBound,
      gap: upperBound === null ? null : Math.max(0, upperBound - inc.value),
      phase,
    });
  };
  const isClosed = (): boolean => upperBound !== null && upperBound - incumbentValue() <= search.tol;
  const targetExcluded = (): boolean => search.target !== undefined && upperBound !== null && upperBound < search.target;

  const babAbort = new AbortController();
  const onUserAbort = (): void => babAbort.abort();
  search.signal?.addEventListener('abort', onUserAbort);
  let babPromise: Promise<void> | undefined;
  if (ir) {
    let polled: Float64Array | undefined;
    babPromise = branchAndBound(ir, problem.spec, problem.box, {
      tol: search.tol,
      timeLimitMs: search.timeLimitMs,
      target: search.target,
      signal: babAbort.signal,
      // Linear rows and integers make the domain smaller than the box: a point of the box is a
      // candidate for the incumbent only if it is in the domain (the bound over the box stays valid).
      evaluate: problem.isBoxDomain ? undefined : (points) => feasibleValues(points, problem, model),
      pollCandidates: () => {
        const inc = ctx.incumbent;
        if (!inc || inc.x === polled) return undefined;
        polled = inc.x;
        return [inc.x];
      },
      onProgress: (p) => {
        upperBound = p.upperBound;
        report('bab');
      },
    }).then((r) => {
      babResult = r;
      upperBound = r.upperBound;
      if (r.incumbent && problem.isFeasible(r.incumbent.x)) babIncumbent = r.incumbent;
      report('bab');
    });
  }

  const outcome = await runPortfolio(ctx, {
    method: search.method === 'bab' ? 'auto' : search.method,
    deadline: t0 + search.timeLimitMs,
    target: search.target,
    signal: search.signal,
    rng: new Rng(search.seed),
    hasGradients: model.evaluator.hasGradients,
    report,
    // Branch-and-bound has finished: closed the gap, excluded the target, or stopped on memory.
    shouldStop: () => babResult !== undefined && (isClosed() || targetExcluded() || babResult.status === 'optimal'),
  }).catch((e: unknown) => {
    babAbort.abort();
    throw e;
  });
  babAbort.abort();
  await babPromise;
  search.signal?.removeEventListener('abort', onUserAbort);

  // The better of the two incumbents, valued in float64 on the IR where it exists.
  let x = outcome.x;
  let value = value64(model, problem.scalar, x) ?? outcome.value;
  if (babIncumbent) {
    const v = value64(model, problem.scalar, babIncumbent.x) ?? babIncumbent.value;
    if (v > value) {
      x = babIncumbent.x;
      value = v;
    }
  }
  if (upperBound !== null && value > upperBound) upperBound = value; // float64 reporting round-off only
  const closed = upperBound !== null && upperBound - value <= search.tol;
  let status: MaximizeStatus;
  if (closed) status = 'optimal';
  else if (search.certify && outcome.reason === 'time') status = 'timeout';
  else status = 'feasible';
  const method = search.certify ? `${outcome.method}+bab` : outcome.method;
  return {
    status,
    x,
    value,
    upperBound,
    evaluations: outcome.evaluations,
    timeMs: performance.now() - t0,
    method,
    reason: closed ? 'certified' : outcome.reason,
  };
}

/** Candidate values for branch-and-bound over a box that is larger than the domain: -Infinity outside the domain. */
function feasibleValues(points: readonly Float64Array[], problem: Problem, model: Model): Float64Array {
  return Float64Array.from(points, (p) => (problem.isFeasible(p) ? (value64(model, problem.scalar, p) ?? -Infinity) : -Infinity));
}
