import { clampToBox, type Box, type Rng } from '@nnmax/core';
import { checkTell, updateBest, type Optimizer, type StopReason } from './optimizer.js';
import { checkBox, checkInteger, definedOnly } from './options.js';

/**
 * Scrambled Halton points. Coordinate j uses the j-th prime b as base, and digit k of the
 * radical inverse goes through its own uniformly random permutation of {0, ..., b-1}
 * (random digit permutation scrambling; Braaten & Weller 1979 used fixed permutations, Owen
 * 1995 and Mascagni & Chi 2004 random ones). Permutations fix the well-known correlations of
 * plain Halton in high dimensions, and being bijections on digits they keep Halton's exact
 * stratification: the first (or any consecutive) b1^a1 * b2^a2 points put exactly one point in
 * each cell of the b1^a1 x b2^a2 grid of a pair of coordinates.
 *
 * Every digit of the expansion is scrambled down to float64 resolution: the digits beyond the
 * length of the index are 0 before scrambling, so they add a fixed per-coordinate random tail.
 * Permutations are drawn lazily, one position at a time, so dimension 800 (bases up to 6133)
 * draws random numbers only for the digit values actually seen. Each coordinate has its own
 * random stream, so `nextBatch` fills a batch one coordinate at a time (its permutations stay in
 * cache: at 784 inputs a batch takes a fifth of the time of point-by-point generation), and batch
 * sizes never change the points.
 */
export class ScrambledHalton {
  readonly dim: number;
  /** Number of points generated so far (the next Halton index). */
  private index = 0;
  private readonly coords: HaltonCoordinate[];

  constructor(dim: number, rng: Rng) {
    this.dim = dim;
    const bases = firstPrimes(dim);
    this.coords = Array.from(bases, (b) => new HaltonCoordinate(b, rng.fork()));
  }

  /** The next point of the sequence, in [0, 1)^dim. */
  next(): Float64Array {
    return this.nextBatch(1)[0];
  }

  /** The next n points of the sequence. */
  nextBatch(n: number): Float64Array[] {
    const out: Float64Array[] = [];
    for (let s = 0; s < n; s++) out.push(new Float64Array(this.dim));
    for (let j = 0; j < this.dim; j++) this.coords[j].fill(this.index, n, out, j);
    this.index += n;
    return out;
  }
}

/**
 * One coordinate of {@link ScrambledHalton}: its base, digit permutations and zero-digit tails.
 * Its arrays are plain (of doubles and small integers), not typed: a typed array over 64 bytes
 * takes 1-4 us to allocate in V8 (its buffer lives outside the heap) against tens of nanoseconds
 * on the heap, and `fill` allocated two per coordinate and batch: at 5 inputs a batch of 256
 * points took 45 us, 28 us with this scratch (the sampler's construction 33 us, 20 us).
 */
class HaltonCoordinate {
  /** [k]: b^-(k+1), the weight of digit k. */
  private readonly scales: number[] = [];
  /** [k]: perm_k(0), drawn for every digit at construction (the tails need them all). */
  private readonly firsts: number[] = [];
  /**
   * [k]: the permutation of digit k+1 (k = 0 is the most significant digit), made when a nonzero
   * value of that digit is first seen: a design of 1024 points in base 2 touches 10 of 53 digits.
   */
  private readonly perms: (DigitPermutation | undefined)[] = [];
  /** [L]: sum over k > L of perm_k(0) * b^-k, the scrambled value of the zero digits. */
  private readonly tails: number[];
  /** Scratch of `fill`: the digits of the current index, and their suffix sums. */
  private readonly digits: number[];
  private readonly sums: number[];

  constructor(
    private readonly base: number,
    private readonly rng: Rng,
  ) {
    // Digits needed until b^-K is below half an ulp of 1 (2^-53).
    const nDigits = Math.ceil((53 * Math.LN2) / Math.log(base));
    for (let k = 0; k < nDigits; k++) {
      this.firsts.push(rng.int(base));
      this.perms.push(undefined);
      this.scales.push(base ** -(k + 1));
    }
    this.tails = new Array<number>(nDigits + 1).fill(0);
    for (let len = nDigits - 1; len >= 0; len--) this.tails[len] = this.tails[len + 1] + this.firsts[len] * this.scales[len];
    this.digits = new Array<number>(nDigits).fill(0);
    this.sums = new Array<number>(nDigits + 1).fill(0);
  }

  /** perm_k(d). */
  private digit(k: number, d: number): number {
    if (d === 0) return this.firsts[k];
    return (this.perms[k] ??= new DigitPermutation(this.base, this.rng, this.firsts[k])).get(d);
  }

