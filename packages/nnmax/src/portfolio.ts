import { InvalidOptionError, type Box, type Rng } from '@nnmax/core';
import type { Optimizer } from '@nnmax/search';
import { createComponent, POLISH, type ComponentName, type ComponentOptions } from './components.js';
import type { SearchMethod } from './maximize-types.js';
import { RemoteWalks, type RegionWalk, type WalkHelper } from './region-walk.js';
import type { SearchContext } from './search-context.js';

export interface PortfolioOptions {
  readonly method: Exclude<SearchMethod, 'bab'>;
  /** performance.now() time at which to stop. */
  readonly deadline: number;
  /** Stop once the incumbent reaches this value (maximisation sense). */
  readonly target: number | undefined;
  readonly signal: AbortSignal | undefined;
  readonly rng: Rng;
  readonly hasGradients: boolean;
  readonly report: (phase: string) => void;
  /** Extra stop condition checked between batches (e.g. a certified bound closed the gap). */
  readonly shouldStop?: () => boolean;
  /** Called after each step of the main loop with its wall time (turn taking with branch-and-bound). */
  readonly afterStep?: (ms: number) => Promise<void>;
  /**
   * Starts a thread for the region walks (see RemoteWalks), once the design has not ended the
   * search. The portfolio closes it before returning.
   */
  readonly walkHelper?: () => WalkHelper;
  /** The domain's name (its file) for the error when no point of it is found, and the model's for the error when no value is finite. */
  readonly domainName?: string;
  readonly modelName?: string;
}

export type StopCause = 'time' | 'target' | 'aborted' | 'converged' | 'external';

export interface PortfolioOutcome {
  readonly x: Float64Array;
  readonly value: number;
  readonly evaluations: number;
  readonly method: string;
  readonly reason: StopCause;
}

/**
 * Time shares of the 'auto' portfolio up to CMAES_MAX_DIM free inputs. Differential evolution
 * gets most of the time: on the ACAS Xu maximisations of ../shared/maximize it reaches the
 * optimum first on most problems (scipy's does too), and its restarts cover the basins that
 * gradient ascents miss. Multi-start L-BFGS and Adam exploit the exact gradient; CMA-ES (IPOP) and
 * basin hopping escape local optima; the local CMA-ES refinement climbs the kinks where ReLU nets
 * peak; quasi-random sampling keeps exploring. With DE at 0.2 (and adam and multistart at 0.2
 * each) the median time to the optimum there was 3-5 times longer (README bench).
 */
const AUTO_SHARES: Partial<Record<ComponentName, number>> = { de: 0.6, multistart: 0.1, refine: 0.1, adam: 0.05, cmaes: 0.05, basinhopping: 0.05, sample: 0.05 };
const BLACK_BOX_SHARES: Partial<Record<ComponentName, number>> = { cmaes: 0.3, de: 0.4, refine: 0.1, sample: 0.2 };
/**
 * Above this many free inputs full-covariance CMA-ES costs more than it finds (the O(n^3)
 * eigendecomposition takes about 2 s at n = 784), and the exact gradient does the work.
 */
const CMAES_MAX_DIM = 64;
/**
 * With gradients above CMAES_MAX_DIM. Basin hopping has the largest share: on mnist 256x2
 * property 1, max y7 (784 inputs), only scipy's basin hopping reached the best-known value in
 * some runs; with 0.45 here (against 0.2, Adam then 0.45) nnmax reached it in 5 seeds of 5 (in
 * 1.2-1.3 s) against 3 of 5, and the other 784-input problems stayed within the noise.
 */
const HIGH_DIM_SHARES: Partial<Record<ComponentName, number>> = { basinhopping: 0.45, multistart: 0.3, adam: 0.2, sample: 0.05 };
/**
 * In high dimension, with gradients, one projected L-BFGS run from the incumbent (after the
 * sign-corner ascent and the design) comes first, for at most this many rounds and this long: on
 * the 784-input problems of
 * ../shared/maximize (small boxes, near-linear nets) it reaches the optimum in a few steps, where
 * the rotation of components took 3-8 times longer.
 */
