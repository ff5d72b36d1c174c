/**
 * @nnmax/bounds: certified bounds of networks in the nnmax IR over boxes (IBP, CROWN,
 * alpha-CROWN) and anytime branch-and-bound for their maximum.
 */
export { boundLinear, boundMaxMin, intervalBounds, boxBatch } from './bound-batch.js';
export type { BoundOptions, BoundMethod, BoxBatch, LinearBounds, MaxMinBounds } from './bound-batch.js';
export type { AlphaOptions } from './alpha.js';
export type { IntervalBatch } from './interval-batch.js';
export { linearSpec, evaluateSpec } from './spec.js';
export type { MaxMinSpec, SpecDisjunct } from './spec.js';
export { branchAndBound } from './bab.js';
export type { BabOptions, BabResult, BabStatus, BabProgress, BabIncumbent } from './bab.js';
export { DomainBounder, reluLayout } from './bab-bounding.js';
export type { BabDomain, BounderInit, BounderSettings, BoundingHelper, BoundOutcome, PruneState, ReluLayout } from './bab-bounding.js';
export { polytopeBound, rowsCuttingBox, validatePolytope } from './polytope-bound.js';
export type { InputPolytope } from './polytope-bound.js';
export { releaseScratch } from './scratch.js';
export { RegionAscent, isPiecewiseLinear, regionAscentCost } from './region-ascent.js';
export type { RegionAscentResult } from './region-ascent.js';
export { maximizeSmallLp } from './small-lp.js';
export type { SmallLp, SmallLpResult } from './small-lp.js';
