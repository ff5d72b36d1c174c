import { describe, expect, it } from 'vitest';
import { erf } from './activations.js';

describe('erf', () => {
  it('matches tabulated values (Abramowitz & Stegun table 7.1) to 1e-14', () => {
    const table: [number, number][] = [
      [0, 0],
      [0.5, 0.5204998778130465],
      [1, 0.8427007929497149],
      [1.5, 0.9661051464753108],
      [2, 0.9953222650189527],
      [2.5, 0.9995930479825550],
      [3, 0.9999779095030014],
      [-1, -0.8427007929497149],
    ];
    for (const [x, v] of table) expect(Math.abs(erf(x) - v)).toBeLessThan(1e-14);
  });
});
