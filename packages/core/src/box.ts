import { InvalidOptionError } from './errors.js';

/** An axis-aligned box `lo <= x <= hi` in the flattened input order. */
export interface Box {
  readonly lo: Float64Array;
  readonly hi: Float64Array;
}

/** Validates and copies a box: equal lengths, finite bounds, lo <= hi. */
export function makeBox(lo: ArrayLike<number>, hi: ArrayLike<number>, name = 'box'): Box {
  if (lo.length !== hi.length) {
    throw new InvalidOptionError(name, `${lo.length} lower and ${hi.length} upper bounds`, 'as many lower as upper bounds');
  }
  for (let i = 0; i < lo.length; i++) {
    const l = lo[i];
    const h = hi[i];
    if (!Number.isFinite(l) || !Number.isFinite(h)) {
      throw new InvalidOptionError(`${name}[${i}]`, `${l}:${h}`, 'finite bounds');
    }
    if (l > h) throw new InvalidOptionError(`${name}[${i}]`, `${l}:${h}`, 'lo <= hi');
    // searches step and sample across the width: it must be a number too
    if (!Number.isFinite(h - l)) throw new InvalidOptionError(`${name}[${i}]`, `${l}:${h}`, 'a finite width hi - lo (it overflows float64)');
  }
  return { lo: Float64Array.from(lo), hi: Float64Array.from(hi) };
}

/** Clamps x into the box in place and returns it. */
export function clampToBox(x: Float64Array, box: Box): Float64Array {
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    x[i] = v < box.lo[i] ? box.lo[i] : v > box.hi[i] ? box.hi[i] : v;
  }
  return x;
}

export function isInBox(x: ArrayLike<number>, box: Box): boolean {
  for (let i = 0; i < x.length; i++) if (!(x[i] >= box.lo[i] && x[i] <= box.hi[i])) return false;
  return true;
}

export function boxCenter(box: Box): Float64Array {
  const c = new Float64Array(box.lo.length);
  for (let i = 0; i < c.length; i++) c[i] = 0.5 * box.lo[i] + 0.5 * box.hi[i]; // lo + hi may overflow
  return c;
}
