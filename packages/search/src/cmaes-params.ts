import { InvalidOptionError } from '@nnmax/core';

/**
 * The constant strategy parameters of a CMA-ES run, computed once from the dimension n and the
 * population size lambda. Equation numbers refer to N. Hansen, "The CMA Evolution Strategy: A
 * Tutorial", arXiv:1604.00772 (Table 1 and appendix A), with the default positive weights only
 * (the (mu/mu_W, lambda) strategy, weights w_i = 0 for i > mu).
 */
export interface CmaesParams {
  /** Search-space dimension. */
  readonly n: number;
  /** Population size: lambda = 4 + floor(3 ln n), eq. 48. */
  readonly lambda: number;
  /** Number of parents: mu = floor(lambda / 2), eq. 49. */
  readonly mu: number;
  /** [mu] positive recombination weights w_i = w'_i / sum_j w'_j, w'_i = ln((lambda+1)/2) - ln i; eqs. 49, 53. Sum to 1, decreasing. */
  readonly weights: readonly number[];
  /** Variance-effective selection mass mu_eff = (sum w_i)^2 / sum w_i^2, Table 1 (below eq. 49). */
  readonly muEff: number;
  /** Learning rate of the mean c_m = 1, eq. 54. */
  readonly cm: number;
  /** Cumulation constant of the step-size path c_sigma = (mu_eff + 2) / (n + mu_eff + 5), eq. 55. */
  readonly cSigma: number;
  /** Step-size damping d_sigma = 1 + 2 max(0, sqrt((mu_eff - 1)/(n + 1)) - 1) + c_sigma, eq. 55. */
  readonly dSigma: number;
  /** Cumulation constant of the rank-one path c_c = (4 + mu_eff/n) / (n + 4 + 2 mu_eff/n), eq. 56. */
  readonly cc: number;
  /** Rank-one learning rate c_1 = alpha_cov / ((n + 1.3)^2 + mu_eff), alpha_cov = 2, eq. 57. */
  readonly c1: number;
  /** Rank-mu learning rate c_mu = min(1 - c_1, alpha_cov (mu_eff - 2 + 1/mu_eff) / ((n + 2)^2 + alpha_cov mu_eff / 2)), eq. 58. */
  readonly cMu: number;
  /** E||N(0, I)|| ~ sqrt(n) (1 - 1/(4n) + 1/(21 n^2)), text below eq. 44. */
  readonly chiN: number;
  /** h_sigma is 1 while ||p_sigma|| / sqrt(1 - (1 - c_sigma)^(2(g+1))) < (1.4 + 2/(n+1)) E||N(0,I)||, text below eq. 47. */
  readonly hSigmaThreshold: number;
  /** Generations between eigendecompositions of C: max(1, floor(1 / (10 n (c_1 + c_mu)))), appendix B.2. */
  readonly eigenGap: number;
}

/** alpha_cov, eq. 57 and 58. */
const ALPHA_COV = 2;

/** The default population size 4 + floor(3 ln n), eq. 48. */
export function defaultLambda(n: number): number {
  return 4 + Math.floor(3 * Math.log(n));
}

/** Computes the CMA-ES strategy parameters for dimension n (>= 1) and population size lambda (>= 2). */
export function cmaesParams(n: number, lambda: number = defaultLambda(n)): CmaesParams {
  if (!Number.isInteger(n) || n < 1) throw new InvalidOptionError('n', n, 'an integer dimension >= 1');
  if (!Number.isInteger(lambda) || lambda < 2) throw new InvalidOptionError('lambda', lambda, 'an integer >= 2');
  const mu = Math.floor(lambda / 2); // eq. 49
  const raw: number[] = [];
  for (let i = 1; i <= mu; i++) raw.push(Math.log((lambda + 1) / 2) - Math.log(i)); // w'_i, eq. 49
  const sum = raw.reduce((a, b) => a + b, 0);
  const weights = Object.freeze(raw.map((w) => w / sum)); // positive branch of eq. 53
  const muEff = 1 / weights.reduce((a, w) => a + w * w, 0); // (sum w)^2 / sum w^2 with sum w = 1
  const cSigma = (muEff + 2) / (n + muEff + 5); // eq. 55
  const dSigma = 1 + 2 * Math.max(0, Math.sqrt((muEff - 1) / (n + 1)) - 1) + cSigma; // eq. 55
  const cc = (4 + muEff / n) / (n + 4 + (2 * muEff) / n); // eq. 56
  const c1 = ALPHA_COV / ((n + 1.3) ** 2 + muEff); // eq. 57
  const cMu = Math.min(1 - c1, (ALPHA_COV * (muEff - 2 + 1 / muEff)) / ((n + 2) ** 2 + (ALPHA_COV * muEff) / 2)); // eq. 58
  const chiN = Math.sqrt(n) * (1 - 1 / (4 * n) + 1 / (21 * n * n)); // below eq. 44
  return Object.freeze({
    n,
    lambda,
    mu,
    weights,
    muEff,
    cm: 1, // eq. 54
    cSigma,
    dSigma,
    cc,
    c1,
    cMu,
    chiN,
    hSigmaThreshold: (1.4 + 2 / (n + 1)) * chiN, // below eq. 47
    eigenGap: Math.max(1, Math.floor(1 / (10 * n * (c1 + cMu)))), // appendix B.2
  });
}