  /**
   * Writes the scrambled radical inverses of indices i0, ..., i0 + n - 1 into coordinate j of
   * out[0], ..., out[n - 1]. The value of index i is sum_k perm_k(digit_k(i)) b^-(k+1), kept as
   * suffix sums over the digits: consecutive indices differ in their lowest digits (one, mostly),
   * so a point costs a digit or two rather than all of them (60 ns a coordinate at 4096 points
   * with the digits recomputed).
   */
  fill(i0: number, n: number, out: Float64Array[], j: number): void {
    const b = this.base;
    const nDigits = this.firsts.length;
    const scales = this.scales;
    const digits = this.digits;
    digits.fill(0);
    let len = 0;
    for (let i = i0; i > 0 && len < nDigits; len++) {
      const q = Math.floor(i / b);
      digits[len] = i - q * b;
      i = q;
    }
    // sums[k] = sum over digits k.. of their scrambled values; zero digits (k >= len) sum to tails[k]
    const sums = this.sums;
    for (let k = 0; k <= nDigits; k++) sums[k] = this.tails[k];
    for (let k = len - 1; k >= 0; k--) sums[k] = sums[k + 1] + this.digit(k, digits[k]) * scales[k];
    for (let s = 0; s < n; s++) {
      const x = sums[0];
      out[s][j] = x < 1 ? x : 1 - Number.EPSILON / 2;
      // the next index: carry through the digits that wrap (indices stay far below b^nDigits >= 2^53)
      let k = 0;
      while (k < nDigits - 1 && ++digits[k] === b) digits[k++] = 0;
      if (k === nDigits - 1) digits[k]++;
      for (let m = k; m >= 0; m--) sums[m] = sums[m + 1] + this.digit(m, digits[m]) * scales[m];
    }
  }
}

/**
 * Up to this many drawn positions, a new draw is checked against them by a scan; beyond, against a
 * table of `base` flags. A design of 21 points at 784 inputs then allocates no flag table.
 */
const SCAN_POSITIONS = 32;

/**
 * A uniformly random permutation of {0, ..., base-1}, drawn one position at a time: each new
 * position takes a uniformly random value among the unused ones. Up to half full, by rejection
 * against a used-flag table (one byte per value); after that, by swap-remove from the list of
 * unused values. The drawn values grow with the positions drawn, not with the base: in dimension
 * 800 the first digits have bases in the thousands and a design of 1024 points touches only that
 * many positions.
 */
class DigitPermutation {
  /** values[0]: most permutations of a high-dimensional design need no other. */
  private readonly first: number;
  /** values[p] for p < length once a second position is drawn (typed: `get` is the hot loop). */
  private values: Int32Array | undefined;
  private length = 1;
  private used: Uint8Array | undefined;
  /** Unused values once the permutation is half full; the first `nRest` entries are live. */
  private rest: Int32Array | undefined;
  private nRest = 0;

  constructor(
    private readonly base: number,
    private readonly rng: Rng,
    /** values[0], drawn by the caller from `rng` (see HaltonCoordinate). */
    first: number,
  ) {
    this.first = first;
  }

  get(d: number): number {
    if (d === 0) return this.first;
    if (d >= this.length) this.extend(d);
    return (this.values as Int32Array)[d];
  }

  private extend(d: number): void {
    const b = this.base;
    if (this.values === undefined || d >= this.values.length) {
      const grown = new Int32Array(Math.min(b, Math.max(d + 1, 2 * (this.values?.length ?? 1), 16)));
      if (this.values) grown.set(this.values.subarray(0, this.length));
      else grown[0] = this.first;
      this.values = grown;
    }
    const values = this.values;
    for (let p = this.length; p <= d; p++) {
      if (2 * p < b) {
        // few positions drawn: look the value up among them (no flag table of `base` bytes yet)
        const used = p < SCAN_POSITIONS && this.used === undefined ? undefined : this.usedFlags();
        let v = this.rng.int(b);
        while (used ? used[v] : isAmong(values, p, v)) v = this.rng.int(b);
        if (used) used[v] = 1;
        values[p] = v;
        continue;
      }
      if (!this.rest) {
        const used = this.usedFlags();
        this.rest = new Int32Array(b - p);
        for (let v = 0; v < b; v++) if (!used[v]) this.rest[this.nRest++] = v;
        this.used = undefined;
      }
      const j = this.rng.int(this.nRest);
      values[p] = this.rest[j];
      this.rest[j] = this.rest[--this.nRest];
    }
    this.length = d + 1;
  }

  private usedFlags(): Uint8Array {
    if (!this.used) {
      this.used = new Uint8Array(this.base);
      for (let p = 0; p < this.length; p++) this.used[(this.values as Int32Array)[p]] = 1;
    }
    return this.used;
  }
}

function isAmong(values: Int32Array, n: number, v: number): boolean {
  for (let p = 0; p < n; p++) if (values[p] === v) return true;
  return false;
}

/** The first n primes (sieve of Eratosthenes over Rosser's bound n (ln n + ln ln n)). */
function firstPrimes(n: number): Int32Array {
  const out = new Int32Array(n);
  if (n === 0) return out;
  const limit = n < 6 ? 15 : Math.ceil(n * (Math.log(n) + Math.log(Math.log(n))));
  const isComposite = new Uint8Array(limit + 1);
  let count = 0;
  for (let p = 2; p <= limit && count < n; p++) {
    if (isComposite[p]) continue;
    out[count++] = p;
    for (let q = p * p; q <= limit; q += p) isComposite[q] = 1;
  }
  return out;
}

