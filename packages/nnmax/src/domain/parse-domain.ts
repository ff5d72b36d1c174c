import { dotErrorFactor, InvalidOptionError, ShapeError, type Box } from '@nnmax/core';

/**
 * A search domain over the flattened inputs, normalised from a `--domain` JSON file
 * (`docs/domain-format.md`): x is feasible iff
 *   - `box.lo <= x <= box.hi`,
 *   - `x[i] === v` for every `[i, v]` of `fixed` (the box is `[v, v]` there too),
 *   - `x[i]` is an integer for every i in `integer` (their box bounds are integers),
 *   - each `oneHot` group has exactly one member equal to 1 and the others 0 (box `[0, 1]`),
 *   - `A x <= b` row by row.
 */
export interface Domain {
  readonly box: Box;
  readonly fixed: ReadonlyMap<number, number>;
  readonly linear: {
    readonly A: Float64Array; // [m, n] row-major
    readonly b: Float64Array; // [m]
  };
  /** Sorted, distinct. */
  readonly integer: readonly number[];
  /** Disjoint groups of two or more inputs, each sorted. */
  readonly oneHot: readonly (readonly number[])[];
  /** Where it came from (the file name given to `parseDomain`), for error messages. */
  readonly name?: string;
}

/** Keys a domain file may have at the top level. */
const TOP_KEYS: ReadonlySet<string> = new Set(['description', 'inputs', 'box', 'fixed', 'integer', 'oneHot', 'linear']);
const INPUT_KEYS: ReadonlySet<string> = new Set(['name', 'lo', 'hi', 'fixed', 'integer']);
const ROW_KEYS: ReadonlySet<string> = new Set(['a', 'b', 'sense']);
const INDEX_KEY = /^(0|[1-9]\d*)$/;

/**
 * Relative tightening of each linear row during the projection in `repairToDomain`: rows are
 * projected onto `a . x <= b - REPAIR_MARGIN * scale` (scale = |b| + sum |a_i| max(|lo_i|, |hi_i|))
 * so that the repaired point satisfies the untightened row exactly in float64. The float64 error
 * of the dot product is at most `dotErrorFactor(n) * scale` (about 1e-13 scale for n = 1000), and
 * the extra room lets the alternating projections reach the inside in finitely many sweeps.
 */
export const REPAIR_MARGIN = 1e-9;
/** Sweeps of Dykstra's projection before `repairToDomain` gives up. */
export const REPAIR_MAX_SWEEPS = 2000;

/** Parses the JSON text of a domain file for a model with `nIn` inputs. */
export function parseDomain(text: string, nIn: number, name = 'domain'): Domain {
  let spec: unknown;
  try {
    spec = JSON.parse(text);
  } catch (e) {
    throw new InvalidOptionError(name, e instanceof Error ? e.message : String(e), 'a JSON domain file (see docs/domain-format.md)');
  }
  return normalizeDomain(spec, nIn, name);
}

/**
 * Validates a parsed domain specification and normalises it. Every problem throws
 * `InvalidOptionError` naming the field path (`domain.linear[1].a[3]`) and the offending value.
 */
