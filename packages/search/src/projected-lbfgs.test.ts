import { Rng, makeBox, type Box } from '@nnmax/core';
import { describe, expect, it } from 'vitest';
import { ProjectedLbfgs } from './projected-lbfgs.js';
import { drive, quadratic, rosenbrock, type SmoothFunction } from './smooth-test-functions.js';

/**
 * Exact minimiser of 0.5 (x - c)^T A (x - c) over a box, by enumerating every assignment of each
 * coordinate to {lower bound, upper bound, free}, solving the free block, and keeping the best
 * feasible point (3^n linear solves; an independent oracle for n <= 5).
 */
function boxQpByEnumeration(A: Float64Array, c: Float64Array, box: Box): { x: Float64Array; value: number } {
  const n = c.length;
  const fn = quadratic(A, c);
  let best = { x: new Float64Array(n), value: Infinity };
  for (let code = 0; code < 3 ** n; code++) {
    const x = new Float64Array(n);
    const freeIdx: number[] = [];
    for (let i = 0, r = code; i < n; i++, r = Math.floor(r / 3)) {
      if (r % 3 === 0) x[i] = box.lo[i];
      else if (r % 3 === 1) x[i] = box.hi[i];
      else freeIdx.push(i);
    }
    // Solve A_FF x_F = A_FF c_F - A_FB (x_B - c_B) by Gaussian elimination.
    const m = freeIdx.length;
    const M = freeIdx.map((i) => freeIdx.map((j) => A[i * n + j]));
    const rhs = freeIdx.map((i) => {
      let s = 0;
      for (let j = 0; j < n; j++) s += freeIdx.includes(j) ? A[i * n + j] * c[j] : -A[i * n + j] * (x[j] - c[j]);
      return s;
    });
    for (let p = 0; p < m; p++) {
      for (let r = p + 1; r < m; r++) {
        const f = M[r][p] / M[p][p];
        for (let k = p; k < m; k++) M[r][k] -= f * M[p][k];
        rhs[r] -= f * rhs[p];
      }
    }
    for (let p = m - 1; p >= 0; p--) {
      let s = rhs[p];
      for (let k = p + 1; k < m; k++) s -= M[p][k] * x[freeIdx[k]];
      x[freeIdx[p]] = s / M[p][p];
    }
    if (!freeIdx.every((i) => x[i] >= box.lo[i] && x[i] <= box.hi[i])) continue;
    const v = fn.value(x);
    if (v < best.value) best = { x, value: v };
  }
  return best;
}

function randomSpd(n: number, rng: Rng): Float64Array {
  const B = Float64Array.from({ length: n * n }, () => rng.normal());
  const A = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      for (let k = 0; k < n; k++) A[i * n + j] += B[k * n + i] * B[k * n + j];
      if (i === j) A[i * n + j] += 0.1;
    }
  return A;
}