const FIRST_ASCENT_ROUNDS = 100;
const FIRST_ASCENT_MS = 100;
/**
 * After the first ascent, basin hopping from its end point alone, for as long as it gains at least
 * every FIRST_HOPS_QUIET_MS: L-BFGS stops on the kinks of ReLU nets a little below the optimum
 * (eran mnist_relu_9_200 4424 max y4: 4.8e-4 below, at 6 ms), and short hops with a local ascent
 * each climb the rest. The rotation of all components reached it there in 99 ms, these hops in
 * 39 ms; mnist 256x4 property 0 max y8 83 to 26 ms, 256x2 property 1 max y7 683 to 458 ms (three
 * seeds, alternated); the 17 other 784-input problems unchanged (10 ms of quiet did less well).
 */
const FIRST_HOPS_QUIET_MS = 30;
/**
 * The region walk's share on piecewise-linear networks, whenever solve.ts has set one up (which
 * also decides up to how many free inputs; the others scaled to the rest; see region-walk.ts). On the 71 maximisations of ../shared/maximize with at most 16 inputs (all
 * ReLU), it halved the geometric mean time to the optimum (median 9.5 ms to 3.4 ms); 0.3 and 0.8
 * did about as well as 0.5, within this machine's noise.
 */
const WALK_SHARE = 0.5;
const HIGH_DIM_BLACK_BOX_SHARES: Partial<Record<ComponentName, number>> = { sample: 1 };

/** Inputs the box leaves free (lo < hi). */
export function freeDimension(box: Box): number {
  let n = 0;
  for (let i = 0; i < box.lo.length; i++) if (box.lo[i] < box.hi[i]) n++;
  return n;
}

interface Slot {
  readonly name: ComponentName;
  readonly share: number;
  spentMs: number;
  /** Created on the slot's first step (see runPortfolio), with `rng`. */
  opt: Optimizer | undefined;
  readonly rng: Rng;
  runs: number;
}

/**
 * Runs the optimisers in one anytime loop: each step gives the slot that has used the least of
 * its time share one ask/evaluate/tell round; every evaluated point feeds the shared incumbent.
 * Stopped optimisers restart (new seed, new start). The incumbent is polished at the end.
 */
export async function runPortfolio(ctx: SearchContext, options: PortfolioOptions): Promise<PortfolioOutcome> {
  if (!options.hasGradients && (options.method === 'adam' || options.method === 'multistart' || options.method === 'basinhopping')) {
    throw new InvalidOptionError('method', options.method, "'auto', 'sample' or 'cmaes': the model is outside the IR, so there is no gradient graph");
  }
  const isHighDim = freeDimension(ctx.box) > CMAES_MAX_DIM;
  let shares: Partial<Record<ComponentName, number>> =
    options.method === 'auto'
      ? options.hasGradients
        ? isHighDim
          ? HIGH_DIM_SHARES
          : AUTO_SHARES
        : isHighDim
          ? HIGH_DIM_BLACK_BOX_SHARES
          : BLACK_BOX_SHARES
      : { [options.method]: 1 };
  if (options.method === 'auto' && ctx.regionAscent) {
    shares = { walk: WALK_SHARE, ...Object.fromEntries(Object.entries(shares).map(([k, v]) => [k, (v as number) * (1 - WALK_SHARE)])) };
  }
  const componentOptions: ComponentOptions = 'walk' in shares ? { beside: 'walk' } : {};
  const stopCause = (): StopCause | undefined => {
    if (options.signal?.aborted) return 'aborted';
    if (options.target !== undefined && ctx.reaches(options.target)) return 'target';
    if (options.shouldStop?.()) return 'external';
    if (performance.now() >= options.deadline) return 'time';
    return undefined;
  };
  // In high dimension with gradients the sign-corner ascent comes first, then the design, then the
  // first ascent and the first hops (see cornerAscent, firstAscent and firstHops).
  const isFirstAscent = isHighDim && options.hasGradients && options.method === 'auto';
  let cause = isFirstAscent ? await cornerAscent(ctx, options, stopCause) : undefined;
  if (cause === undefined) {
    // A quasi-random design: it seeds every start point and is cheap in a few batches.
    const design = createComponent('sample', ctx, options.rng.fork(), 0, { initial: true, ...componentOptions });
    do {
      await step(ctx, design);
      cause = stopCause();
    } while (cause === undefined && design.stop().length === 0);
    options.report('sample');
  }
  if (cause === undefined && isFirstAscent) cause = await firstAscent(ctx, options, stopCause);
  if (cause === undefined && isFirstAscent) cause = await firstHops(ctx, options, stopCause);
  // Created after the design, so that their first runs start from its best points (and not at
  // all when the design or the first ascent has ended the search: Adam's 64 starts alone take
  // 10-40 ms to draw at 784 inputs). Only the walk is created here, the others on their first
  // step, so that the first walk does not wait for them (0.4 ms on ACAS Xu).
  const slots: Slot[] = cause !== undefined ? [] : Object.entries(shares).map(([name, share]) => {
    const rng = options.rng.fork();
    return {
      name: name as ComponentName,
      share: share as number,
      spentMs: 0,
      opt: name === 'walk' ? createComponent(name as ComponentName, ctx, rng, 0, componentOptions) : undefined,
      rng,
      runs: 1,
    };
  });
  const walkSlot = slots.find((s) => s.name === 'walk');
  const helper = walkSlot && options.walkHelper?.();
  try {
    const remote = helper && new RemoteWalks(walkSlot!.opt as RegionWalk, helper);
    remote?.prime();
    return await mainLoop(ctx, options, { slots, shares, componentOptions, cause, stopCause, remote });
  } finally {
    helper?.close();
  }
}

