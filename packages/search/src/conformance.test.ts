import { InvalidOptionError, OptimizerProtocolError, Rng, isInBox, makeBox, type Box } from '@nnmax/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BasinHopping } from './basin-hopping.js';
import { MultiStartAdam } from './multi-start-adam.js';
import type { Optimizer } from './optimizer.js';
import { DifferentialEvolution } from './differential-evolution.js';
import { ParallelRestarts } from './parallel-restarts.js';
import { ProjectedLbfgs } from './projected-lbfgs.js';
import { QuasiRandomSampler } from './quasi-random.js';
import { SignCornerAscent } from './sign-corner.js';

interface Case {
  readonly name: string;
  readonly make: (box: Box, seed: number) => Optimizer;
  /** Option objects (besides a valid box) that must throw InvalidOptionError naming `option`. */
  readonly badOptions: readonly { option: string; make: (box: Box) => Optimizer }[];
}

/** A start point derived from the seed, for the optimisers without an rng. */
function seededPoint(box: Box, seed: number): Float64Array {
  const rng = new Rng(seed);
  return Float64Array.from(box.lo, (lo, i) => rng.uniform(lo, box.hi[i]));
}

const rng = new Rng(0);
const CASES: readonly Case[] = [
  {
    name: 'QuasiRandomSampler',
    make: (box, seed) => new QuasiRandomSampler({ box, rng: new Rng(seed), batchSize: 16 }),
    badOptions: [
      { option: 'batchSize', make: (box) => new QuasiRandomSampler({ box, rng, batchSize: 0 }) },
      { option: 'batchSize', make: (box) => new QuasiRandomSampler({ box, rng, batchSize: 2.5 }) },
      { option: 'total', make: (box) => new QuasiRandomSampler({ box, rng, total: -1 }) },
      { option: 'total', make: (box) => new QuasiRandomSampler({ box, rng, total: NaN }) },
    ],
  },
  {
    name: 'MultiStartAdam',
    make: (box, seed) => new MultiStartAdam({ box, rng: new Rng(seed), nStarts: 6 }),
    badOptions: [
      { option: 'nStarts', make: (box) => new MultiStartAdam({ box, rng, nStarts: 0 }) },
      { option: 'lr', make: (box) => new MultiStartAdam({ box, rng, lr: 0 }) },
      { option: 'lr', make: (box) => new MultiStartAdam({ box, rng, lr: NaN }) },
      { option: 'beta1', make: (box) => new MultiStartAdam({ box, rng, beta1: 1 }) },
      { option: 'beta2', make: (box) => new MultiStartAdam({ box, rng, beta2: -0.1 }) },
      { option: 'epsilon', make: (box) => new MultiStartAdam({ box, rng, epsilon: Infinity }) },
      { option: 'decay', make: (box) => new MultiStartAdam({ box, rng, decay: 1.5 }) },
      { option: 'patience', make: (box) => new MultiStartAdam({ box, rng, patience: 0 }) },
      { option: 'minLr', make: (box) => new MultiStartAdam({ box, rng, lr: 0.01, minLr: 0.01 }) },
      { option: 'maxIterations', make: (box) => new MultiStartAdam({ box, rng, maxIterations: 0 }) },
      { option: 'starts[1]', make: (box) => new MultiStartAdam({ box, rng, starts: [box.lo, new Float64Array(1)] }) },
      { option: 'starts[0]', make: (box) => new MultiStartAdam({ box, rng, starts: [box.lo.map(() => NaN)] }) },
    ],
  },
  {
    name: 'ProjectedLbfgs',
    make: (box, seed) => new ProjectedLbfgs({ box, x0: seededPoint(box, seed) }),
    badOptions: [
      { option: 'x0', make: (box) => new ProjectedLbfgs({ box, x0: new Float64Array(box.lo.length + 1) }) },
      { option: 'x0', make: (box) => new ProjectedLbfgs({ box, x0: box.lo.map(() => Infinity) }) },
      { option: 'memory', make: (box) => new ProjectedLbfgs({ box, memory: -1 }) },
      { option: 'lineSearchSteps', make: (box) => new ProjectedLbfgs({ box, lineSearchSteps: 0 }) },
      { option: 'armijo', make: (box) => new ProjectedLbfgs({ box, armijo: 1 }) },
      { option: 'gtol', make: (box) => new ProjectedLbfgs({ box, gtol: -1 }) },
      { option: 'ftol', make: (box) => new ProjectedLbfgs({ box, ftol: NaN }) },
      { option: 'maxIterations', make: (box) => new ProjectedLbfgs({ box, maxIterations: 1.5 }) },
    ],
  },
  {
    name: 'SignCornerAscent',
    make: (box, seed) => new SignCornerAscent({ box, starts: [seededPoint(box, seed), seededPoint(box, seed + 1)] }),
    badOptions: [
      { option: 'maxIterations', make: (box) => new SignCornerAscent({ box, maxIterations: 0 }) },
      { option: 'starts[1]', make: (box) => new SignCornerAscent({ box, starts: [box.lo, new Float64Array(1)] }) },
      { option: 'starts[0]', make: (box) => new SignCornerAscent({ box, starts: [box.lo.map(() => NaN)] }) },
    ],
  },
  {
    name: 'BasinHopping(ProjectedLbfgs)',
    make: (box, seed) => new BasinHopping({ box, rng: new Rng(seed), localMaxRounds: 4 }),
    badOptions: [
      { option: 'stepSize', make: (box) => new BasinHopping({ box, rng, stepSize: 0 }) },
      { option: 'temperature', make: (box) => new BasinHopping({ box, rng, temperature: -1 }) },
      { option: 'targetAcceptRate', make: (box) => new BasinHopping({ box, rng, targetAcceptRate: 1 }) },
      { option: 'stepFactor', make: (box) => new BasinHopping({ box, rng, stepFactor: 1 }) },
      { option: 'adaptInterval', make: (box) => new BasinHopping({ box, rng, adaptInterval: 0 }) },
      { option: 'localMaxRounds', make: (box) => new BasinHopping({ box, rng, localMaxRounds: 0 }) },
      { option: 'maxHops', make: (box) => new BasinHopping({ box, rng, maxHops: 0 }) },
      { option: 'maxStagnantHops', make: (box) => new BasinHopping({ box, rng, maxStagnantHops: -2 }) },
      { option: 'x0', make: (box) => new BasinHopping({ box, rng, x0: new Float64Array(0) }) },
      // @ts-expect-error: a wrong type reaches the constructor from untyped callers
      { option: 'local', make: (box) => new BasinHopping({ box, rng, local: 3 }) },
    ],
  },
  {
    name: 'BasinHopping(MultiStartAdam)',
    make: (box, seed) =>
      new BasinHopping({
        box,
        rng: new Rng(seed),
        localMaxRounds: 6,
        local: (x0, b, r) => new MultiStartAdam({ box: b, rng: r, starts: [x0], nStarts: 1, restart: false }),
      }),
    badOptions: [],
  },
  {
    name: 'DifferentialEvolution',
    make: (box, seed) => new DifferentialEvolution({ box, rng: new Rng(seed), popsizeFactor: 3 }),
    badOptions: [
      { option: 'popsizeFactor', make: (box) => new DifferentialEvolution({ box, rng, popsizeFactor: 0 }) },
      { option: 'mutation', make: (box) => new DifferentialEvolution({ box, rng, mutation: [1, 0.5] }) },
      { option: 'recombination', make: (box) => new DifferentialEvolution({ box, rng, recombination: 1.5 }) },
      { option: 'tolFun', make: (box) => new DifferentialEvolution({ box, rng, tolFun: -1 }) },
      { option: 'seeds[0]', make: (box) => new DifferentialEvolution({ box, rng, seeds: [new Float64Array(box.lo.length + 2)] }) },
    ],
  },
  {
    name: 'ParallelRestarts(ProjectedLbfgs)',
    make: (box, seed) =>
      new ParallelRestarts({ rng: new Rng(seed), lanes: 3, make: (r) => new ProjectedLbfgs({ box, x0: Float64Array.from(box.lo, (lo, i) => r.uniform(lo, box.hi[i])) }) }),
    badOptions: [
      { option: 'lanes', make: (box) => new ParallelRestarts({ rng, lanes: 0, make: () => new ProjectedLbfgs({ box }) }) },
      { option: 'maxRestarts', make: (box) => new ParallelRestarts({ rng, lanes: 2, maxRestarts: -1, make: () => new ProjectedLbfgs({ box }) }) },
      // @ts-expect-error: a wrong type reaches the constructor from untyped callers
      { option: 'make', make: () => new ParallelRestarts({ rng, lanes: 2, make: 3 }) },
    ],
  },
];