describe('ProjectedLbfgs', () => {
  it('converges on negated Rosenbrock (2-D, from (-1.2, 1)) to 1e-8, in far fewer rounds than projected gradient ascent', () => {
    const box = makeBox([-2, -2], [2, 2]);
    const x0 = Float64Array.of(-1.2, 1);
    const opt = new ProjectedLbfgs({ box, x0 });
    const lbfgs = drive(opt, rosenbrock, 1000);
    expect(opt.stop()).toEqual(['converged']);
    expect(Math.abs(opt.best!.x[0] - 1)).toBeLessThan(1e-8);
    expect(Math.abs(opt.best!.x[1] - 1)).toBeLessThan(1e-8);
    expect(-opt.best!.value).toBeLessThan(1e-16);
    // Same batch line search without memory: projected steepest ascent.
    const pga = new ProjectedLbfgs({ box, x0, memory: 0 });
    const steepest = drive(pga, rosenbrock, 20 * lbfgs.rounds);
    expect(-pga.best!.value).toBeGreaterThan(1e-8);
    expect(steepest.rounds).toBe(20 * lbfgs.rounds);
    expect(lbfgs.rounds).toBeLessThan(80);
    expect(lbfgs.evaluations).toBeLessThan(80 * 8);
  });

  it('converges on negated Rosenbrock in 8-D: value to 1e-12 by default, x to 1e-8 with ftol 0', () => {
    const box = makeBox(new Float64Array(8).fill(-3), new Float64Array(8).fill(3));
    const x0 = new Float64Array(8).fill(-1);
    const byDefault = new ProjectedLbfgs({ box, x0 });
    expect(drive(byDefault, rosenbrock, 2000).rounds).toBeLessThan(100);
    expect(byDefault.stop()).toEqual(['converged']);
    expect(-byDefault.best!.value).toBeLessThan(1e-12);
    const tight = new ProjectedLbfgs({ box, x0, ftol: 0 });
    expect(drive(tight, rosenbrock, 2000).rounds).toBeLessThan(100);
    expect(tight.stop()).toEqual(['converged']);
    for (const v of tight.best!.x) expect(Math.abs(v - 1)).toBeLessThan(1e-8);
  });

  it('finds the boundary maximum of bound-constrained concave quadratics to 1e-8 (oracle: active-set enumeration)', () => {
    const rng = new Rng(11);
    for (let trial = 0; trial < 6; trial++) {
      const n = 4;
      const A = randomSpd(n, rng);
      const c = Float64Array.from({ length: n }, () => rng.uniform(-3, 3));
      const box = makeBox(new Float64Array(n).fill(-1), new Float64Array(n).fill(1));
      const exact = boxQpByEnumeration(A, c, box);
      const fn = quadratic(A, c);
      const opt = new ProjectedLbfgs({ box, x0: Float64Array.from({ length: n }, () => rng.uniform(-1, 1)) });
      drive(opt, fn, 500);
      expect(opt.stop()).toEqual(['converged']);
      for (let i = 0; i < n; i++) expect(Math.abs(opt.best!.x[i] - exact.x[i])).toBeLessThan(1e-8);
      expect(Math.abs(-opt.best!.value - exact.value)).toBeLessThan(1e-8 * Math.max(1, Math.abs(exact.value)));
    }
  });

  it('reaches a maximum with some coordinates at bounds exactly (maximum outside the box)', () => {
    const box = makeBox([0, 0, 0], [1, 1, 1]);
    const fn = quadratic(Float64Array.of(1, 0, 0, 0, 2, 0, 0, 0, 3), Float64Array.of(2, 0.25, -1));
    const opt = new ProjectedLbfgs({ box });
    drive(opt, fn, 100);
    expect(opt.best!.x[0]).toBe(1);
    expect(Math.abs(opt.best!.x[1] - 0.25)).toBeLessThan(1e-10);
    expect(opt.best!.x[2]).toBe(0);
  });

  it('keeps fixed inputs (lo == hi) at their value and polishes the others', () => {
    const box = makeBox([-2, 0.5, -2], [2, 0.5, 2]);
    const opt = new ProjectedLbfgs({ box, x0: Float64Array.of(0, 0.5, 0) });
    drive(opt, rosenbrock, 500, {
      onAsk: (pts) => {
        for (const p of pts) expect(p[1]).toBe(0.5);
      },
    });
    // Minimise 100 (0.5 - x0^2)^2 + (1 - x0)^2 + 100 (x2 - 0.25)^2 + 0.25 over x0, x2.
    expect(Math.abs(opt.best!.x[2] - 0.25)).toBeLessThan(1e-6);
    expect(opt.stop()).toEqual(['converged']);
  });

  it('rejects NaN values and NaN gradients in line-search candidates and still converges', () => {
    const box = makeBox([-2, -2], [2, 2]);
    const poisoned: SmoothFunction = {
      name: 'poisoned rosenbrock',
      value: (x) => (x[0] > 1.2 ? NaN : rosenbrock.value(x)),
      gradient: (x) => (x[1] < -1 ? Float64Array.of(NaN, NaN) : rosenbrock.gradient(x)),
    };
    const opt = new ProjectedLbfgs({ box, x0: Float64Array.of(-1.2, 1) });
    drive(opt, poisoned, 1000);
    expect(Math.abs(opt.best!.x[0] - 1)).toBeLessThan(1e-6);
  });

  it('moves a start with a non-finite value towards the box centre, then runs', () => {
    const box = makeBox([-2, -2], [2, 2]);
    const fn: SmoothFunction = {
      name: 'nan corner',
      value: (x) => (x[0] > 1.5 ? NaN : rosenbrock.value(x)),
      gradient: rosenbrock.gradient,
    };
    const opt = new ProjectedLbfgs({ box, x0: Float64Array.of(2, 2) });
    drive(opt, fn, 1000);
    expect(opt.stop()).toEqual(['converged']);
    expect(Math.abs(opt.best!.x[0] - 1)).toBeLessThan(1e-6);
  });
});
