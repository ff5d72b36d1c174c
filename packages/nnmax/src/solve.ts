import { Rng } from '@nnmax/core';
import { forward64, type IrGraph } from '@nnmax/onnx';
import { branchAndBound, isPiecewiseLinear, RegionAscent, regionAscentCost, type BabResult } from '@nnmax/bounds';
import type { MaximizeStatus, ProgressEvent } from './maximize-types.js';
import type { Problem, ResolvedSearch } from './maximize.js';
import { value64 } from './maximize.js';
import type { Model } from './model.js';
import { freeDimension, runPortfolio, type StopCause } from './portfolio.js';
import { SearchContext } from './search-context.js';
import { improvementShare, shareAt, TurnTaking } from './turn-taking.js';

/**
 * Domains branch-and-bound splits per round when it shares the thread with the search: a round of
 * 64 domains (128 bounded children) takes about 70 ms on ACAS Xu, while the helper thread works
 * through its own batches, so neither side starves. Rounds of 16 spent more on per-round work (the
 * pause for the search, the helper's messages): ACAS Xu N3,3 property 2 took 8% longer.
 */
const BAB_ROUND = 64;
/**
 * The search's share of the thread while branch-and-bound runs beside it: SEARCH_SHARE while the
 * search keeps improving its incumbent (by more than a tenth of `tol`) within the last
 * max(SEARCH_WINDOW_MS, a quarter of the elapsed time), else SEARCH_IDLE_SHARE, since branch-and-bound's
 * candidates and ascents keep refining the incumbent then. On ten ACAS Xu maximisations of y0 over
 * property 1 (certified to 1e-4) this took 82 s against 106 s with a constant 0.4 (in one process,
 * alternated), and the values found on the 784-input problems of ../shared/maximize in 3 s were the same.
 * A window of 500 ms (against 1 s) took 3.5-8% less on twelve of those ACAS Xu problems that prove in 2-4 s.
 */
const SEARCH_SHARE = 0.4;
const SEARCH_IDLE_SHARE = 0.05;
const SEARCH_WINDOW_MS = 500;
/** Longest pause of branch-and-bound per round (a slow round must not stall the bound for long). */
const MAX_SLEEP_MS = 200;

/**
 * Most free inputs for the region walk (its LPs have one variable per free input), and most
 * multiply-adds of the propagation that starts each walk (about 10 ms; ACAS Xu needs 1e5).
 */
const MAX_WALK_DIM = 64;
const MAX_WALK_COST = 1e7;