export function normalizeDomain(spec: unknown, nIn: number, name = 'domain'): Domain {
  if (!Number.isInteger(nIn) || nIn < 1) throw new InvalidOptionError('nIn', nIn, 'a positive number of model inputs');
  const obj = expectObject(spec, name);
  for (const key of Object.keys(obj)) {
    if (!TOP_KEYS.has(key)) throw new InvalidOptionError(`${name}.${key}`, obj[key], `one of the fields ${[...TOP_KEYS].join(', ')}`);
  }
  if (obj.description !== undefined && typeof obj.description !== 'string') {
    throw new InvalidOptionError(`${name}.description`, obj.description, 'a string');
  }

  const lo = new Float64Array(nIn);
  const hi = new Float64Array(nIn);
  const fixed = new Map<number, number>();
  const integer = new Set<number>();
  const hasBox = obj.box !== undefined;
  const hasInputs = obj.inputs !== undefined;
  if (hasBox === hasInputs) {
    throw new InvalidOptionError(name, hasBox ? 'both box and inputs' : 'neither box nor inputs', 'exactly one of "box": [[lo, hi], ...] and "inputs": [{ "lo": ..., "hi": ... }, ...]');
  }
  if (hasBox) {
    const rows = expectArray(obj.box, `${name}.box`, nIn);
    rows.forEach((pair, i) => {
      const p = expectArray(pair, `${name}.box[${i}]`, 2);
      lo[i] = expectNumber(p[0], `${name}.box[${i}][0]`);
      hi[i] = expectNumber(p[1], `${name}.box[${i}][1]`);
      if (lo[i] > hi[i]) throw new InvalidOptionError(`${name}.box[${i}]`, p, 'lo <= hi');
    });
  } else {
    const inputs = expectArray(obj.inputs, `${name}.inputs`, nIn);
    inputs.forEach((entry, i) => {
      const path = `${name}.inputs[${i}]`;
      const e = expectObject(entry, path);
      for (const key of Object.keys(e)) {
        if (!INPUT_KEYS.has(key)) throw new InvalidOptionError(`${path}.${key}`, e[key], `one of the fields ${[...INPUT_KEYS].join(', ')}`);
      }
      if (e.name !== undefined && typeof e.name !== 'string') throw new InvalidOptionError(`${path}.name`, e.name, 'a string');
      const v = e.fixed === undefined ? undefined : expectNumber(e.fixed, `${path}.fixed`);
      if (v === undefined && (e.lo === undefined || e.hi === undefined)) {
        throw new InvalidOptionError(path, entry, 'both "lo" and "hi", or "fixed"');
      }
      lo[i] = e.lo === undefined ? (v as number) : expectNumber(e.lo, `${path}.lo`);
      hi[i] = e.hi === undefined ? (v as number) : expectNumber(e.hi, `${path}.hi`);
      if (lo[i] > hi[i]) throw new InvalidOptionError(path, entry, 'lo <= hi');
      if (v !== undefined) addFixed(fixed, i, v, lo[i], hi[i], `${path}.fixed`);
      if (e.integer !== undefined) {
        if (typeof e.integer !== 'boolean') throw new InvalidOptionError(`${path}.integer`, e.integer, 'true or false');
        if (e.integer) integer.add(i);
      }
    });
  }

  if (obj.fixed !== undefined) {
    const f = expectObject(obj.fixed, `${name}.fixed`);
    for (const [key, value] of Object.entries(f)) {
      const i = expectIndexKey(key, `${name}.fixed`, nIn);
      const v = expectNumber(value, `${name}.fixed.${key}`);
      if (fixed.has(i) && fixed.get(i) !== v) throw new InvalidOptionError(`${name}.fixed.${key}`, v, `the value ${fixed.get(i)} given for input ${i} in inputs`);
      addFixed(fixed, i, v, lo[i], hi[i], `${name}.fixed.${key}`);
    }
  }
  for (const [i, v] of fixed) {
    lo[i] = v;
    hi[i] = v;
  }

  if (obj.integer !== undefined) {
    expectArray(obj.integer, `${name}.integer`).forEach((v, k) => integer.add(expectIndex(v, `${name}.integer[${k}]`, nIn)));
  }
  for (const i of integer) {
    if (fixed.has(i) && !Number.isInteger(fixed.get(i))) {
      throw new InvalidOptionError(`${name} input ${i}`, fixed.get(i), 'an integer value for a fixed integer input');
    }
    const l = Math.ceil(lo[i]);
    const h = Math.floor(hi[i]);
    if (l > h) throw new InvalidOptionError(`${name} input ${i}`, `${lo[i]}:${hi[i]}`, 'an integer input whose bounds contain an integer');
    lo[i] = l;
    hi[i] = h;
  }

  const oneHot: number[][] = [];
  if (obj.oneHot !== undefined) {
    const seen = new Map<number, number>();
    expectArray(obj.oneHot, `${name}.oneHot`).forEach((g, k) => {
      const path = `${name}.oneHot[${k}]`;
      const members = expectArray(g, path).map((v, t) => expectIndex(v, `${path}[${t}]`, nIn));
      if (members.length < 2) throw new InvalidOptionError(path, g, 'a group of two or more inputs (a single input that must be 1 is a fixed input)');
      for (const i of members) {
        if (seen.has(i)) throw new InvalidOptionError(path, g, `groups without shared inputs (input ${i} is also in oneHot[${seen.get(i)}])`);
        seen.set(i, k);
        const v = fixed.get(i);
        if (v !== undefined) {
          if (v !== 0 && v !== 1) throw new InvalidOptionError(`${name} input ${i}`, v, `0 or 1 as the fixed value of a member of oneHot[${k}]`);
        } else if (!(lo[i] <= 0 && hi[i] >= 1)) {
          throw new InvalidOptionError(`${name} input ${i}`, `${lo[i]}:${hi[i]}`, `bounds containing 0 and 1 for a member of oneHot[${k}]`);
        }
      }
      const ones = members.filter((i) => fixed.get(i) === 1).length;
      const zeros = members.filter((i) => fixed.get(i) === 0).length;
      if (ones > 1) throw new InvalidOptionError(path, g, 'at most one member fixed to 1');
      if (zeros === members.length) throw new InvalidOptionError(path, g, 'at least one member not fixed to 0');
      for (const i of members) {
        if (!fixed.has(i)) {
          lo[i] = 0;
          hi[i] = 1;
        }
      }
      oneHot.push([...members].sort((a, b) => a - b));
    });
  }

  const rowsA: Float64Array[] = [];
  const rowsB: number[] = [];
  if (obj.linear !== undefined) {
    expectArray(obj.linear, `${name}.linear`).forEach((r, k) => {
      const path = `${name}.linear[${k}]`;
      const row = expectObject(r, path);
      for (const key of Object.keys(row)) {
        if (!ROW_KEYS.has(key)) throw new InvalidOptionError(`${path}.${key}`, row[key], `one of the fields ${[...ROW_KEYS].join(', ')}`);
      }
      const a = new Float64Array(nIn);
      if (Array.isArray(row.a)) {
        expectArray(row.a, `${path}.a`, nIn).forEach((v, i) => (a[i] = expectNumber(v, `${path}.a[${i}]`)));
      } else {
        const sparse = expectObject(row.a, `${path}.a`, 'a list of n coefficients or an object {"<input index>": coefficient}');
        for (const [key, v] of Object.entries(sparse)) a[expectIndexKey(key, `${path}.a`, nIn)] = expectNumber(v, `${path}.a.${key}`);
      }
      if (a.every((v) => v === 0)) throw new InvalidOptionError(`${path}.a`, row.a, 'at least one non-zero coefficient');
      let b = expectNumber(row.b, `${path}.b`);
      const sense = row.sense ?? '<=';
      if (sense !== '<=' && sense !== '>=') {
        throw new InvalidOptionError(`${path}.sense`, sense, '"<=" or ">=" (an equality leaves no room for repair: fix the input instead)');
      }
      if (sense === '>=') {
        for (let i = 0; i < nIn; i++) a[i] = -a[i] + 0;
        b = -b + 0;
      }
      rowsA.push(a);
      rowsB.push(b);
    });
  }
  const A = new Float64Array(rowsA.length * nIn);
  rowsA.forEach((a, r) => A.set(a, r * nIn));

  return {
    box: { lo, hi },
    fixed,
    linear: { A, b: Float64Array.from(rowsB) },
    integer: [...integer].sort((a, b) => a - b),
    oneHot,
    name,
  };
}

