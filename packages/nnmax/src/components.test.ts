import { Rng } from '@nnmax/core';
import { describe, expect, it } from 'vitest';
import { createComponent } from './components.js';
import { SearchContext } from './search-context.js';

/** A context whose incumbent is set by hand: the components only read the box and the incumbent here. */
function contextWithIncumbent(x: number[]): SearchContext {
  const box = { lo: new Float64Array(x.length).fill(-1), hi: new Float64Array(x.length).fill(1) };
  const ctx = new SearchContext(undefined as never, undefined as never, box, undefined);
  ctx.incumbent = { x: Float64Array.from(x), value: 1 };
  return ctx;
}

const holds = (points: Float64Array[], x: Float64Array): boolean => points.some((p) => p.every((v, i) => v === x[i]));

describe('portfolio components', () => {
  it("differential evolution's first population holds the incumbent, except beside the region walk", () => {
    const ctx = contextWithIncumbent([0.123, -0.456, 0.789]);
    const seeded = createComponent('de', ctx, new Rng(1), 0).ask();
    expect(holds(seeded, ctx.incumbent!.x)).toBe(true);
    const beside = createComponent('de', ctx, new Rng(1), 0, { beside: 'walk' }).ask();
    expect(beside.length).toBe(seeded.length);
    expect(holds(beside, ctx.incumbent!.x)).toBe(false);
    // restarts are never seeded
    expect(holds(createComponent('de', ctx, new Rng(1), 1).ask(), ctx.incumbent!.x)).toBe(false);
  });
});