/** The portfolio's state after the design (see runPortfolio). */
interface Loop {
  readonly slots: Slot[];
  readonly shares: Partial<Record<ComponentName, number>>;
  readonly componentOptions: ComponentOptions;
  readonly cause: StopCause | undefined;
  readonly stopCause: () => StopCause | undefined;
  /** The walk slot's walks on a helper thread. */
  readonly remote: RemoteWalks | undefined;
}

/** Steps the slots until a stop cause, then polishes the incumbent (see runPortfolio). */
async function mainLoop(ctx: SearchContext, options: PortfolioOptions, { slots, shares, componentOptions, stopCause, remote, ...loop }: Loop): Promise<PortfolioOutcome> {
  let cause = loop.cause;
  const walkSlot = slots.find((s) => s.name === 'walk');
  let lastYield = performance.now();
  while (cause === undefined) {
    const isRemote = remote?.isActive === true;
    if (isRemote) {
      const before = ctx.incumbent?.value;
      await remote.pump(ctx);
      if (ctx.incumbent && ctx.incumbent.value !== before) options.report('walk');
      if ((cause = stopCause()) !== undefined) break;
    }
    // the walk slot's share of this thread goes to the others while its walks run on the helper
    let slot = slots[0] === walkSlot && isRemote ? slots[1] : slots[0];
    for (const s of slots) if (s.spentMs / s.share < slot.spentMs / slot.share && !(isRemote && s === walkSlot)) slot = s;
    const t = performance.now();
    const before = ctx.incumbent?.value;
    const opt = (slot.opt ??= createComponent(slot.name, ctx, slot.rng, 0, componentOptions));
    await step(ctx, opt);
    const stepMs = performance.now() - t;
    slot.spentMs += stepMs;
    await options.afterStep?.(stepMs);
    if (ctx.incumbent && ctx.incumbent.value !== before) options.report(slot.name);
    if (opt.stop().length > 0) {
      slot.opt = createComponent(slot.name, ctx, options.rng.fork(), slot.runs++, componentOptions);
    }
    if (performance.now() - lastYield > 50) {
      await new Promise((r) => setTimeout(r, 0)); // let signals and progress consumers run
      lastYield = performance.now();
    }
    cause = stopCause();
  }
  // Polish: a short projected quasi-Newton run from the incumbent (not after an abort).
  if (options.hasGradients && ctx.incumbent && cause !== 'aborted' && cause !== 'target') {
    const polish = createComponent(POLISH, ctx, options.rng.fork(), 0);
    const until = performance.now() + 200;
    for (let i = 0; i < 200 && polish.stop().length === 0 && performance.now() < until; i++) await step(ctx, polish);
    options.report('polish');
  }
  const inc = ctx.incumbent;
  if (inc === undefined) {
    // every point tried was outside the domain (and not repairable into it), or valued NaN
    throw ctx.hasRepair
      ? new InvalidOptionError(
          options.domainName ?? 'domain',
          `${ctx.evaluations} points tried`,
          'a domain the search can reach: none of the points tried could be repaired into it (integer or one-hot inputs that no linear row allows, or a region thinner than the repair tolerance, 1e-9 relative)',
        )
      : new InvalidOptionError(options.modelName ?? 'model', `NaN objective at all ${ctx.evaluations} points tried`, 'a network with a finite objective somewhere in the box');
  }
  const method = options.method === 'auto' ? `auto(${Object.keys(shares).join('+')})` : options.method;
  return { x: inc.x, value: inc.value, evaluations: ctx.evaluations, method, reason: cause };
}

