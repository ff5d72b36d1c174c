import { readFileSync } from 'node:fs';
import { Rng, type Box } from '@nnmax/core';
import { boundLinear, boxBatch, type BoundMethod } from '@nnmax/bounds';
import { forward64, importModel, requireIr, valueAndGradient64, type IrGraph } from '@nnmax/onnx';
import { parseVnnlib } from 'nnmax';
import { describe, expect, it } from 'vitest';
import { corpusNetworks, type CorpusNetwork } from './helpers/corpus.js';

/**
 * Soundness of CROWN and alpha-CROWN on every network of the benchmark corpus: on random sub-boxes
 * of the networks' VNN-LIB input boxes, no point (uniform samples, the box's corners, and the ends
 * of projected gradient ascents and descents of each objective) evaluated by the float64
 * reference forward leaves the certified interval of any objective (every output and two random
 * combinations of the outputs). No tolerance: a certified bound carries a rounding slack larger
 * than the reference forward's own rounding error.
 *
 * Points per network: forward64 runs at about 0.3 to 0.5 GMAC/s, so 100,000 points would take
 * about 3 s on each ACAS Xu net and 100 to 200 s on each MNIST net; the default budget keeps the
 * file well under a minute (100,000 points on the test and TLL nets, thousands on ACAS Xu, about
 * a thousand on MNIST, plus the ascents). NNMAX_SOUNDNESS_POINTS=N raises every network to at
 * least N points (a long run).
 */

const NETWORKS = corpusNetworks();
const MIN_POINTS = Number(process.env.NNMAX_SOUNDNESS_POINTS ?? 0);
/** Multiply-adds of the forward passes per network in the default budget. */
const FORWARD_BUDGET_MACS = 6e7;
const MAX_POINTS = 100_000;
const BATCH = 4096;
/** Projected gradient steps per objective and direction, from ASCENT_STARTS starts. */
const ASCENT_STEPS = 12;
const ASCENT_STARTS = 4;

function macsPerPoint(ir: IrGraph): number {
  let m = 0;
  for (const n of ir.nodes) if (n.kind === 'affine') m += n.W.length;
  return Math.max(m, 1);
}

/** The input boxes of the network's properties (every case), deduplicated, in a seeded order. */
function propertyBoxes(net: CorpusNetwork, nIn: number, rng: Rng, max: number): Box[] {
  const paths = [...net.properties];
  for (let i = paths.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [paths[i], paths[j]] = [paths[j], paths[i]];
  }
  const boxes: Box[] = [];
  const seen = new Set<string>();
  for (const p of paths) {
    for (const c of parseVnnlib(readFileSync(p, 'utf8'), p).cases) {
      expect(c.box.lo.length).toBe(nIn);
      const key = `${Array.from(c.box.lo)}|${Array.from(c.box.hi)}`;
      if (seen.has(key)) continue;
      seen.add(key);
      boxes.push(c.box);
      if (boxes.length >= max) return boxes;
    }
  }
  return boxes;
}

/** A random sub-box: each input keeps its whole range (1 in 4) or a random sub-interval, sometimes a point. */
function subBox(box: Box, rng: Rng): Box {
  const lo = new Float64Array(box.lo.length);
  const hi = new Float64Array(box.lo.length);
  for (let k = 0; k < lo.length; k++) {
    const u = rng.next();
    if (u < 0.25) {
      lo[k] = box.lo[k];
      hi[k] = box.hi[k];
      continue;
    }
    const a = rng.uniform(box.lo[k], box.hi[k]);
    const b = u < 0.3 ? a : rng.uniform(box.lo[k], box.hi[k]);
    lo[k] = Math.min(a, b);
    hi[k] = Math.max(a, b);
  }
  return { lo, hi };
}

/** Uniform points of the box, plus up to 64 of its corners first. */
function samplePoints(box: Box, n: number, rng: Rng): Float64Array {
  const d = box.lo.length;
  const x = new Float64Array(n * d);
  const corners = Math.min(n, d <= 6 ? 2 ** d : 64);
  for (let s = 0; s < n; s++) {
    for (let k = 0; k < d; k++) {
      const bit = s < corners ? (d <= 6 ? (s >> k) & 1 : rng.next() < 0.5 ? 1 : 0) : -1;
      x[s * d + k] = bit === 1 ? box.hi[k] : bit === 0 ? box.lo[k] : rng.uniform(box.lo[k], box.hi[k]);
    }
  }
  return x;
}

