import { boxCenter, type Rng } from '@nnmax/core';
import { BasinHopping, Cmaes, DifferentialEvolution, IpopCmaes, MultiStartAdam, ParallelRestarts, ProjectedLbfgs, QuasiRandomSampler, SignCornerAscent, type Optimizer } from '@nnmax/search';
import { RegionWalk } from './region-walk.js';
import type { SearchContext } from './search-context.js';

/** The optimisers the portfolio runs; `lbfgs` is the final polish of the incumbent. */
export type ComponentName = 'sample' | 'adam' | 'multistart' | 'cmaes' | 'de' | 'refine' | 'basinhopping' | 'lbfgs' | 'walk' | 'corner';
export const POLISH: ComponentName = 'lbfgs';

/**
 * Size of the first quasi-random design: it seeds the searches' first start points, and on the
 * maximisation problems of ../shared/maximize 256 points did as well as 1024 in less time (the
 * median time to the optimum fell by a quarter). Generating it costs 50-130 ns per coordinate at
 * 784 inputs (a random digit permutation draw each), so in high dimension the design shrinks to
 * INITIAL_DESIGN_COORDS coordinates: 784 inputs take 21 points, where the first ascent (see
 * portfolio.ts) rather than the design does the work. With up to 6 free inputs the design also
 * holds the box's corners (see MAX_CORNERS in @nnmax/search).
 */
const INITIAL_DESIGN = 256;
const MIN_INITIAL_DESIGN = 16;
const INITIAL_DESIGN_COORDS = 2 ** 14;
/**
 * Beside the region walk the design goes on for this many batches of the first one's size (while
 * no target is reached): the walks start from its best points, and on the 45 ACAS Xu property 1
 * maximisations of ../shared/maximize a walk from the best point of 1024 points reached the
 * optimum in 48% of the runs against 31% from 256 points (70% against 51% within four walks);
 * the geometric mean time to the optimum there fell 25% (three seeds, alternated). Where the first
 * batch already holds the optimum (the test nets' corners), the others are not evaluated.
 */
const WALK_DESIGN_BATCHES = 4;

function initialDesignSize(dim: number): number {
  return Math.max(MIN_INITIAL_DESIGN, Math.min(INITIAL_DESIGN, Math.round(INITIAL_DESIGN_COORDS / Math.max(1, dim))));
}
/**
 * First population of IPOP-CMA-ES: large populations are what make CMA-ES global on multimodal
 * functions (Hansen & Kern 2004), and a batch of 64 costs about one runtime call here.
 */
const CMAES_LAMBDA = 64;
/** Projected L-BFGS runs advanced together by the multistart component (8 line-search points each). */
const LBFGS_LANES = 16;
/**
 * Differential evolution in the portfolio runs until its population's values agree to
 * DE_TOL_FUN (relative; scipy's default 0.01 stopped it within about 5e-4 of the ACAS Xu optima,
 * and each restart began again from a random population), or until DE_MAX_STAGNATION generations
 * bring no better value. Only its first run is seeded with the incumbent (and not even that beside
 * the region walk; see ComponentOptions.beside): later runs start from a fresh Latin hypercube, to
 * find other basins (ACAS Xu N1,9 property 7, max y3: 0.3 s against 1-3 s when every restart was
 * seeded).
 */
const DE_TOL_FUN = 1e-7;
const DE_MAX_STAGNATION = 100;
/** Initial step of the local CMA-ES refinement, relative to the mean box width. */
const REFINE_SIGMA = 0.01;
/** Starts of multi-start Adam: one gradient batch of 64 points costs about one runtime call. */
const ADAM_STARTS = 64;

export interface ComponentOptions {
  /** The first quasi-random design (finite), rather than the endless sampling slot. */
  readonly initial?: boolean;
  /**
   * The region walk shares the portfolio: it exploits the incumbent's basin, so differential
   * evolution explores from a Latin hypercube alone rather than seeded with the incumbent (strategy
   * best/1 would otherwise mutate around the incumbent first). On the 55 ACAS Xu maximisations of
   * ../shared/maximize, six seeds, alternated: the geometric mean time to the optimum fell 6-14%.
   */
  readonly beside?: 'walk';
}