/** The domain of a plain box (no fixed, integer, one-hot or linear constraints). */
export function domainFromBox(box: Box): Domain {
  return {
    box: { lo: Float64Array.from(box.lo), hi: Float64Array.from(box.hi) },
    fixed: new Map(),
    linear: { A: new Float64Array(0), b: new Float64Array(0) },
    integer: [],
    oneHot: [],
  };
}

/**
 * Is x in the domain? Each test allows an absolute slack `tol` (0: exact, in float64): box,
 * fixed values, integrality (`|x - round(x)| <= tol`), one-hot groups (members within tol of 0
 * or 1, exactly one near 1) and rows (`a . x <= b + tol`). Non-finite values are never feasible.
 */
export function isFeasible(domain: Domain, x: ArrayLike<number>, tol = 0): boolean {
  const { box, fixed, integer, oneHot, linear } = domain;
  const n = box.lo.length;
  if (x.length !== n) throw new ShapeError('domain point x', `${n} values`, `${x.length}`);
  if (!(tol >= 0)) throw new InvalidOptionError('tol', tol, 'a number >= 0');
  for (let i = 0; i < n; i++) {
    const v = x[i];
    if (!Number.isFinite(v) || v < box.lo[i] - tol || v > box.hi[i] + tol) return false;
  }
  for (const [i, v] of fixed) if (Math.abs(x[i] - v) > tol) return false;
  for (const i of integer) if (Math.abs(x[i] - Math.round(x[i])) > tol) return false;
  for (const group of oneHot) {
    let ones = 0;
    for (const i of group) {
      if (Math.abs(x[i] - 1) <= tol) ones++;
      else if (Math.abs(x[i]) > tol) return false;
    }
    if (ones !== 1) return false;
  }
  const m = linear.b.length;
  for (let r = 0; r < m; r++) {
    let dot = 0;
    for (let i = 0; i < n; i++) dot += linear.A[r * n + i] * x[i];
    if (!(dot <= linear.b[r] + tol)) return false;
  }
  return true;
}

