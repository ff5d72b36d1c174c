import { describe, expect, it } from 'vitest';
import { SearchContext } from './search-context.js';

/** A context whose incumbent is set by hand (reaches() reads only the incumbent and exactValue). */
function context(): SearchContext {
  const box = { lo: Float64Array.of(0), hi: Float64Array.of(1) };
  return new SearchContext(undefined as never, undefined as never, box, undefined);
}

describe('SearchContext.reaches', () => {
  it('confirms a runtime value that passes the target with the exact value, once per incumbent', () => {
    const ctx = context();
    expect(ctx.reaches(0)).toBe(false); // no incumbent
    ctx.incumbent = { x: Float64Array.of(0.5), value: 1.0000001 };
    expect(ctx.reaches(1)).toBe(true); // no exact value: the runtime's value decides
    const calls: number[] = [];
    ctx.exactValue = (x) => (calls.push(x[0]), x[0] === 0.5 ? 0.9999999 : 1.5);
    expect(ctx.reaches(1)).toBe(false); // float32 passes, float64 does not
    expect(ctx.reaches(1)).toBe(false);
    expect(ctx.reaches(0.99)).toBe(true);
    expect(calls).toEqual([0.5]);
    expect(ctx.reaches(1.1)).toBe(false); // the runtime value is below: no exact value needed
    ctx.incumbent = { x: Float64Array.of(0.75), value: 1.2 };
    expect(ctx.reaches(1)).toBe(true);
    expect(calls).toEqual([0.5, 0.75]);
  });
});
