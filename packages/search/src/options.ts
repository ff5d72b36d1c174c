import { InvalidOptionError, makeBox, type Box } from '@nnmax/core';

/* Option handling shared by the search package's optimisers. */

/** A copy of options without its undefined entries, so that `{ ...DEFAULTS, ...definedOnly(o) }` keeps defaults. */
export function definedOnly<T extends object>(options: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(options)) if (v !== undefined) out[k] = v;
  return out as T;
}

/** Validates and copies a search box: finite, lo <= hi, at least one dimension. */
export function checkBox(box: Box): Box {
  if (!box || !(box.lo instanceof Float64Array) || !(box.hi instanceof Float64Array)) {
    throw new InvalidOptionError('box', box, '{ lo: Float64Array, hi: Float64Array }');
  }
  const checked = makeBox(box.lo, box.hi, 'box');
  if (checked.lo.length === 0) throw new InvalidOptionError('box', 'an empty box', 'at least one dimension');
  return checked;
}

/** Throws unless value is an integer >= min (or Infinity when isInfinityOk). */
export function checkInteger(option: string, value: number, min: number, isInfinityOk = false): void {
  if (isInfinityOk && value === Infinity) return;
  if (!Number.isInteger(value) || value < min) {
    throw new InvalidOptionError(option, value, `an integer >= ${min}${isInfinityOk ? ' or Infinity' : ''}`);
  }
}

/** Throws unless value lies in the interval, written like '(0, 1]'. */
export function checkInterval(option: string, value: number, lo: number, hi: number, brackets: '()' | '[)' | '(]' | '[]'): void {
  const isAboveLo = brackets[0] === '[' ? value >= lo : value > lo;
  const isBelowHi = brackets[1] === ']' ? value <= hi : value < hi;
  if (typeof value !== 'number' || !isAboveLo || !isBelowHi) {
    throw new InvalidOptionError(option, value, `a number in ${brackets[0]}${lo}, ${hi}${brackets[1]}`);
  }
}
