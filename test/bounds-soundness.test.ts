import { readFileSync } from 'node:fs';
import { Rng, type Box } from '@nnmax/core';
import { boundLinear, boxBatch, type BoundMethod } from '@nnmax/bounds';
import { forward64, importModel, requireIr, valueAndGradient64, type IrGraph } from '@nnmax/onnx';
import { loadModel, parseVnnlib, type Model } from 'nnmax';
import { describe, expect, it, onTestFinished } from 'vitest';
import { corpusNetworks, type CorpusNetwork } from './helpers/corpus.js';

/**
 * Soundness of CROWN and alpha-CROWN on every network of the benchmark corpus: on random sub-boxes
 * of the networks' VNN-LIB input boxes, no point (uniform samples, the box's corners, and the ends
 * of projected gradient ascents and descents of each objective) evaluated by the float64
 * reference forward leaves the certified interval of any objective (every output and two random
 * combinations of the outputs). No tolerance: a certified bound carries a rounding slack larger
 * than the reference forward's own rounding error.
 *
 * 100,000 uniform points per network (NNMAX_SOUNDNESS_POINTS=N changes it). forward64 runs at
 * about 0.3 to 0.5 GMAC/s, which would take 100 to 200 s per MNIST net, so the points are screened
 * with onnxruntime (float32, the same network): every point whose float32 value comes near a
 * bound, or beyond it, is evaluated again with forward64 and checked there. "Near" is 64
 * times float32's largest error measured on each batch (32 points valued both ways): a float64
 * value beyond a bound would have to sit behind a float32 error 64 times the largest measured.
 * The corners and the ascents' ends go straight to forward64.
 */

const NETWORKS = corpusNetworks();
const POINTS = Number(process.env.NNMAX_SOUNDNESS_POINTS ?? 100_000);
const BATCH = 4096;
/** A point is re-evaluated in float64 when its float32 value is within SCREEN_MARGIN times float32's measured error of a bound. */
const SCREEN_MARGIN = 64;
/** Points per batch valued in both float32 and float64 to measure float32's error. */
const PROBE_POINTS = 32;
/**
 * Multiply-adds of float64 re-evaluation per box. Where CROWN is tight (small eps boxes of the
 * MNIST nets) every point is near a bound; then the first near points up to this budget are
 * re-evaluated (about 6,000 on the ERAN 9x200 net), the others are screened in float32 only.
 */
const RECHECK_MACS = 3e9;
/** Projected gradient steps per objective and direction, from ASCENT_STARTS starts. */
const ASCENT_STEPS = 12;
const ASCENT_STARTS = 4;

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

