import fc from 'fast-check';
import { boundLinear, boundMaxMin, boxBatch, evaluateSpec, intervalBounds, type BoundMethod } from '@nnmax/bounds';
import { forward64, forwardAll } from '@nnmax/onnx';
import { describe, expect, it } from 'vitest';
import { campaign } from './helpers/campaign.js';
import { ACTIVATION_VARIANTS, boxArb, buildNet, densePoints, maxMinSpecOf, netSpec, type NetSpec } from './helpers/random-nets.js';

/**
 * Property tests of the bounds on random small networks: no dense sample of c . F(x) (float64
 * reference forward) leaves the certified interval of IBP, CROWN or alpha-CROWN, for every
 * activation and for DAGs with add and concat. The comparison has no tolerance: the certified
 * bounds carry a rounding slack larger than the reference forward's own rounding error.
 */

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
      campaign(150, 4242),
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
      campaign(100, 777),
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
          const mm = maxMinSpecOf(terms, groupSizes, g.nOut);
          const res = boundMaxMin(g, mm, boxBatch(boxes), { method });
          boxes.forEach((box, b) => {
            const { x, n } = densePoints(box.lo, box.hi, 200, spec.seed + b);
            const v = evaluateSpec(mm, forward64(g, x, n), n);
            expect(res.upper[b]).toBeGreaterThanOrEqual(Math.max(...v));
          });
        },
      ),
      campaign(100, 99),
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
