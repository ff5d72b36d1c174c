import fc from 'fast-check';
import { Rng } from '@nnmax/core';
import { boundLinear, boundMaxMin, boxBatch, evaluateSpec, intervalBounds, type BoundMethod, type MaxMinSpec } from '@nnmax/bounds';
import { forward64, forwardAll, type ActivationNode, type IrGraph, type IrNode } from '@nnmax/onnx';
import { describe, expect, it } from 'vitest';

/**
 * Property tests of the bounds on random small networks: no dense sample of c . F(x) (float64
 * reference forward) leaves the certified interval of IBP, CROWN or alpha-CROWN, for every
 * activation and for DAGs with add and concat. The comparison has no tolerance: the certified
 * bounds carry a rounding slack larger than the reference forward's own rounding error.
 */

type ActivationSpec = ActivationNode extends infer T ? (T extends ActivationNode ? Omit<T, 'id' | 'name' | 'size' | 'inputs'> : never) : never;

const ACTIVATION_VARIANTS: readonly ActivationSpec[] = [
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

interface NetSpec {
  readonly nIn: number;
  readonly nOut: number;
  readonly widths: readonly number[];
  readonly acts: readonly number[]; // indices into ACTIVATION_VARIANTS, one per layer
  readonly blocks: readonly number[]; // per layer: 0 plain, 1 two branches joined by add (+ skip), 2 joined by concat
  readonly weightScale: number;
  readonly seed: number;
}

/** Builds the IR of a spec: hidden blocks of affine + activation (plain, add-joined or concat-joined branches), then an affine output. */
function buildNet(spec: NetSpec): IrGraph {
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

const netSpec: fc.Arbitrary<NetSpec> = fc
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
const boxArb = (nIn: number): fc.Arbitrary<{ lo: Float64Array; hi: Float64Array }> =>
  fc
    .array(fc.tuple(fc.double({ min: -2, max: 2, noNaN: true }), fc.oneof(fc.constant(-Infinity), fc.double({ min: -6, max: 0.5, noNaN: true }))), {
      minLength: nIn,
      maxLength: nIn,
    })
    .map((cr) => ({ lo: Float64Array.from(cr, ([c, e]) => c - 10 ** e), hi: Float64Array.from(cr, ([c, e]) => c + 10 ** e) }));

/** n points of the box: every corner (up to 16), the centre, and uniform samples. */
function densePoints(lo: Float64Array, hi: Float64Array, n: number, seed: number): { x: Float64Array; n: number } {
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

const METHODS: readonly BoundMethod[] = ['ibp', 'crown', 'alpha-crown'];
const SAMPLES = 400;

describe('bounds on random networks contain every sample', () => {
  it('boundLinear: lower <= c . F(x) <= upper for IBP, CROWN and alpha-CROWN; alpha-CROWN is no looser than CROWN', () => {
    fc.assert(
      fc.property(
        netSpec.chain((s) => fc.tuple(fc.constant(s), boxArb(s.nIn), fc.array(fc.double({ min: -2, max: 2, noNaN: true }), { minLength: 2 * s.nOut, maxLength: 2 * s.nOut }))),
        ([spec, box, cFlat]) => {
          const g = buildNet(spec);
          const C = Float64Array.from(cFlat); // two objectives
          const boxes = boxBatch([box]);
          const res = Object.fromEntries(METHODS.map((m) => [m, boundLinear(g, boxes, C, undefined, { method: m, alpha: { iterations: 5 } })]));
          const { x, n } = densePoints(box.lo, box.hi, SAMPLES, spec.seed);
          const y = forward64(g, x, n);
          for (let i = 0; i < 2; i++) {
            let lo = Infinity;
            let hi = -Infinity;
            for (let s = 0; s < n; s++) {
              let v = 0;
              for (let o = 0; o < g.nOut; o++) v += C[i * g.nOut + o] * y[s * g.nOut + o];
              lo = Math.min(lo, v);
              hi = Math.max(hi, v);
            }
            for (const m of METHODS) {
              expect(res[m].lower[i], `${m} lower`).toBeLessThanOrEqual(lo);
              expect(res[m].upper[i], `${m} upper`).toBeGreaterThanOrEqual(hi);
            }
            expect(res['alpha-crown'].upper[i]).toBeLessThanOrEqual(res.crown.upper[i]);
            expect(res['alpha-crown'].lower[i]).toBeGreaterThanOrEqual(res.crown.lower[i]);
          }
        },
      ),
      { numRuns: 150, seed: 4242 },
    );
  });

  it('intervalBounds: every node of every sample lies in its interval', () => {
    fc.assert(
      fc.property(netSpec.chain((s) => fc.tuple(fc.constant(s), boxArb(s.nIn), boxArb(s.nIn))), ([spec, b1, b2]) => {
        const g = buildNet(spec);
        const ivs = intervalBounds(g, boxBatch([b1, b2]));
        [b1, b2].forEach((box, bi) => {
          const { x, n } = densePoints(box.lo, box.hi, 100, spec.seed + bi);
          const all = forwardAll(g, x, n);
          const outside: string[] = [];
          for (const node of g.nodes) {
            const iv = ivs.get(node.id);
            if (iv === undefined) {
              outside.push(`node ${node.id} has no interval`);
              continue;
            }
            for (let s = 0; s < n; s++) {
              for (let j = 0; j < node.size; j++) {
                const v = all[node.id][s * node.size + j];
                const q = bi * node.size + j;
                if (!(v >= iv.lo[q] && v <= iv.hi[q])) outside.push(`node ${node.id} neuron ${j}: ${v} outside [${iv.lo[q]}, ${iv.hi[q]}]`);
              }
            }
          }
          expect(outside).toEqual([]);
        });
      }),
      { numRuns: 100, seed: 777 },
    );
  });

  it('boundMaxMin: the bound of max_k min_j (D_kj . F(x) + e_kj) is above every sample, per box of a batch', () => {
    fc.assert(
      fc.property(
        netSpec.chain((s) =>
          fc.tuple(
            fc.constant(s),
            fc.array(boxArb(s.nIn), { minLength: 1, maxLength: 3 }),
            fc.array(fc.array(fc.double({ min: -2, max: 2, noNaN: true }), { minLength: s.nOut + 1, maxLength: s.nOut + 1 }), { minLength: 1, maxLength: 3 }),
            fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 3 }),
            fc.constantFrom<BoundMethod>('crown', 'alpha-crown'),
          ),
        ),
        ([spec, boxes, terms, groupSizes, method]) => {
          const g = buildNet(spec);
          // split the terms into disjuncts of the given sizes (the last takes the rest)
          const disjuncts: { D: Float64Array; e: Float64Array }[] = [];
          let t = 0;
          for (const size of groupSizes) {
            if (t >= terms.length) break;
            const part = terms.slice(t, t + size);
            t += size;
            disjuncts.push({ D: Float64Array.from(part.flatMap((r) => r.slice(0, g.nOut))), e: Float64Array.from(part, (r) => r[g.nOut]) });
          }
          const mm: MaxMinSpec = { nOut: g.nOut, disjuncts };
          const res = boundMaxMin(g, mm, boxBatch(boxes), { method });
          boxes.forEach((box, b) => {
            const { x, n } = densePoints(box.lo, box.hi, 200, spec.seed + b);
            const v = evaluateSpec(mm, forward64(g, x, n), n);
            expect(res.upper[b]).toBeGreaterThanOrEqual(Math.max(...v));
          });
        },
      ),
      { numRuns: 100, seed: 99 },
    );
  });
});

describe('bounds on degenerate and extreme boxes', () => {
  const spec: NetSpec = { nIn: 3, nOut: 2, widths: [5, 5], acts: [0, 3, 0], blocks: [0, 1, 0], weightScale: 1.5, seed: 11 };
  const g = buildNet(spec);

  it('a point box gives bounds that enclose the float64 value at the point, for every activation', () => {
    for (let a = 0; a < ACTIVATION_VARIANTS.length; a++) {
      const net = buildNet({ ...spec, acts: [a, a, a] });
      const x = Float64Array.of(0.3, -1.2, 2);
      const y = forward64(net, x, 1);
      for (const method of METHODS) {
        const r = boundLinear(net, boxBatch([{ lo: x, hi: x }]), Float64Array.of(1, 0, 0, 1), undefined, { method });
        for (let i = 0; i < 2; i++) {
          expect(r.lower[i]).toBeLessThanOrEqual(y[i]);
          expect(r.upper[i]).toBeGreaterThanOrEqual(y[i]);
          expect(r.upper[i] - r.lower[i]).toBeLessThan(1e-9 * (1 + Math.abs(y[i])));
        }
      }
    }
  });

  it('a box so large that the arithmetic overflows gives infinite bounds instead of throwing', () => {
    const lo = Float64Array.of(-1e308, -1e308, -1e308);
    const hi = Float64Array.of(1e308, 1e308, 1e308);
    for (const method of METHODS) {
      const r = boundLinear(g, boxBatch([{ lo, hi }]), Float64Array.of(1, 0), undefined, { method });
      expect(r.upper[0], method).toBe(Infinity);
      expect(r.lower[0], method).toBe(-Infinity);
    }
    const ivs = intervalBounds(g, boxBatch([{ lo, hi }]));
    expect(ivs.get(g.output)?.hi[0]).toBe(Infinity);
  });

  it('boxes of a batch are bounded independently: the batch gives the bounds of each box alone', () => {
    const boxes = [
      { lo: Float64Array.of(-1, -1, -1), hi: Float64Array.of(1, 1, 1) },
      { lo: Float64Array.of(0.2, 0.2, 0.2), hi: Float64Array.of(0.3, 0.25, 0.9) },
      { lo: Float64Array.of(-3, 0, 1), hi: Float64Array.of(-2, 0, 2) },
    ];
    const C = Float64Array.of(1, -1);
    for (const method of METHODS) {
      const batch = boundLinear(g, boxBatch(boxes), C, undefined, { method });
      boxes.forEach((box, b) => {
        const one = boundLinear(g, boxBatch([box]), C, undefined, { method });
        expect(batch.upper[b]).toBe(one.upper[0]);
        expect(batch.lower[b]).toBe(one.lower[0]);
      });
    }
  });
});