/**
 * Moves x into the domain, or returns null. In order: non-finite entries go to a bound (NaN to
 * the box centre), clamp to the box, set fixed inputs, round integer inputs, set each one-hot
 * group to its largest free member; then, if a linear row is broken, Dykstra's alternating
 * projection onto the rows (tightened by `REPAIR_MARGIN`) and the box, moving only the
 * continuous free inputs. The result is returned only if `isFeasible(domain, result, 0)`; a
 * row that the discrete and fixed inputs alone break, or a thin or empty polytope, gives null.
 */
export function repairToDomain(domain: Domain, x: ArrayLike<number>): Float64Array | null {
  const { box, fixed, integer, oneHot, linear } = domain;
  const n = box.lo.length;
  if (x.length !== n) throw new ShapeError('domain point x', `${n} values`, `${x.length}`);
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const v = x[i];
    const lo = box.lo[i];
    const hi = box.hi[i];
    y[i] = Number.isNaN(v) ? 0.5 * (lo + hi) : v < lo ? lo : v > hi ? hi : v;
  }
  for (const [i, v] of fixed) y[i] = v;
  for (const i of integer) y[i] = Math.min(box.hi[i], Math.max(box.lo[i], Math.round(y[i])));
  for (const group of oneHot) {
    let hot = group.find((i) => fixed.get(i) === 1);
    if (hot === undefined) {
      for (const i of group) if (fixed.get(i) !== 0 && (hot === undefined || y[i] > y[hot])) hot = i;
    }
    for (const i of group) y[i] = i === hot ? 1 : 0;
  }
  if (isFeasible(domain, y, 0)) return y;
  if (linear.b.length === 0) return null;
  return projectOntoRows(domain, y);
}

/** Dykstra's projection of y onto {tightened rows} ∩ box over the continuous free inputs. */
function projectOntoRows(domain: Domain, y: Float64Array): Float64Array | null {
  const { box, fixed, linear } = domain;
  const n = box.lo.length;
  const m = linear.b.length;
  const isDiscrete = new Uint8Array(n);
  for (const i of domain.integer) isDiscrete[i] = 1;
  for (const g of domain.oneHot) for (const i of g) isDiscrete[i] = 1;
  const free: number[] = [];
  for (let i = 0; i < n; i++) if (!isDiscrete[i] && !fixed.has(i) && box.lo[i] < box.hi[i]) free.push(i);
  if (free.length === 0) return null;

  const eps = dotErrorFactor(n);
  // Per row: the target c_r (b tightened, minus the frozen inputs' part) and |a_free|^2.
  const target = new Float64Array(m);
  const norm2 = new Float64Array(m);
  const scales = new Float64Array(m);
  const isFree = new Uint8Array(n);
  for (const i of free) isFree[i] = 1;
  for (let r = 0; r < m; r++) {
    let scale = Math.abs(linear.b[r]);
    let frozen = 0;
    let nn = 0;
    for (let i = 0; i < n; i++) {
      const a = linear.A[r * n + i];
      scale += Math.abs(a) * Math.max(Math.abs(box.lo[i]), Math.abs(box.hi[i]));
      if (isFree[i]) nn += a * a;
      else frozen += a * y[i];
    }
    // a row that only frozen inputs can satisfy, and they do not: no projection helps
    if (nn === 0 && !(frozen <= linear.b[r])) return null;
    target[r] = linear.b[r] - frozen - Math.max(REPAIR_MARGIN, 4 * eps) * scale;
    norm2[r] = nn;
    scales[r] = scale;
  }

  const nf = free.length;
  const z = Float64Array.from(free, (i) => y[i]); // the free coordinates
  const inc = new Float64Array((m + 1) * nf); // Dykstra increments, one per set
  const w = new Float64Array(nf);
  const candidate = Float64Array.from(y);
  for (let sweep = 0; sweep < REPAIR_MAX_SWEEPS; sweep++) {
    let moved = 0;
    for (let r = 0; r <= m; r++) {
      const p = r * nf;
      for (let t = 0; t < nf; t++) w[t] = z[t] + inc[p + t];
      if (r < m) {
        let dot = 0;
        for (let t = 0; t < nf; t++) dot += linear.A[r * n + free[t]] * w[t];
        const excess = dot - target[r];
        if (excess > 0 && norm2[r] > 0) {
          const s = excess / norm2[r];
          for (let t = 0; t < nf; t++) z[t] = w[t] - s * linear.A[r * n + free[t]];
        } else {
          z.set(w);
        }
      } else {
        for (let t = 0; t < nf; t++) {
          const i = free[t];
          z[t] = Math.min(box.hi[i], Math.max(box.lo[i], w[t]));
        }
      }
      for (let t = 0; t < nf; t++) {
        const d = w[t] - z[t];
        moved += Math.abs(d - inc[p + t]);
        inc[p + t] = d;
      }
    }
    for (let t = 0; t < nf; t++) candidate[free[t]] = z[t];
    if (isFeasible(domain, candidate, 0)) return candidate;
    if (moved === 0) break; // a fixed point that is not feasible: try deeper rows below
  }
  return pushInside(domain, candidate, free, target, norm2, scales);
}

