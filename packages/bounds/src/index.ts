export { boundLinear, boundMaxMin, boxBatch, intervalBounds } from './bound-batch.js';
export type { BoundMethod, BoundOptions, BoxBatch, LinearBounds, MaxMinBounds } from './bound-batch.js';
export { branchAndBound } from './bab.js';
export type { BabIncumbent, BabOptions, BabProgress, BabResult, BabStatus } from './bab.js';
export { linearSpec, evaluateSpec } from './spec.js';
export type { MaxMinSpec, SpecDisjunct } from './spec.js';
