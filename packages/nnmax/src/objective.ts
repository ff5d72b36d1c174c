import { InvalidOptionError } from '@nnmax/core';

/** A linear objective `c . y + offset` over the flattened network outputs. */
export interface LinearObjective {
  readonly c: Float64Array; // [nOut]
  readonly offset: number;
  readonly text: string;
}

const TERM = /^([+-]?)\s*(?:(\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)\s*\*?\s*)?(?:(?:y|Y_?)(\d+))?$/;

/**
 * Parses a linear expression over outputs: `y0`, `Y_3`, `"+1*y0 -0.5*y2"`, `"y2 - 0.5*y0 + 1"`.
 * Throws InvalidOptionError naming the offending term or output index.
 */
export function parseObjective(text: string, nOut: number, option = 'objective'): LinearObjective {
  const c = new Float64Array(nOut);
  let offset = 0;
  const src = text.trim();
  if (src === '') throw new InvalidOptionError(option, text, `a linear expression over outputs y0..y${nOut - 1}, e.g. "y0" or "y2 - 0.5*y0"`);
  // split before every + or - that is not part of an exponent
  const terms = src.replace(/([^eE\s+-])\s*([+-])/g, '$1\u0000$2').split('\u0000').map((t) => t.trim()).filter((t) => t !== '');
  for (const term of terms) {
    const m = TERM.exec(term.replace(/\s+/g, ' '));
    if (!m || (m[2] === undefined && m[3] === undefined)) {
      throw new InvalidOptionError(option, text, `terms like "0.5*y2", "-y0" or "3" (could not read '${term}')`);
    }
    const sign = m[1] === '-' ? -1 : 1;
    const coef = sign * (m[2] !== undefined ? Number(m[2]) : 1);
    if (m[3] === undefined) {
      offset += coef;
      continue;
    }
    const k = Number(m[3]);
    if (k >= nOut) throw new InvalidOptionError(option, text, `outputs y0..y${nOut - 1} (the model has ${nOut} outputs; '${term}' names y${k})`);
    c[k] += coef;
  }
  return { c, offset, text: src };
}

/** The objective that picks one output. */
export function outputObjective(k: number, nOut: number): LinearObjective {
  if (!Number.isInteger(k) || k < 0 || k >= nOut) throw new InvalidOptionError('output', k, `an output index 0..${nOut - 1}`);
  const c = new Float64Array(nOut);
  c[k] = 1;
  return { c, offset: 0, text: `y${k}` };
}
