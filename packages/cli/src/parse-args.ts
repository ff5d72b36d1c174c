import { InvalidOptionError } from 'nnmax';

/** Parses "v0,v1,..." into finite numbers; the error names the option and the bad entry. */
export function parseNumberList(text: string, option: string): number[] {
  const parts = text.split(',').map((s) => s.trim());
  return parts.map((p, i) => {
    const v = p === '' ? NaN : Number(p);
    if (!Number.isFinite(v)) throw new InvalidOptionError(`${option} entry ${i}`, p, 'a finite number');
    return v;
  });
}

/** Parses "lo:hi,lo:hi,..." into a box. */
export function parseBox(text: string, option = '--box'): { lo: number[]; hi: number[] } {
  const lo: number[] = [];
  const hi: number[] = [];
  text.split(',').forEach((part, i) => {
    const m = /^\s*([^:]+):([^:]+)\s*$/.exec(part);
    const l = m ? Number(m[1]) : NaN;
    const h = m ? Number(m[2]) : NaN;
    if (!m || !Number.isFinite(l) || !Number.isFinite(h)) throw new InvalidOptionError(`${option} entry ${i}`, part, "'lo:hi' with finite numbers");
    if (l > h) throw new InvalidOptionError(`${option} entry ${i}`, part, 'lo <= hi (the interval is inverted)');
    lo.push(l);
    hi.push(h);
  });
  return { lo, hi };
}

/**
 * Parses "i=v,j=w" into fixed input values; an index may also be written as the input's name in
 * objectives and VNN-LIB properties ("x3=0.5", "X_3=0.5").
 */
export function parseFixed(text: string, option = '--fix'): Map<number, number> {
  const out = new Map<number, number>();
  for (const [i, part] of text.split(',').entries()) {
    const m = /^\s*(?:x|X_)?(\d+)\s*=\s*(\S+)\s*$/.exec(part);
    const v = m ? Number(m[2]) : NaN;
    if (!m || !Number.isFinite(v)) throw new InvalidOptionError(`${option} entry ${i}`, part, "'index=value' (or 'x<index>=value')");
    out.set(Number(m[1]), v);
  }
  return out;
}

export function parsePositive(text: string, option: string): number {
  const v = Number(text);
  if (!Number.isFinite(v) || v <= 0) throw new InvalidOptionError(option, text, 'a positive number');
  return v;
}

export function parseFinite(text: string, option: string): number {
  const v = Number(text);
  if (!Number.isFinite(v)) throw new InvalidOptionError(option, text, 'a finite number');
  return v;
}

export function parseNonNegInt(text: string, option: string): number {
  const v = Number(text);
  if (!Number.isInteger(v) || v < 0) throw new InvalidOptionError(option, text, 'a non-negative integer');
  return v;
}
