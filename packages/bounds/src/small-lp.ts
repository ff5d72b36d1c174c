/**
 * A dense linear programme max g . w subject to A w <= b, small in its number of variables (up to
 * a few dozen) and with many rows, solved from a feasible point by the primal active-set method
 * (Nocedal & Wright, "Numerical Optimization", section 16.5, with the Hessian zero): move along
 * the gradient projected onto the null space of the working set until a row blocks, add that
 * row; at a vertex (or once the projected gradient vanishes), drop the working row with the most
 * negative Lagrange multiplier, or stop when none is negative.
 *
 * It is a search heuristic, not a certificate: it returns a feasible point at least as good as
 * the start, optimal unless the iteration cap is reached (degenerate vertices can cycle).
 */
export interface SmallLp {
  /** Variables. */
  readonly dim: number;
  /** Rows. */
  readonly m: number;
  /** [m, dim] row-major */
  readonly A: Float64Array;
  /** [m] */
  readonly b: Float64Array;
  /** [dim] objective, maximised */
  readonly g: Float64Array;
}

export interface SmallLpResult {
  /** [dim] the final point, feasible to round-off. */
  readonly w: Float64Array;
  readonly value: number;
  /** Rows of the final working set, and their multipliers (g = sum lambda_i a_i). */
  readonly active: readonly number[];
  readonly lambda: readonly number[];
  /** True when the multipliers proved optimality (false: iteration cap). */
  readonly isOptimal: boolean;
  readonly iterations: number;
}

/** Relative size below which the projected gradient counts as zero. */
const ZERO_DIRECTION = 1e-11;
/** Multipliers above -LAMBDA_TOL (relative to |g|) count as non-negative. */
const LAMBDA_TOL = 1e-10;

/**
 * Maximises g . w over { A w <= b } from the feasible point w0 (rows violated by round-off are
 * treated as tight), optionally with a first working set of rows tight at w0 (rows that are not
 * tight or are dependent are skipped). `maxIterations` caps added plus dropped rows.
 */
export function maximizeSmallLp(lp: SmallLp, w0: Float64Array, initialActive: readonly number[] = [], maxIterations = 30 * lp.dim + 60): SmallLpResult {
  const { dim, m, A, b, g } = lp;
  const w = Float64Array.from(w0);
  const gNorm = Math.sqrt(dot(g, 0, g, 0, dim)) || 1;
  const active: number[] = [];
  // Orthonormal basis of the working rows' span (Gram-Schmidt, rebuilt after a drop): [k, dim]
  const { isActive, rowNorms, slack, ad, Q, d, M } = scratch(m, dim);
  // per row: its norm, and its slack b - A w (kept up to date along the steps)
  for (let i = 0; i < m; i++) {
    isActive[i] = 0;
    let nn = 0;
    let aw = 0;
    const o = i * dim;
    for (let j = 0; j < dim; j++) {
      const a = A[o + j];
      nn += a * a;
      aw += a * w[j];
    }
    rowNorms[i] = Math.sqrt(nn);
    slack[i] = b[i] - aw;
  }
  let lambda: number[] = [];
  let iterations = 0;
  let isOptimal = false;
  // a warm start: rows known to be tight at w0 (dependent ones are skipped)
  for (const i of initialActive) {
    if (isActive[i] || active.length === dim) continue;
    if (Math.abs(slack[i]) > 1e-9 * (1 + Math.abs(b[i]))) continue;
    if (!addToBasis(A, dim, i, active.length, Q)) continue;
    active.push(i);
    isActive[i] = 1;
  }
  while (iterations < maxIterations) {
    // d = g projected onto the null space of the working rows
    d.set(g);
    for (let k = 0; k < active.length; k++) {
      const c = dot(Q, k * dim, d, 0, dim);
      for (let j = 0; j < dim; j++) d[j] -= c * Q[k * dim + j];
    }
    const dNorm = Math.sqrt(dot(d, 0, d, 0, dim));
    if (dNorm <= ZERO_DIRECTION * gNorm || active.length === dim) {
      lambda = multipliers(A, dim, active, g, M);
      let worst = -1;
      for (let k = 0; k < active.length; k++) if (lambda[k] < -LAMBDA_TOL * gNorm && (worst < 0 || lambda[k] < lambda[worst])) worst = k;
      if (worst < 0) {
        isOptimal = true;
        break;
      }
      isActive[active[worst]] = 0;
      active.splice(worst, 1);
      rebuildBasis(A, dim, active, Q);
      iterations++;
      continue;
    }
    // ratio test: the first row the step along d meets
    let step = Infinity;
    let blocking = -1;
    for (let i = 0; i < m; i++) {
      const adi = (ad[i] = dot(A, i * dim, d, 0, dim));
      if (isActive[i] || adi <= ZERO_DIRECTION * dNorm * rowNorms[i]) continue;
      const s = Math.max(0, slack[i]) / adi;
      if (s < step) {
        step = s;
        blocking = i;
      }
    }
    if (blocking < 0) break; // unbounded along d: cannot happen over a bounded region; keep w
    for (let j = 0; j < dim; j++) w[j] += step * d[j];
    for (let i = 0; i < m; i++) slack[i] -= step * ad[i];
    if (!addToBasis(A, dim, blocking, active.length, Q)) break; // dependent row: numerically degenerate
    active.push(blocking);
    isActive[blocking] = 1;
    iterations++;
  }
  if (!isOptimal) lambda = active.length > 0 ? multipliers(A, dim, active, g, M) : [];
  return { w, value: dot(g, 0, w, 0, dim), active, lambda, isOptimal, iterations };
}

