/**
 * fast-check settings of a soundness property: CI replays `runs` cases from its pinned `seed` (a
 * red build must be reproducible); a long local campaign sets NNMAX_SOUNDNESS_RUNS (cases per
 * property) and FC_SEED (other cases). A failure found so becomes a plain regression test.
 */
export function campaign(runs: number, seed: number): { numRuns: number; seed: number } {
  return {
    numRuns: process.env.NNMAX_SOUNDNESS_RUNS === undefined ? runs : Number(process.env.NNMAX_SOUNDNESS_RUNS),
    seed: process.env.FC_SEED === undefined ? seed : Number(process.env.FC_SEED),
  };
}
