import fc from 'fast-check';
import { activationValue, type ActivationNode } from '@nnmax/onnx';
import { describe, expect, it } from 'vitest';
import type { ActivationBound } from './activation-bound.js';
import { BOUND_OPS } from './bound-ops.js';

/**
 * Conformance suite for every activation's `relax` and interval rule: for l <= u and x in [l, u],
 * lower(x) <= act(x) <= upper(x) and lo <= act(x) <= hi, with act the float64 reference of
 * @nnmax/onnx. Lines and values are compared in float64, so each comparison allows the rounding of
 * evaluating a x + b and act(x): LINE_EVAL_SLACK relative to the magnitudes involved (2^-40,
 * thousands of ulps; the unsound lines this suite has caught were off by O(1)).
 */
const LINE_EVAL_SLACK = 2 ** -40;

/** An activation node without its graph fields (distributes over the union, so `alpha` etc. type-check). */
type ActivationSpec = ActivationNode extends infer T ? (T extends ActivationNode ? Omit<T, 'id' | 'name' | 'size' | 'inputs'> : never) : never;

const node = (n: ActivationSpec): ActivationNode =>
  ({ id: 1, name: n.kind, size: 1, inputs: [0], ...n }) as ActivationNode;

const ACTIVATIONS: readonly (readonly [string, ActivationNode])[] = [
  ['relu', node({ kind: 'relu' })],
  ['leakyrelu alpha 0.1', node({ kind: 'leakyrelu', alpha: 0.1 })],
  ['leakyrelu alpha 0', node({ kind: 'leakyrelu', alpha: 0 })],
  ['leakyrelu alpha -0.5', node({ kind: 'leakyrelu', alpha: -0.5 })],
  ['leakyrelu alpha 3 (concave)', node({ kind: 'leakyrelu', alpha: 3 })],
  ['sigmoid', node({ kind: 'sigmoid' })],
  ['tanh', node({ kind: 'tanh' })],
  ['softplus', node({ kind: 'softplus' })],
  ['elu alpha 1', node({ kind: 'elu', alpha: 1 })],
  ['elu alpha 0.5', node({ kind: 'elu', alpha: 0.5 })],
  ['elu alpha 2', node({ kind: 'elu', alpha: 2 })],
  ['elu alpha -0.7', node({ kind: 'elu', alpha: -0.7 })],
  ['silu', node({ kind: 'silu' })],
  ['gelu (erf)', node({ kind: 'gelu', approximate: 'none' })],
  ['gelu (tanh)', node({ kind: 'gelu', approximate: 'tanh' })],
];

/** Intervals that stress the relaxations: extreme and tiny widths, points, kinks and inflections at the ends. */
const EDGE_INTERVALS: readonly (readonly [number, number])[] = [
  [0, 0],
  [-1, -1],
  [2.5, 2.5],
  [-1e4, 1e4],
  [-1e4, -1e4],
  [1e4, 1e4],
  [-1e4, -9999],
  [9999, 1e4],
  [-1e8, 1e8],
  [-1e15, 1e15],
  [-1e300, 1e300],
  [-1e300, -1e299],
  [-5e-324, 5e-324],
  [0, 5e-324],
  [-1e-300, 1e-300],
  [-1e-12, 1e-12],
  [1, 1 + 2 ** -52],
  [-0.05, 10],
  [-10, 0.05],
  [-1.5, 0],
  [0, 1.5],
  [-Math.SQRT2, Math.SQRT2],
  [1.4, 1.45],
  [-2.4, -2.39],
  [2.39, 2.41],
  [-30, -20],
  [20, 30],
  [-800, 800],
  [-1e3, -999.9],
];

/** Points of [l, u] to check: the ends, the midpoint, the kinks and inflection points inside, and uniform samples. */
function pointsIn(l: number, u: number, fractions: readonly number[]): number[] {
  const pts = [l, u, 0.5 * l + 0.5 * u];
  for (const p of [0, -Math.SQRT2, Math.SQRT2, -1.4186, 1.4186, -2.3994, 2.3994, -1.2785, -0.7518]) if (p >= l && p <= u) pts.push(p);
  for (const t of fractions) {
    const x = l + (u - l) * t;
    pts.push(x < l ? l : x > u ? u : x);
  }
  return pts;
}

/** The worst violation (> 0 means unsound beyond float evaluation error) of the lines and the interval at the points. */
function worstViolation(op: ActivationBound, act: ActivationNode, l: number, u: number, fractions: readonly number[]): number {
  const lo = Float64Array.of(l);
  const hi = Float64Array.of(u);
  const r = op.relax(lo, hi, act);
  const range = op.range(lo, hi, act);
  for (const v of [r.lowerSlope[0], r.lowerIntercept[0], r.upperSlope[0], r.upperIntercept[0], range.lo[0], range.hi[0]]) {
    if (Number.isNaN(v)) return Infinity;
  }
  // how far `small <= big` fails, in units of the float evaluation error of the terms; an
  // infinite bound on the right side holds trivially
  const excess = (terms: readonly number[], small: number, big: number): number => {
    if (small === -Infinity || big === Infinity) return -Infinity;
    return (small - big) / (LINE_EVAL_SLACK * terms.reduce((s, t) => s + Math.abs(t), 0) + 1e-300);
  };
  let worst = -Infinity;
  for (const x of pointsIn(l, u, fractions)) {
    const f = activationValue(act, x);
    const low = r.lowerSlope[0] * x;
    const up = r.upperSlope[0] * x;
    worst = Math.max(
      worst,
      excess([low, r.lowerIntercept[0], f], low + r.lowerIntercept[0], f),
      excess([up, r.upperIntercept[0], f], f, up + r.upperIntercept[0]),
      excess([f, range.lo[0]], range.lo[0], f),
      excess([f, range.hi[0]], f, range.hi[0]),
    );
  }
  return worst;
}

