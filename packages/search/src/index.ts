export { checkTell, rankValue, updateBest } from './optimizer.js';
export type { Optimizer, StopReason } from './optimizer.js';