/** Uniform points of the box, plus up to 64 of its corners first (with `corners`). */
function samplePoints(box: Box, n: number, rng: Rng, withCorners = true): Float64Array {
  const d = box.lo.length;
  const x = new Float64Array(n * d);
  const corners = withCorners ? Math.min(n, d <= 6 ? 2 ** d : 64) : 0;
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

/**
 * `n` uniform points of the box, screened with onnxruntime in batches: returns the violations
 * found by forward64 among the points whose float32 value is near or beyond a bound, and how
 * many points were re-evaluated.
 */
async function screenedViolations(
  model: Model,
  ir: IrGraph,
  box: Box,
  n: number,
  rng: Rng,
  C: Float64Array,
  bounds: Map<BoundMethod, { lower: Float64Array; upper: Float64Array }>,
): Promise<{ found: Violation[]; rechecked: number }> {
  const nOut = ir.nOut;
  const nIn = ir.nIn;
  const nRows = C.length / nOut;
  const found: Violation[] = [];
  let rechecked = 0;
  let macs = 0;
  for (const node of ir.nodes) if (node.kind === 'affine') macs += node.W.length;
  const budget = Math.max(BATCH, Math.floor(RECHECK_MACS / Math.max(1, macs)));
  // the largest sum |C[r]| over rows: an output error of e is at most e * rowScale in a row
  let rowScale = 0;
  for (let r = 0; r < nRows; r++) {
    let a = 0;
    for (let o = 0; o < nOut; o++) a += Math.abs(C[r * nOut + o]);
    rowScale = Math.max(rowScale, a);
  }
  for (let s0 = 0; s0 < n; s0 += BATCH) {
    const m = Math.min(BATCH, n - s0);
    const x = samplePoints(box, m, rng, false);
    const y = await model.evaluator.values(x, m);
    // float32's error on this batch, measured on a few points against forward64; the margin is
    // 64 times the largest seen (never below 1e-9 relative)
    const probe = Math.min(m, PROBE_POINTS);
    const y64 = forward64(ir, x.subarray(0, probe * nIn), probe);
    let err = 0;
    for (let i = 0; i < probe * nOut; i++) err = Math.max(err, Math.abs(y64[i] - y[i]));
    const margin = (bound: number): number => Math.max(SCREEN_MARGIN * err * Math.max(1, rowScale), 1e-9 * Math.max(1, Math.abs(bound)));
    const near: number[] = [];
    for (let s = 0; s < m; s++) {
      let close = false;
      for (let r = 0; r < nRows && !close; r++) {
        let v = 0;
        for (let o = 0; o < nOut; o++) v += C[r * nOut + o] * y[s * nOut + o];
        for (const b of bounds.values()) {
          const lo = b.lower[r];
          const hi = b.upper[r];
          if (!(v < hi - margin(hi) && v > lo + margin(lo))) close = true;
        }
      }
      if (close) near.push(s);
    }
    near.splice(Math.max(0, budget - rechecked));
    if (near.length === 0) continue;
    const xs = new Float64Array(near.length * nIn);
    near.forEach((s, i) => xs.set(x.subarray(s * nIn, (s + 1) * nIn), i * nIn));
    found.push(...violations(ir, xs, near.length, C, bounds));
    rechecked += near.length;
  }
  return { found, rechecked };
}

describe('certified bounds contain every sampled value on every corpus network', () => {
  it('the corpus has all 56 networks', () => {
    expect(NETWORKS.length).toBe(56);
  });

  it.each(NETWORKS.map((n) => [n.id, n] as const))('%s: CROWN and alpha-CROWN bounds hold on random sub-boxes of its property boxes', async (_id, net) => {
    const ir = requireIr(importModel(readFileSync(net.path), net.path));
    const model = await loadModel(net.path);
    onTestFinished(() => model.dispose());
    const rng = new Rng(net.id.length * 7919 + net.id.charCodeAt(net.id.length - 6));
    const isLarge = ir.nIn > 16;
    const nBoxes = isLarge ? 2 : 4;
    const perBox = Math.max(1, Math.ceil(POINTS / nBoxes));
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
      // the corners (up to 64) in float64, then the uniform points screened with onnxruntime
      const nCorners = Math.min(perBox, ir.nIn <= 6 ? 2 ** ir.nIn : 64);
      const found = violations(ir, samplePoints(box, nCorners, rng), nCorners, C, bounds);
      const screened = await screenedViolations(model, ir, box, perBox, rng, C, bounds);
      found.push(...screened.found);
      evaluated += nCorners + perBox;
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
    expect(evaluated).toBeGreaterThanOrEqual(POINTS);
  });

  it('the screen is not blind: a bound 1e-7 below the largest float64 value among the points is reported', async () => {
    const net = NETWORKS.find((n) => n.id.includes('ACASXU_run2a_1_1'))!;
    const ir = requireIr(importModel(readFileSync(net.path), net.path));
    const model = await loadModel(net.path);
    onTestFinished(() => model.dispose());
    const box = propertyBoxes(net, ir.nIn, new Rng(1), 1)[0];
    const C = Float64Array.of(1, 0, 0, 0, 0);
    // the same points the screen will draw (same seed), valued in float64
    const n = 3 * BATCH + 17;
    let max = -Infinity;
    const rng = new Rng(99);
    for (let s0 = 0; s0 < n; s0 += BATCH) {
      const m = Math.min(BATCH, n - s0);
      const y = forward64(ir, samplePoints(box, m, rng, false), m);
      for (let s = 0; s < m; s++) max = Math.max(max, y[s * ir.nOut]);
    }
    const bounds = new Map<BoundMethod, { lower: Float64Array; upper: Float64Array }>([['crown', { lower: Float64Array.of(-1e9), upper: Float64Array.of(max - 1e-7) }]]);
    const { found, rechecked } = await screenedViolations(model, ir, box, n, new Rng(99), C, bounds);
    expect(found.length).toBeGreaterThanOrEqual(1);
    expect(found.every((v) => v.value > max - 1e-7)).toBe(true);
    expect(rechecked).toBeLessThan(n); // the screen passes most points without float64
  });
});