const interval = fc.oneof(
  // moderate intervals around the curved part
  fc.tuple(fc.double({ min: -12, max: 12, noNaN: true }), fc.double({ min: -12, max: 12, noNaN: true })).map(([a, b]) => (a <= b ? [a, b] : [b, a])),
  // tiny intervals: width 1e-16 .. 1e-5 relative to the centre
  fc.tuple(fc.double({ min: -12, max: 12, noNaN: true }), fc.double({ min: -16, max: -5, noNaN: true })).map(([c, e]) => [c, c + 10 ** e * (1 + Math.abs(c))]),
  // wide intervals up to [-1e4, 1e4]
  fc.tuple(fc.double({ min: -1e4, max: 1e4, noNaN: true }), fc.double({ min: 0, max: 4.3, noNaN: true })).map(([c, e]) => [c - 10 ** e, c + 10 ** e]),
  // points
  fc.double({ min: -50, max: 50, noNaN: true }).map((c) => [c, c]),
) as fc.Arbitrary<[number, number]>;

describe.each(ACTIVATIONS)('%s relaxation', (_name, act) => {
  const op = BOUND_OPS[act.kind] as unknown as ActivationBound;

  it('lower(x) <= act(x) <= upper(x) and lo <= act(x) <= hi for random l <= u and x in [l, u]', () => {
    fc.assert(
      fc.property(interval, fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 16 }), ([l, u], fr) => {
        expect(worstViolation(op, act, l, u, fr)).toBeLessThanOrEqual(1);
      }),
      { numRuns: 300, seed: 20260 },
    );
  });

  it('the lines and the interval hold on extreme, tiny and degenerate intervals', () => {
    const fractions = Array.from({ length: 33 }, (_, i) => i / 32);
    for (const [l, u] of EDGE_INTERVALS) {
      expect({ l, u, worst: worstViolation(op, act, l, u, fractions) <= 1 }).toEqual({ l, u, worst: true });
    }
  });

  it('relaxes a batch of intervals like each interval alone', () => {
    const lo = Float64Array.from([-3, -0.2, 0.5, -1e4, 7]);
    const hi = Float64Array.from([-1, 0.4, 2, 1e4, 7]);
    const batch = op.relax(lo, hi, act);
    for (let i = 0; i < lo.length; i++) {
      const one = op.relax(lo.subarray(i, i + 1), hi.subarray(i, i + 1), act);
      expect([batch.lowerSlope[i], batch.lowerIntercept[i], batch.upperSlope[i], batch.upperIntercept[i]]).toEqual([
        one.lowerSlope[0],
        one.lowerIntercept[0],
        one.upperSlope[0],
        one.upperIntercept[0],
      ]);
    }
  });
});

describe('relaxation regressions', () => {
  it('elu alpha 2 on [-0.05, 10]: the lower line stays below x on the linear piece (left derivative at the kink is not used there)', () => {
    const act = node({ kind: 'elu', alpha: 2 });
    const r = BOUND_OPS.elu.relax(Float64Array.of(-0.05), Float64Array.of(10), act as never);
    for (const x of [0, 1, 5, 10]) expect(r.lowerSlope[0] * x + r.lowerIntercept[0]).toBeLessThanOrEqual(activationValue(act, x));
  });

  it('relu: stable intervals give exact lines and straddling ones the chord above both ends', () => {
    const r = BOUND_OPS.relu.relax(Float64Array.of(-2, 1, -1), Float64Array.of(-1, 2, 3));
    expect([r.lowerSlope[0], r.lowerIntercept[0], r.upperSlope[0], r.upperIntercept[0]]).toEqual([0, 0, 0, 0]);
    expect([r.lowerSlope[1], r.lowerIntercept[1], r.upperSlope[1], r.upperIntercept[1]]).toEqual([1, 0, 1, 0]);
    expect(r.upperSlope[2]).toBe(0.75);
    expect(r.upperIntercept[2]).toBeGreaterThanOrEqual(0.75);
    expect(r.upperIntercept[2]).toBeLessThan(0.75 + 1e-15);
    expect(r.lowerSlope[2]).toBe(1); // u >= -l: the identity is the tighter lower line
  });

  it('sigmoid: the interval of a wide input is within [0, 1] and contains both ends', () => {
    const { lo, hi } = BOUND_OPS.sigmoid.range(Float64Array.of(-1e4), Float64Array.of(1e4));
    expect(lo[0]).toBeLessThanOrEqual(0);
    expect(lo[0]).toBeGreaterThan(-1e-12);
    expect(hi[0]).toBeGreaterThanOrEqual(1);
    expect(hi[0]).toBeLessThan(1 + 1e-12);
  });
});