/**
 * Maps u in [0, 1)^d to lo + u (hi - lo), clamped against rounding, into `out` (u itself maps in
 * place). Fixed inputs (lo == hi) stay lo.
 */
export function unitToBox(u: Float64Array, box: Box, out: Float64Array = new Float64Array(u.length)): Float64Array {
  for (let i = 0; i < u.length; i++) out[i] = box.lo[i] + u[i] * (box.hi[i] - box.lo[i]);
  return clampToBox(out, box);
}

/** The next n points of the sequence, mapped into the box (in place: one array per point). */
export function pointsInBox(halton: ScrambledHalton, n: number, box: Box): Float64Array[] {
  const points = halton.nextBatch(n);
  for (const x of points) unitToBox(x, box, x);
  return points;
}

export interface QuasiRandomOptions {
  readonly box: Box;
  /** Seeds the digit permutations (forked once in the constructor). */
  readonly rng: Rng;
  /** Points per ask(). */
  readonly batchSize?: number;
  /** Size of the design; the sampler stops with 'exhausted' once all are asked and told. */
  readonly total?: number;
  /**
   * The first batch also holds every corner of the box (over the inputs with lo < hi), when there
   * are at most {@link MAX_CORNERS}; they come on top of `total`.
   */
  readonly corners?: boolean;
}

/**
 * Most corners that `corners` adds (6 free inputs). On the ../shared/maximize problems the optima
 * of all 14 test-net problems and one of the two TLL problems lie at a corner of the box (none of
 * ACAS Xu's do), and the design without them missed five of those, which then took 2 ms of
 * search against 0.3 ms for the design.
 */
export const MAX_CORNERS = 64;

/** Every corner of the box over its inputs with lo < hi (the others at lo), or [] beyond `max` corners. */
function boxCorners(box: Box, max: number): Float64Array[] {
  const free: number[] = [];
  for (let k = 0; k < box.lo.length; k++) if (box.lo[k] < box.hi[k]) free.push(k);
  if (2 ** free.length > max) return [];
  return Array.from({ length: 2 ** free.length }, (_, c) => {
    const x = Float64Array.from(box.lo);
    free.forEach((k, bit) => {
      if ((c >> bit) & 1) x[k] = box.hi[k];
    });
    return x;
  });
}

/**
 * Defaults of {@link QuasiRandomSampler}:
 * - `batchSize` 256: one runtime call of a few hundred points costs about as much as one point;
 * - `total` Infinity: an endless stream (the driver's budget stops it).
 */
export const QUASI_RANDOM_DEFAULTS = Object.freeze({
  batchSize: 256,
  total: Infinity,
});

/**
 * Quasi-random sampling of the box with a scrambled Halton sequence ({@link ScrambledHalton}).
 * It ignores the values except to keep the best point.
 */
export class QuasiRandomSampler implements Optimizer {
  readonly name = 'quasi-random';
  readonly needsGradients = false;
  private readonly box: Box;
  private readonly batchSize: number;
  private readonly total: number;
  private readonly halton: ScrambledHalton;
  private generated = 0;
  private asked: Float64Array[] | undefined;
  private bestPoint: { x: Float64Array; value: number } | undefined;
  /** Corners still to ask (the first batch takes them all). */
  private corners: Float64Array[];

  constructor(options: QuasiRandomOptions) {
    const o = { ...QUASI_RANDOM_DEFAULTS, ...definedOnly(options) };
    this.box = checkBox(o.box);
    checkInteger('batchSize', o.batchSize, 1);
    checkInteger('total', o.total, 1, true);
    this.batchSize = o.batchSize;
    this.total = o.total;
    this.halton = new ScrambledHalton(this.box.lo.length, o.rng.fork());
    this.corners = options.corners === true ? boxCorners(this.box, MAX_CORNERS) : [];
  }

  get best(): { x: Float64Array; value: number } | undefined {
    return this.bestPoint;
  }

  ask(): Float64Array[] {
    const n = Math.min(this.batchSize, this.total - this.generated);
    const points = [...this.corners, ...pointsInBox(this.halton, n, this.box)];
    this.corners = [];
    this.generated += n;
    this.asked = points;
    return points;
  }

  tell(points: readonly Float64Array[], values: Float64Array, grads?: readonly Float64Array[]): void {
    checkTell(this.name, this.asked, points, values, grads, false);
    this.asked = undefined;
    this.bestPoint = updateBest(this.bestPoint, points, values);
  }

  stop(): readonly StopReason[] {
    return this.generated >= this.total && this.asked === undefined ? ['exhausted'] : [];
  }
}

/** n scrambled Halton points in the box (the first n of a fresh sequence seeded from rng). */
export function quasiRandomPoints(box: Box, n: number, rng: Rng): Float64Array[] {
  const checked = checkBox(box);
  checkInteger('n', n, 0);
  const halton = new ScrambledHalton(checked.lo.length, rng.fork());
  return pointsInBox(halton, n, checked);
}