/** A smooth multi-modal objective with its gradient, defined on all of R^n. */
function objective(x: Float64Array): { value: number; grad: Float64Array } {
  let value = 0;
  const grad = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const t = 0.01 * x[i] + 0.3 * i;
    value += Math.sin(3 * t) - t * t;
    grad[i] = 0.01 * (3 * Math.cos(3 * t) - 2 * t);
  }
  return { value, grad };
}

/** Random boxes: 1 to 5 coordinates, some fixed (lo == hi), widths from 1e-6 to 1e3. */
const boxArb = fc
  .array(
    fc.record({
      lo: fc.double({ min: -1e3, max: 1e3, noNaN: true }),
      width: fc.oneof(fc.constant(0), fc.double({ min: 1e-6, max: 1e3, noNaN: true })),
    }),
    { minLength: 1, maxLength: 5 },
  )
  .map((cs) =>
    makeBox(
      cs.map((c) => c.lo),
      cs.map((c) => c.lo + c.width),
    ),
  );

/** What goes wrong with a told value or gradient. */
const faultArb = fc.constantFrom('none', 'none', 'none', 'nan', '+inf', '-inf', 'nanGrad', 'infGrad');
type Fault = 'none' | 'nan' | '+inf' | '-inf' | 'nanGrad' | 'infGrad';

