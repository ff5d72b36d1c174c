import fc from 'fast-check';
import { Rng } from '@nnmax/core';
import type { MaxMinSpec } from '@nnmax/bounds';
import type { ActivationNode, IrGraph, IrNode } from '@nnmax/onnx';

/**
 * Random small networks for the property tests of the bounds: every activation (with its
 * parameters) and DAG blocks joined by add or concat, boxes from points to wide, and dense
 * sample points of a box.
 */

export type ActivationSpec = ActivationNode extends infer T ? (T extends ActivationNode ? Omit<T, 'id' | 'name' | 'size' | 'inputs'> : never) : never;

export const ACTIVATION_VARIANTS: readonly ActivationSpec[] = [
  { kind: 'relu' },
  { kind: 'leakyrelu', alpha: 0.1 },
  { kind: 'leakyrelu', alpha: 2.5 },
  { kind: 'sigmoid' },
  { kind: 'tanh' },
  { kind: 'softplus' },
  { kind: 'elu', alpha: 1 },
  { kind: 'elu', alpha: 2 },
  { kind: 'silu' },
  { kind: 'gelu', approximate: 'none' },
  { kind: 'gelu', approximate: 'tanh' },
];

export interface NetSpec {
  readonly nIn: number;
  readonly nOut: number;
  readonly widths: readonly number[];
  readonly acts: readonly number[]; // indices into ACTIVATION_VARIANTS, one per layer
  readonly blocks: readonly number[]; // per layer: 0 plain, 1 two branches joined by add (+ skip), 2 joined by concat
  readonly weightScale: number;
  readonly seed: number;
}

/** Builds the IR of a spec: hidden blocks of affine + activation (plain, add-joined or concat-joined branches), then an affine output. */
export function buildNet(spec: NetSpec): IrGraph {
  const rng = new Rng(spec.seed);
  const nodes: IrNode[] = [];
  const push = (n: Record<string, unknown>): number => {
    const id = nodes.length;
    nodes.push({ ...n, id, name: `${String(n.kind)}_${id}` } as unknown as IrNode);
    return id;
  };
  const affine = (input: number, nIn: number, size: number): number => {
    const scale = spec.weightScale / Math.sqrt(nIn);
    const W = Float64Array.from({ length: size * nIn }, () => rng.normal() * scale);
    const b = Float64Array.from({ length: size }, () => rng.normal() * 0.5);
    return push({ kind: 'affine', size, inputs: [input], nIn, W, b });
  };
  const act = (input: number, size: number, a: ActivationSpec): number => push({ ...a, size, inputs: [input] });
  let cur = push({ kind: 'input', size: spec.nIn, inputs: [] });
  let curSize = spec.nIn;
  spec.widths.forEach((w, l) => {
    const a = ACTIVATION_VARIANTS[spec.acts[l] % ACTIVATION_VARIANTS.length];
    const block = spec.blocks[l];
    if (block === 0) {
      cur = act(affine(cur, curSize, w), w, a);
      curSize = w;
      return;
    }
    const p = act(affine(cur, curSize, w), w, a);
    const q = act(affine(cur, curSize, w), w, a);
    if (block === 1) {
      cur = push({ kind: 'add', size: w, inputs: curSize === w ? [p, q, cur] : [p, q] });
      curSize = w;
    } else {
      cur = push({ kind: 'concat', size: 2 * w, inputs: [p, q] });
      curSize = 2 * w;
    }
  });
  const output = affine(cur, curSize, spec.nOut);
  return { nodes, input: 0, output, nIn: spec.nIn, nOut: spec.nOut };
}

export const netSpec: fc.Arbitrary<NetSpec> = fc
  .record({
    nIn: fc.integer({ min: 1, max: 4 }),
    nOut: fc.integer({ min: 1, max: 3 }),
    widths: fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 3 }),
    acts: fc.array(fc.nat(ACTIVATION_VARIANTS.length - 1), { minLength: 3, maxLength: 3 }),
    blocks: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 3, maxLength: 3 }),
    weightScale: fc.constantFrom(0.5, 1.5, 4),
    seed: fc.integer({ min: 1, max: 2 ** 30 }),
  })
  .map((s) => ({ ...s, blocks: s.blocks.map((b, i) => (i === 0 ? 0 : b)) }));

/** A box from a centre and a log-radius per input (radius 0 makes a point). */
export const boxArb = (nIn: number): fc.Arbitrary<{ lo: Float64Array; hi: Float64Array }> =>
  fc
    .array(fc.tuple(fc.double({ min: -2, max: 2, noNaN: true }), fc.oneof(fc.constant(-Infinity), fc.double({ min: -6, max: 0.5, noNaN: true }))), {
      minLength: nIn,
      maxLength: nIn,
    })
    .map((cr) => ({ lo: Float64Array.from(cr, ([c, e]) => c - 10 ** e), hi: Float64Array.from(cr, ([c, e]) => c + 10 ** e) }));

/** n points of the box: every corner (up to 16), the centre, and uniform samples. */
export function densePoints(lo: Float64Array, hi: Float64Array, n: number, seed: number): { x: Float64Array; n: number } {
  const d = lo.length;
  const rng = new Rng(seed);
  const pts: number[] = [];
  const corners = Math.min(2 ** d, 16);
  for (let c = 0; c < corners; c++) for (let k = 0; k < d; k++) pts.push((c >> k) & 1 ? hi[k] : lo[k]);
  for (let k = 0; k < d; k++) pts.push(Math.min(hi[k], Math.max(lo[k], 0.5 * lo[k] + 0.5 * hi[k])));
  const total = corners + 1 + n;
  for (let s = corners + 1; s < total; s++) for (let k = 0; k < d; k++) pts.push(rng.uniform(lo[k], hi[k]));
  return { x: Float64Array.from(pts), n: total };
}

/**
 * A max-min spec from rows `[nOut + 1]` (output weights, then the constant) split into disjuncts of
 * the given sizes, in order (the terms left over are dropped); the objective is the max over the
 * disjuncts of the min over their terms.
 */
export function maxMinSpecOf(terms: readonly (readonly number[])[], groupSizes: readonly number[], nOut: number): MaxMinSpec {
  const disjuncts: { D: Float64Array; e: Float64Array }[] = [];
  let t = 0;
  for (const size of groupSizes) {
    if (t >= terms.length) break;
    const part = terms.slice(t, t + size);
    t += size;
    disjuncts.push({ D: Float64Array.from(part.flatMap((r) => r.slice(0, nOut))), e: Float64Array.from(part, (r) => r[nOut]) });
  }
  return { nOut, disjuncts };
}