/** Ends of projected sign-gradient ascents of sign * C[row] . F(x) in the box, `[nStarts, nIn]`. */
function ascentEnds(ir: IrGraph, box: Box, c: Float64Array, sign: 1 | -1, rng: Rng): Float64Array {
  const d = ir.nIn;
  let x = samplePoints(box, ASCENT_STARTS, rng);
  const cs = Float64Array.from(c, (v) => sign * v);
  let step = 0.25;
  for (let it = 0; it < ASCENT_STEPS; it++) {
    const { gradients } = valueAndGradient64(ir, x, ASCENT_STARTS, cs);
    const next = new Float64Array(x.length);
    for (let i = 0; i < x.length; i++) {
      const k = i % d;
      const v = x[i] + Math.sign(gradients[i]) * step * (box.hi[k] - box.lo[k]);
      next[i] = Math.min(box.hi[k], Math.max(box.lo[k], v));
    }
    x = next;
    step *= 0.7;
  }
  return x;
}

interface Violation {
  readonly method: BoundMethod;
  readonly row: number;
  readonly value: number;
  readonly lower: number;
  readonly upper: number;
}

/** Rows of C that some point of `x` ([n, nIn]) puts outside [lower, upper]. */
function violations(ir: IrGraph, x: Float64Array, n: number, C: Float64Array, bounds: Map<BoundMethod, { lower: Float64Array; upper: Float64Array }>): Violation[] {
  const out: Violation[] = [];
  const nOut = ir.nOut;
  const nRows = C.length / nOut;
  for (let s0 = 0; s0 < n; s0 += BATCH) {
    const m = Math.min(BATCH, n - s0);
    const y = forward64(ir, x.subarray(s0 * ir.nIn, (s0 + m) * ir.nIn), m);
    for (let s = 0; s < m; s++) {
      for (let r = 0; r < nRows; r++) {
        let v = 0;
        for (let o = 0; o < nOut; o++) v += C[r * nOut + o] * y[s * nOut + o];
        for (const [method, b] of bounds) {
          if (!(v >= b.lower[r] && v <= b.upper[r])) out.push({ method, row: r, value: v, lower: b.lower[r], upper: b.upper[r] });
        }
      }
    }
  }
  return out;
}

describe('certified bounds contain every sampled value on every corpus network', () => {
  it('the corpus has all 56 networks', () => {
    expect(NETWORKS.length).toBe(56);
  });

  it.each(NETWORKS.map((n) => [n.id, n] as const))('%s: CROWN and alpha-CROWN bounds hold on random sub-boxes of its property boxes', (_id, net) => {
    const ir = requireIr(importModel(readFileSync(net.path), net.path));
    const rng = new Rng(net.id.length * 7919 + net.id.charCodeAt(net.id.length - 6));
    const macs = macsPerPoint(ir);
    const isLarge = ir.nIn > 16;
    const nBoxes = isLarge ? 2 : 4;
    const points = Math.max(MIN_POINTS, Math.min(MAX_POINTS, Math.floor(FORWARD_BUDGET_MACS / macs)));
    const perBox = Math.max(1, Math.ceil(points / nBoxes));
    const roots = propertyBoxes(net, ir.nIn, rng, nBoxes);
    expect(roots.length).toBeGreaterThan(0);
    // objectives: every output, and two random combinations of them
    const nRows = ir.nOut + 2;
    const C = new Float64Array(nRows * ir.nOut);
    for (let o = 0; o < ir.nOut; o++) C[o * ir.nOut + o] = 1;
    for (let i = ir.nOut * ir.nOut; i < C.length; i++) C[i] = rng.normal();
    let evaluated = 0;
    for (let t = 0; t < nBoxes; t++) {
      const root = roots[t % roots.length];
      const box = t === 0 ? root : subBox(root, rng);
      const bounds = new Map<BoundMethod, { lower: Float64Array; upper: Float64Array }>();
      bounds.set('crown', boundLinear(ir, boxBatch([box]), C, undefined, { method: 'crown' }));
      if (!isLarge || t === 1) bounds.set('alpha-crown', boundLinear(ir, boxBatch([box]), C, undefined, { method: 'alpha-crown' }));
      const x = samplePoints(box, perBox, rng);
      const found = violations(ir, x, perBox, C, bounds);
      evaluated += perBox;
      // the ends of ascents and descents of each objective: the points most likely to reach a bound
      // (on the large nets, of the two random combinations only: each ascent costs 36 forwards)
      for (let r = isLarge ? ir.nOut : 0; r < nRows; r++) {
        const c = C.subarray(r * ir.nOut, (r + 1) * ir.nOut);
        for (const sign of [1, -1] as const) {
          found.push(...violations(ir, ascentEnds(ir, box, c, sign, rng), ASCENT_STARTS, C, bounds));
          evaluated += ASCENT_STARTS;
        }
      }
      expect(found.slice(0, 3), `box ${t}: [${Array.from(box.lo).slice(0, 5)}..] to [${Array.from(box.hi).slice(0, 5)}..]`).toEqual([]);
    }
    expect(evaluated).toBeGreaterThanOrEqual(Math.min(points, MAX_POINTS));
  });
});