interface Trace {
  readonly asks: Float64Array[][];
  readonly maxFiniteTold: number;
}

/** Runs `rounds` ask/tell rounds; faults[k % faults.length] corrupts the k-th told point. */
function run(opt: Optimizer, box: Box, rounds: number, faults: readonly Fault[] = ['none']): Trace {
  const asks: Float64Array[][] = [];
  let k = 0;
  let maxFiniteTold = -Infinity;
  for (let r = 0; r < rounds && opt.stop().length === 0; r++) {
    const points = opt.ask();
    asks.push(points.map((p) => Float64Array.from(p)));
    for (const p of points) {
      if (!(p.length === box.lo.length && isInBox(p, box))) throw new Error(`point ${Array.from(p)} outside the box`);
    }
    const values = new Float64Array(points.length);
    const grads = points.map((p, i) => {
      const { value, grad } = objective(p);
      const fault = faults[k++ % faults.length];
      values[i] = fault === 'nan' ? NaN : fault === '+inf' ? Infinity : fault === '-inf' ? -Infinity : value;
      if (fault === 'nanGrad') grad.fill(NaN);
      if (fault === 'infGrad') grad[0] = -Infinity;
      if (Number.isFinite(values[i])) maxFiniteTold = Math.max(maxFiniteTold, values[i]);
      return grad;
    });
    opt.tell(points, values, opt.needsGradients ? grads : undefined);
  }
  return { asks, maxFiniteTold };
}

const unitBox = makeBox([0, -1, 2], [1, 1, 2]);