/** True when the search walks the network's linear regions with this many free inputs (see MAX_WALK_DIM). */
export function walkApplies(ir: IrGraph, nFree: number): boolean {
  return isPiecewiseLinear(ir) && nFree <= MAX_WALK_DIM && regionAscentCost(ir, nFree) <= MAX_WALK_COST;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

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
  ctx.exactValue = model.ir && ((x) => value64(model, problem.scalar, x)!);
  const pwl = model.ir;
  const nFree = freeDimension(problem.box);
  if (pwl && problem.repair === undefined && walkApplies(pwl, nFree)) {
    ctx.regionAscent = new RegionAscent(pwl, problem.spec, problem.box);
  }
  let upperBound: number | null = null;
  let babResult: BabResult | undefined;
  let babIncumbent: { x: Float64Array; value: number } | undefined;
  let babError: { error: unknown } | undefined;

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
  const searchShare =
    search.searchShare ??
    improvementShare(() => ctx.incumbent?.value ?? -Infinity, { active: SEARCH_SHARE, idle: SEARCH_IDLE_SHARE, minGain: 0.1 * search.tol, windowMs: SEARCH_WINDOW_MS });
  const startedAt = performance.now();
  // One thread for both (onnxruntime-web's wasm): explicit turns instead of sleeps (turn-taking.ts).
  const turns = ir && model.evaluator.computesOnCallingThread ? new TurnTaking(searchShare) : undefined;
  if (ir) {
    let polled: Float64Array | undefined;
    let resumedAt = performance.now();
    babPromise = branchAndBound(ir, problem.spec, problem.box, {
      // A round blocks the event loop; small rounds let the search portfolio interleave.
      batchSize: BAB_ROUND,
      polytope: problem.bab.polytope,
      integers: problem.bab.integers,
      tol: search.tol,
      timeLimitMs: search.timeLimitMs,
      target: search.target,
      signal: babAbort.signal,
      helper: model.boundingHelper,
      // Called once a round: after a round of bounding, sleep as long as the search's share of the
      // thread asks, so that the portfolio's steps (each awaiting onnxruntime) run meanwhile.
      // Linear rows and integers make the domain smaller than the box: a point of the box is a
      // candidate for the incumbent only if it is in the domain (the bound over the box stays valid).
      evaluate: async (points) => {
        const worked = performance.now() - resumedAt;
        if (turns) await turns.afterBab(worked);
        else {
          const share = shareAt(searchShare, performance.now() - startedAt);
          await sleep(Math.min(MAX_SLEEP_MS, (worked * share) / (1 - share)));
        }
        resumedAt = performance.now();
        return feasibleValues(points, problem, ir);
      },
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
    }).then(
      (r) => {
        turns?.finish('bab');
        babResult = r;
        upperBound = r.upperBound;
        if (r.incumbent && problem.isFeasible(r.incumbent.x)) babIncumbent = r.incumbent;
        report('bab');
      },
      (e: unknown) => {
        // the search stops at its next step, and the error is thrown below
        turns?.finish('bab');
        babError = { error: e };
      },
    );
  }

  // Without certification the second core is free: the region walks run there (RemoteWalks). On
  // the 91 problems of ../shared/maximize (three seeds, alternated in one process) the geometric
  // mean time to the optimum fell by 10%, and by 30-40% on those that take longer than 10 ms.
  const startWalks = model.walkHelper;
  const walkHelper = !ir && pwl && ctx.regionAscent && startWalks && search.method === 'auto' ? () => startWalks({ graph: pwl, spec: problem.spec, box: problem.box }) : undefined;
  const outcome = await runPortfolio(ctx, {
    method: search.method === 'bab' ? 'auto' : search.method,
    deadline: t0 + search.timeLimitMs,
    target: search.target,
    signal: search.signal,
    rng: new Rng(search.seed),
    hasGradients: model.evaluator.hasGradients,
    report,
    // Branch-and-bound has finished: closed the gap, reached or excluded the target, or stopped on
    // memory; or its incumbent reached the target (the search's own is checked by the portfolio).
    shouldStop: () =>
      babError !== undefined ||
      (search.target !== undefined && (ctx.reaches(search.target) || (babIncumbent?.value ?? -Infinity) >= search.target)) ||
      (babResult !== undefined && (isClosed() || targetExcluded() || babResult.status === 'optimal')),
    afterStep: turns && ((ms) => turns.afterSearch(ms)),
    walkHelper,
    domainName: problem.domainName,
    modelName: model.file,
  }).catch((e: unknown) => {
    turns?.finish('search');
    babAbort.abort();
    throw e;
  });
  turns?.finish('search');
  babAbort.abort();
  await babPromise;
  search.signal?.removeEventListener('abort', onUserAbort);
  if (babError !== undefined) throw babError.error;

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
  const method = ir ? `${outcome.method}+bab` : outcome.method;
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

/**
 * Candidate values for branch-and-bound: the objective in float64 on the IR, and -Infinity outside
 * the domain when it is smaller than the box (linear rows, integers).
 */
function feasibleValues(points: readonly Float64Array[], problem: Problem, ir: IrGraph): Float64Array {
  const n = points.length;
  const d = ir.nIn;
  const X = new Float64Array(n * d);
  points.forEach((p, s) => X.set(p, s * d));
  const values = problem.scalar.values(forward64(ir, X, n), n);
  if (!problem.isBoxDomain) points.forEach((p, s) => !problem.isFeasible(p) && (values[s] = -Infinity));
  return values;
}