/**
 * In high dimension, with gradients, before the design: the sign-corner ascent from the box
 * centre (steepest ascent in the infinity norm, see SignCornerAscent) to its fixed point. On the
 * 20 maximisations over 784-input networks of ../shared/maximize (small boxes around an image,
 * near-linear nets) it alone reaches 13 optima, in 1-3 ms where the design and the first ascent
 * took 3-130 ms: the geometric mean time to the optimum over the 17 reached fell from 15.8 to
 * 4.6 ms (six seeds, alternated; 5.6 ms with the full corner steps alone, without backtracking).
 */
async function cornerAscent(ctx: SearchContext, options: PortfolioOptions, stopCause: () => StopCause | undefined): Promise<StopCause | undefined> {
  const ascent = createComponent('corner', ctx, options.rng.fork(), 0);
  let cause: StopCause | undefined;
  while (ascent.stop().length === 0 && cause === undefined) {
    await stepAlone(ctx, options, ascent);
    cause = stopCause();
  }
  options.report('corner');
  return cause;
}

/** The high-dimensional first ascent (see FIRST_ASCENT_ROUNDS): projected L-BFGS from the incumbent. */
async function firstAscent(ctx: SearchContext, options: PortfolioOptions, stopCause: () => StopCause | undefined): Promise<StopCause | undefined> {
  const ascent = createComponent(POLISH, ctx, options.rng.fork(), 0);
  const until = Math.min(options.deadline, performance.now() + FIRST_ASCENT_MS);
  const before = ctx.incumbent?.value;
  let cause: StopCause | undefined;
  for (let i = 0; i < FIRST_ASCENT_ROUNDS && ascent.stop().length === 0 && performance.now() < until && cause === undefined; i++) {
    await stepAlone(ctx, options, ascent);
    cause = stopCause();
  }
  if (ctx.incumbent?.value !== before) options.report('ascent');
  return cause;
}

/** Basin hopping from the first ascent's end point while it gains (see FIRST_HOPS_QUIET_MS). */
async function firstHops(ctx: SearchContext, options: PortfolioOptions, stopCause: () => StopCause | undefined): Promise<StopCause | undefined> {
  const hops = createComponent('basinhopping', ctx, options.rng.fork(), 0);
  let lastGain = performance.now();
  let cause: StopCause | undefined;
  while (cause === undefined && hops.stop().length === 0 && performance.now() - lastGain < FIRST_HOPS_QUIET_MS) {
    const before = ctx.incumbent?.value;
    await stepAlone(ctx, options, hops);
    if (ctx.incumbent?.value !== before) {
      lastGain = performance.now();
      options.report('basinhopping');
    }
    cause = stopCause();
  }
  return cause;
}

/** One step of a component that runs alone (before the rotation), with branch-and-bound's turn after it. */
async function stepAlone(ctx: SearchContext, options: PortfolioOptions, opt: Optimizer): Promise<void> {
  const t = performance.now();
  await step(ctx, opt);
  await options.afterStep?.(performance.now() - t);
}

async function step(ctx: SearchContext, opt: Optimizer): Promise<void> {
  const points = opt.ask();
  if (points.length === 0) return;
  const { values, grads } = await ctx.evaluate(points, opt.needsGradients);
  opt.tell(points, values, grads);
}