describe.each(CASES)('$name conformance', ({ make, badOptions }) => {
  it('asks only points inside random boxes (fixed inputs included), with faults told', () => {
    fc.assert(
      fc.property(boxArb, fc.integer({ min: 0, max: 2 ** 31 }), fc.array(faultArb, { minLength: 1, maxLength: 7 }), (box, seed, faults) => {
        run(make(box, seed), box, 12, faults);
      }),
      { numRuns: 40 },
    );
  });

  it('gives the same points for the same seed, and other points for another seed', () => {
    const a = run(make(unitBox, 7), unitBox, 25).asks.flat().map((p) => Array.from(p));
    const b = run(make(unitBox, 7), unitBox, 25).asks.flat().map((p) => Array.from(p));
    const c = run(make(unitBox, 8), unitBox, 25).asks.flat().map((p) => Array.from(p));
    expect(a.length).toBeGreaterThan(0);
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
  });

  it('survives NaN and +-Infinity values and NaN gradients: best is the largest finite value told', () => {
    const faults: Fault[] = ['nan', 'none', '+inf', 'nanGrad', '-inf', 'infGrad', 'none'];
    const opt = make(unitBox, 3);
    const { maxFiniteTold } = run(opt, unitBox, 30, faults);
    expect(opt.best).toBeDefined();
    expect(opt.best!.value).toBe(maxFiniteTold);
    expect(objective(opt.best!.x).value).toBe(maxFiniteTold);
    // Every value NaN: nothing becomes best, and asks stay finite and in the box.
    const blind = make(unitBox, 4);
    run(blind, unitBox, 20, ['nan', 'nanGrad', '+inf']);
    expect(blind.best === undefined || Number.isFinite(blind.best.value)).toBe(true);
    const allNan = make(unitBox, 5);
    run(allNan, unitBox, 20, ['nan']);
    expect(allNan.best).toBeUndefined();
  });

  it('throws OptimizerProtocolError on a tell that does not match the last ask', () => {
    const opt = make(unitBox, 1);
    const expectProtocolError = (f: () => void) => expect(f).toThrow(OptimizerProtocolError);
    expectProtocolError(() => opt.tell([unitBox.lo], Float64Array.of(0), [new Float64Array(3)]));
    const points = opt.ask();
    const values = new Float64Array(points.length);
    const grads = points.map(() => new Float64Array(3));
    expectProtocolError(() => opt.tell(points.map((p) => Float64Array.from(p)), values, grads));
    expectProtocolError(() => opt.tell(points.slice(1), values.subarray(1), grads.slice(1)));
    expectProtocolError(() => opt.tell(points, values.subarray(1), grads));
    if (opt.needsGradients) {
      expectProtocolError(() => opt.tell(points, values));
      expectProtocolError(() => opt.tell(points, values, grads.map(() => new Float64Array(2))));
    }
    opt.tell(points, values, grads);
    expectProtocolError(() => opt.tell(points, values, grads));
  });

  it('throws InvalidOptionError naming the option for bad options', () => {
    const expectOption = (option: string, f: () => unknown) => {
      try {
        f();
      } catch (e) {
        expect(e).toBeInstanceOf(InvalidOptionError);
        expect((e as InvalidOptionError).option).toBe(option);
        return;
      }
      throw new Error(`no InvalidOptionError for ${option}`);
    };
    const reversed = { lo: Float64Array.of(1), hi: Float64Array.of(0) };
    expectOption('box[0]', () => make(reversed, 1));
    expectOption('box[0]', () => make({ lo: Float64Array.of(NaN), hi: Float64Array.of(1) }, 1));
    expectOption('box', () => make({ lo: new Float64Array(0), hi: new Float64Array(0) }, 1));
    expectOption('box', () => make({ lo: new Float64Array(2), hi: new Float64Array(3) }, 1));
    for (const bad of badOptions) expectOption(bad.option, () => bad.make(unitBox));
  });
});
