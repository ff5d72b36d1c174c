/**
 * fast-check settings of the soundness properties. CI replays the pinned cases (a red build must
 * be reproducible); a long local campaign sets NNMAX_SOUNDNESS_RUNS (cases per property) and
 * FC_SEED (other cases). A failure found so becomes a plain regression test.
 */

/** FC_SEED when set, else the pinned seed. */
export function campaignSeed(pinned: number): number {
  return process.env.FC_SEED === undefined ? pinned : Number(process.env.FC_SEED);
}

/** NNMAX_SOUNDNESS_RUNS when set, else the number of cases CI runs. */
export function campaignRuns(runs: number): number {
  return process.env.NNMAX_SOUNDNESS_RUNS === undefined ? runs : Number(process.env.NNMAX_SOUNDNESS_RUNS);
}

/** Both, for a property that pins its own seed. */
export function campaign(runs: number, seed: number): { numRuns: number; seed: number } {
  return { numRuns: campaignRuns(runs), seed: campaignSeed(seed) };
}