/** Depths (relative to each row's scale) of the deeper rows `pushInside` tries, shallow first. */
const PUSH_DEPTHS = [1e-7, 1e-5, 1e-3];
/** Over-relaxation of the cyclic projections: in (1, 2), it crosses into the row rather than stopping on it. */
const PUSH_RELAXATION = 1.5;
const PUSH_MAX_SWEEPS = 500;

/**
 * Fallback when Dykstra's projection stalls on the boundary of a thin corner: over-relaxed cyclic
 * projections onto rows tightened by a growing depth, then the box, which reach the inside of a
 * polytope with an interior point in finitely many sweeps (Agmon-Motzkin-Schoenberg). The point is
 * no longer the nearest one, but it is feasible, and only an exactly feasible point is returned.
 */
function pushInside(
  domain: Domain,
  start: Float64Array,
  free: readonly number[],
  target: Float64Array,
  norm2: Float64Array,
  scales: Float64Array,
): Float64Array | null {
  const { box, linear } = domain;
  const n = box.lo.length;
  const m = target.length;
  for (const depth of PUSH_DEPTHS) {
    const y = Float64Array.from(start);
    for (let sweep = 0; sweep < PUSH_MAX_SWEEPS; sweep++) {
      for (let r = 0; r < m; r++) {
        if (norm2[r] === 0) continue;
        let dot = 0;
        for (const i of free) dot += linear.A[r * n + i] * y[i];
        const excess = dot - (target[r] - depth * scales[r]);
        if (excess <= 0) continue;
        const s = (PUSH_RELAXATION * excess) / norm2[r];
        for (const i of free) y[i] -= s * linear.A[r * n + i];
      }
      for (const i of free) y[i] = Math.min(box.hi[i], Math.max(box.lo[i], y[i]));
      if (isFeasible(domain, y, 0)) return y;
    }
  }
  return null;
}

function addFixed(fixed: Map<number, number>, i: number, v: number, lo: number, hi: number, path: string): void {
  if (v < lo || v > hi) throw new InvalidOptionError(path, v, `a value inside the bounds [${lo}, ${hi}] of input ${i}`);
  fixed.set(i, v);
}

function expectObject(v: unknown, path: string, expected = 'an object'): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new InvalidOptionError(path, v, expected);
  return v as Record<string, unknown>;
}

function expectArray(v: unknown, path: string, length?: number): unknown[] {
  if (!Array.isArray(v)) throw new InvalidOptionError(path, v, length === undefined ? 'a list' : `a list of ${length} entries`);
  if (length !== undefined && v.length !== length) {
    throw new InvalidOptionError(path, `${v.length} entries`, `${length} entries${path.endsWith(']') ? '' : ' (one per model input)'}`);
  }
  return v;
}

function expectNumber(v: unknown, path: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new InvalidOptionError(path, v, 'a finite number');
  return v + 0; // + 0 folds -0 into 0
}

function expectIndex(v: unknown, path: string, n: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= n) throw new InvalidOptionError(path, v, `an input index 0..${n - 1}`);
  return v;
}

function expectIndexKey(key: string, path: string, n: number): number {
  if (!INDEX_KEY.test(key) || Number(key) >= n) throw new InvalidOptionError(`${path}.${key}`, key, `an input index 0..${n - 1} as the key`);
  return Number(key);
}