/**
 * Creates one optimiser of the portfolio, started from what the context knows: Adam from the best
 * distinct points evaluated so far (then quasi-random points), CMA-ES around the incumbent on its
 * first run (IPOP restarts elsewhere), basin hopping and the polish from the incumbent.
 */
export function createComponent(name: ComponentName, ctx: SearchContext, rng: Rng, run: number, options: ComponentOptions = {}): Optimizer {
  const box = ctx.box;
  const incumbent = ctx.incumbent?.x;
  switch (name) {
    case 'sample': {
      if (!options.initial) return new QuasiRandomSampler({ box, rng, batchSize: 256 });
      const batch = initialDesignSize(ctx.dim);
      const total = batch * (options.beside === 'walk' ? WALK_DESIGN_BATCHES : 1);
      return new QuasiRandomSampler({ box, rng, batchSize: batch, total, corners: true });
    }
    case 'adam': {
      // First run: the elite of the design; later runs: a few elite points, the rest fresh.
      const elite = ctx.elite.map((e) => e.x);
      const starts = run === 0 ? elite.slice(0, ADAM_STARTS / 4) : elite.slice(0, 4);
      return new MultiStartAdam({ box, rng, starts, nStarts: ADAM_STARTS });
    }
    case 'multistart':
      // scipy-style multistart L-BFGS-B, batched: uniformly random starts (the first from the incumbent)
      return new ParallelRestarts({
        rng,
        lanes: LBFGS_LANES,
        make: (r, lane, laneRun) => new ProjectedLbfgs({ box, x0: run === 0 && lane === 0 && laneRun === 0 ? incumbent : uniformPoint(ctx, r) }),
      });
    case 'refine':
      // Gradient-free local refinement around the incumbent: ReLU nets peak on kinks, where
      // gradient steps stall and a small CMA-ES keeps climbing.
      return new Cmaes({ box, rng, x0: incumbent, sigma0: REFINE_SIGMA * meanWidth(ctx), lambda: 16 });
    case 'de':
      return new DifferentialEvolution({ box, rng, seeds: incumbent && run === 0 && options.beside !== 'walk' ? [incumbent] : [], tolFun: DE_TOL_FUN, maxStagnation: DE_MAX_STAGNATION });
    case 'cmaes':
      return new IpopCmaes({ box, rng, x0: run === 0 ? incumbent : undefined, lambda: CMAES_LAMBDA });
    case 'basinhopping':
      return new BasinHopping({ box, rng, x0: incumbent, temperature: metropolisTemperature(ctx) });
    case 'lbfgs':
      return new ProjectedLbfgs({ box, x0: incumbent });
    case 'corner':
      // from the box centre (the nominal input of a local robustness property)
      return new SignCornerAscent({ box, starts: [boxCenter(box)] });
    case 'walk':
      if (!ctx.regionAscent) throw new Error('the region walk needs a piecewise-linear network');
      return new RegionWalk(ctx, ctx.regionAscent, rng);
  }
}

/**
 * The Metropolis temperature in units of the objective: the spread of the best values seen (a hop
 * to a basin that much worse is accepted with probability 1/e), never zero.
 */
function metropolisTemperature(ctx: SearchContext): number {
  const e = ctx.elite;
  if (e.length < 2) return 1;
  const spread = e[0].value - e[Math.min(e.length - 1, 15)].value;
  return spread > 0 && Number.isFinite(spread) ? spread : Math.max(1e-12, 1e-3 * Math.abs(e[0].value));
}

function uniformPoint(ctx: SearchContext, rng: Rng): Float64Array {
  return Float64Array.from(ctx.box.lo, (lo, i) => rng.uniform(lo, ctx.box.hi[i]));
}

function meanWidth(ctx: SearchContext): number {
  let sum = 0;
  let n = 0;
  for (let i = 0; i < ctx.dim; i++) {
    const w = ctx.box.hi[i] - ctx.box.lo[i];
    if (w > 0) {
      sum += w;
      n++;
    }
  }
  return n === 0 ? 1 : sum / n;
}
