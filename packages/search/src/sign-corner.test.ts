import { makeBox } from '@nnmax/core';
import { describe, expect, it } from 'vitest';
import { SignCornerAscent } from './sign-corner.js';

/** Runs the ascent to its stop on f (value and gradient); returns the rounds that asked points. */
function runToStop(opt: SignCornerAscent, f: (x: Float64Array) => { value: number; grad: Float64Array }): number {
  let rounds = 0;
  while (opt.stop().length === 0 && rounds < 100) {
    const points = opt.ask();
    if (points.length === 0) break;
    const told = points.map(f);
    opt.tell(points, Float64Array.from(told, (t) => t.value), told.map((t) => t.grad));
    rounds++;
  }
  return rounds;
}

describe('SignCornerAscent', () => {
  it('reaches the maximum of a linear function over a box in one step (the corner of the signs), then stops converged', () => {
    const a = [3, -2, 0.5, -0.25, 1e-3];
    const box = makeBox([-1, 0, 2, -5, 0], [1, 4, 3, 5, 1e-6]);
    const f = (x: Float64Array) => ({ value: a.reduce((s, ai, i) => s + ai * x[i], 0), grad: Float64Array.from(a) });
    const opt = new SignCornerAscent({ box });
    const rounds = runToStop(opt, f);
    const exact = a.reduce((s, ai, i) => s + Math.max(ai * box.lo[i], ai * box.hi[i]), 0);
    expect(opt.best!.value).toBeCloseTo(exact, 12);
    expect(Array.from(opt.best!.x)).toEqual([1, 0, 3, -5, 1e-6]);
    // the centre, then its corner, then the corner is its own corner: no more asks
    expect(rounds).toBe(2);
    expect(opt.stop()).toEqual(['converged']);
    expect(opt.ask()).toEqual([]);
  });

  it('keeps inputs with a zero derivative, and fixed inputs, where they are', () => {
    const box = makeBox([0, 0, 7], [1, 1, 7]);
    const f = (x: Float64Array) => ({ value: x[0], grad: Float64Array.of(1, 0, 5) });
    const opt = new SignCornerAscent({ box, starts: [Float64Array.of(0.2, 0.3, 7)] });
    runToStop(opt, f);
    expect(Array.from(opt.best!.x)).toEqual([1, 0.3, 7]);
  });

  it('ends a lane whose corner is worse (a concave function peaking inside the box), and keeps its best point', () => {
    // f = -(x - 0.3)^2 on [0, 1]: from 0.1 the corner 1 is worse, so that lane ends at 0.1; from
    // 0.9 the corner 0 is better, and from there the corner 1 is worse
    const box = makeBox([0], [1]);
    const f = (x: Float64Array) => ({ value: -((x[0] - 0.3) ** 2), grad: Float64Array.of(-2 * (x[0] - 0.3)) });
    const opt = new SignCornerAscent({ box, starts: [Float64Array.of(0.1), Float64Array.of(0.9)] });
    const rounds = runToStop(opt, f);
    expect(rounds).toBe(3);
    expect(opt.stop()).toEqual(['converged']);
    expect(opt.best!.value).toBeCloseTo(-(0.2 ** 2), 15);
    expect(Array.from(opt.best!.x)).toEqual([0.1]);
  });

  it('backtracks on the number of inputs moved when the full corner is worse (a bilinear function)', () => {
    // f = x0 + 0.9 x1 - 2 x0 x1 on [0, 1]^2 from (0, 0): the corner (1, 1) gives -0.1; the next
    // batch moves only x0 (the larger predicted gain), which gives 1, the maximum over the box;
    // there the signs point to (1, 0) itself
    const box = makeBox([0, 0], [1, 1]);
    const f = (x: Float64Array) => ({ value: x[0] + 0.9 * x[1] - 2 * x[0] * x[1], grad: Float64Array.of(1 - 2 * x[1], 0.9 - 2 * x[0]) });
    const opt = new SignCornerAscent({ box, starts: [Float64Array.of(0, 0)] });
    const asked: number[][] = [];
    let rounds = 0;
    while (opt.stop().length === 0) {
      const points = opt.ask();
      if (points.length === 0) break;
      asked.push(...points.map((p) => Array.from(p)));
      const told = points.map(f);
      opt.tell(points, Float64Array.from(told, (t) => t.value), told.map((t) => t.grad));
      rounds++;
    }
    expect(asked).toEqual([
      [0, 0],
      [1, 1],
      [1, 0],
    ]);
    expect(rounds).toBe(3);
    expect(opt.best).toEqual({ x: Float64Array.of(1, 0), value: 1 });
  });

  it('stops at maxIterations on a function whose corners keep improving (a zig-zag)', () => {
    // value = iteration count along the asked sequence: the sign of the gradient alternates
    let calls = 0;
    const box = makeBox([0, 0], [1, 1]);
    const f = (x: Float64Array) => ({ value: calls++, grad: Float64Array.of(x[0] > 0.5 ? -1 : 1, 1) });
    const opt = new SignCornerAscent({ box, maxIterations: 5 });
    expect(runToStop(opt, f)).toBe(5);
    expect(opt.stop()).toEqual(['maxEvaluations']);
  });
});