/**
 * Per-row buffers of maximizeSmallLp, the basis Q [dim, dim], the direction d [dim] and the
 * multipliers' system M [dim, dim + 1], reused across calls (grown as needed; one thread, no
 * reentry): a typed array over 64 bytes takes microseconds to allocate (see scratch.ts), and a
 * region walk solves an LP per region.
 */
let rows = { isActive: new Uint8Array(0), rowNorms: new Float64Array(0), slack: new Float64Array(0), ad: new Float64Array(0), Q: new Float64Array(0), M: new Float64Array(0), d: new Float64Array(0) };

function scratch(m: number, dim: number): typeof rows {
  if (rows.slack.length < m) rows = { ...rows, isActive: new Uint8Array(m), rowNorms: new Float64Array(m), slack: new Float64Array(m), ad: new Float64Array(m) };
  if (rows.d.length !== dim) rows = { ...rows, Q: new Float64Array(dim * dim), M: new Float64Array(dim * (dim + 1)), d: new Float64Array(dim) };
  return rows;
}

function dot(a: Float64Array, ao: number, c: Float64Array, co: number, n: number): number {
  let s = 0;
  for (let j = 0; j < n; j++) s += a[ao + j] * c[co + j];
  return s;
}

/** Orthogonalises row i of A against Q's first k rows and stores it as row k; false if it is dependent. */
function addToBasis(A: Float64Array, dim: number, i: number, k: number, Q: Float64Array): boolean {
  const q = Q.subarray(k * dim, (k + 1) * dim);
  q.set(A.subarray(i * dim, (i + 1) * dim));
  const norm0 = Math.sqrt(dot(q, 0, q, 0, dim));
  for (let pass = 0; pass < 2; pass++) {
    for (let r = 0; r < k; r++) {
      const c = dot(Q, r * dim, q, 0, dim);
      for (let j = 0; j < dim; j++) q[j] -= c * Q[r * dim + j];
    }
  }
  const norm = Math.sqrt(dot(q, 0, q, 0, dim));
  if (!(norm > 1e-10 * norm0)) return false;
  for (let j = 0; j < dim; j++) q[j] /= norm;
  return true;
}

function rebuildBasis(A: Float64Array, dim: number, active: number[], Q: Float64Array): void {
  let k = 0;
  for (let a = 0; a < active.length; a++) {
    if (addToBasis(A, dim, active[a], k, Q)) k++;
    else active.splice(a--, 1); // cannot happen for rows added independent; kept for safety
  }
}

/**
 * Least-squares multipliers lambda with A_W^T lambda = g (normal equations, partial pivoting), with
 * M (at least k (k + 1) values) as the augmented system's storage.
 */
function multipliers(A: Float64Array, dim: number, active: readonly number[], g: Float64Array, M: Float64Array): number[] {
  const k = active.length;
  if (k === 0) return [];
  // M: [k, k + 1] augmented
  for (let r = 0; r < k; r++) {
    for (let c = 0; c < k; c++) M[r * (k + 1) + c] = dot(A, active[r] * dim, A, active[c] * dim, dim);
    M[r * (k + 1) + k] = dot(A, active[r] * dim, g, 0, dim);
  }
  for (let col = 0; col < k; col++) {
    let piv = col;
    for (let r = col + 1; r < k; r++) if (Math.abs(M[r * (k + 1) + col]) > Math.abs(M[piv * (k + 1) + col])) piv = r;
    if (piv !== col) {
      for (let c = 0; c <= k; c++) {
        const t = M[col * (k + 1) + c];
        M[col * (k + 1) + c] = M[piv * (k + 1) + c];
        M[piv * (k + 1) + c] = t;
      }
    }
    const p = M[col * (k + 1) + col];
    if (p === 0) continue;
    for (let r = col + 1; r < k; r++) {
      const f = M[r * (k + 1) + col] / p;
      if (f === 0) continue;
      for (let c = col; c <= k; c++) M[r * (k + 1) + c] -= f * M[col * (k + 1) + c];
    }
  }
  const lambda = new Array<number>(k).fill(0);
  for (let r = k - 1; r >= 0; r--) {
    let s = M[r * (k + 1) + k];
    for (let c = r + 1; c < k; c++) s -= M[r * (k + 1) + c] * lambda[c];
    const p = M[r * (k + 1) + r];
    lambda[r] = p === 0 ? 0 : s / p;
  }
  return lambda;
}
