import fc from 'fast-check';
import { boundLinear, boxBatch } from '@nnmax/bounds';
import { makeBox, Rng } from '@nnmax/core';
import { valueAndGradient64, type Float64Alloc } from '@nnmax/onnx';
import { describe, expect, it } from 'vitest';
import { giveF64, releaseScratch, scratchF64, SLOT, takeF64 } from '../packages/bounds/src/scratch.js';
import { buildRandomNet, randomNetSpec } from './helpers/random-ir.js';

/**
 * Back-substitution recycles its coefficient arrays through a pool (packages/bounds/src/scratch.ts).
 * An array recycled while still in use would silently change bounds, so: the same bound computed
 * with a cold pool, a warm pool, and a pool just churned by another network must be bit-identical.
 */
describe('pooled arrays in the bound computations', () => {
  it('takeF64 hands out zero-filled arrays, also after a dirty one came back; views are never pooled', () => {
    const a = takeF64(37);
    a.fill(5);
    giveF64(a);
    const b = takeF64(37);
    expect(Array.from(b)).toEqual(new Array(37).fill(0));
    const whole = new Float64Array(64).fill(3);
    giveF64(whole.subarray(8, 45)); // a view of 37: must not come back out
    const c = takeF64(37);
    expect(c.buffer).not.toBe(whole.buffer);
    expect(Array.from(c)).toEqual(new Array(37).fill(0));
  });

  it('releaseScratch drops the slot buffers and the pool: the next calls get new memory, and bounds do not change', () => {
    const net = buildRandomNet({ nIn: 3, widths: [6, 5], activations: ['relu', 'relu', 'relu'], residual: false, concat: false, seed: 9 });
    const boxes = boxBatch([makeBox([-1, -1, -1], [1, 1, 1])]);
    const C = Float64Array.of(1, -1);
    const before = boundLinear(net, boxes, C, undefined, { method: 'crown' }).upper[0];
    const slot = scratchF64(SLOT.matrixA, 16);
    const pooled = takeF64(23);
    giveF64(pooled);
    releaseScratch();
    expect(scratchF64(SLOT.matrixA, 16).buffer).not.toBe(slot.buffer);
    expect(takeF64(23)).not.toBe(pooled);
    expect(boundLinear(net, boxes, C, undefined, { method: 'crown' }).upper[0]).toBe(before);
  });

  it('CROWN and alpha-CROWN bounds are identical with a cold, a warm and a churned pool', () => {
    fc.assert(
      fc.property(randomNetSpec(), randomNetSpec(), fc.constantFrom('crown' as const, 'alpha-crown' as const), (spec, other, method) => {
        const net = buildRandomNet(spec);
        const noise = buildRandomNet({ ...other, nIn: spec.nIn });
        const boxes = boxBatch([makeBox(new Array(spec.nIn).fill(-1), new Array(spec.nIn).fill(1)), makeBox(new Array(spec.nIn).fill(-0.3), new Array(spec.nIn).fill(0.8))]);
        const C = Float64Array.of(1, -0.5, -1, 2);
        const run = (): number[] => {
          const b = boundLinear(net, boxes, C, undefined, { method });
          return [...b.upper, ...b.lower];
        };
        const first = run();
        const warm = run();
        boundLinear(noise, boxes, C, undefined, { method });
        const churned = run();
        expect(warm).toEqual(first);
        expect(churned).toEqual(first);
      }),
      { numRuns: 60 },
    );
  });

  it('the float64 reference gives identical values and gradients with recycled arrays (the local ascent arena)', () => {
    fc.assert(
      fc.property(randomNetSpec(), (spec) => {
        const net = buildRandomNet(spec);
        const rng = new Rng(spec.seed);
        const n = 5;
        const x = Float64Array.from({ length: n * spec.nIn }, () => rng.uniform(-1, 1));
        const c = Float64Array.of(0.7, -1.3);
        // recycles every array in order, dirtied in between, zero-filled when handed out again
        const buffers: Float64Array[] = [];
        let next = 0;
        const recycled: Float64Alloc = (len) => {
          let b = buffers[next];
          if (b === undefined || b.length !== len) buffers[next] = b = new Float64Array(len);
          else b.fill(0);
          next++;
          return b;
        };
        const fresh = valueAndGradient64(net, x, n, c);
        for (let round = 0; round < 3; round++) {
          next = 0;
          const r = valueAndGradient64(net, x, n, c, recycled);
          expect(Array.from(r.values)).toEqual(Array.from(fresh.values));
          expect(Array.from(r.gradients)).toEqual(Array.from(fresh.gradients));
          for (const b of buffers) b.fill(Number.NaN);
        }
      }),
      { numRuns: 60 },
    );
  });
});
