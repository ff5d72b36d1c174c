import { InvalidOptionError, makeBox, Rng, type Box } from '@nnmax/core';
import { forward64, type IrGraph, type IrNode } from '@nnmax/onnx';
import { beforeAll, describe, expect, it } from 'vitest';
import { createMilpOracle, encodeReluMilp, type MilpOracle } from './milp.js';

/** Builds an IR graph node by node (ids in topological order). */
class IrBuilder {
  readonly nodes: IrNode[] = [];

  constructor(readonly nIn: number) {
    this.nodes.push({ id: 0, name: 'x', size: nIn, inputs: [], kind: 'input' });
  }

  affine(src: number, W: number[][], b: number[]): number {
    const nIn = this.nodes[src].size;
    const id = this.nodes.length;
    this.nodes.push({ id, name: `gemm${id}`, kind: 'affine', size: b.length, inputs: [src], nIn, W: Float64Array.from(W.flat()), b: Float64Array.from(b) });
    return id;
  }

  relu(src: number): number {
    const id = this.nodes.length;
    this.nodes.push({ id, name: `relu${id}`, kind: 'relu', size: this.nodes[src].size, inputs: [src] });
    return id;
  }

  add(...srcs: number[]): number {
    const id = this.nodes.length;
    this.nodes.push({ id, name: `add${id}`, kind: 'add', size: this.nodes[srcs[0]].size, inputs: srcs });
    return id;
  }

  concat(...srcs: number[]): number {
    const id = this.nodes.length;
    this.nodes.push({ id, name: `concat${id}`, kind: 'concat', size: srcs.reduce((s, k) => s + this.nodes[k].size, 0), inputs: srcs });
    return id;
  }

  build(output: number): IrGraph {
    return { nodes: this.nodes, input: 0, output, nIn: this.nIn, nOut: this.nodes[output].size };
  }
}

function randomMatrix(rng: Rng, rows: number, cols: number): number[][] {
  return Array.from({ length: rows }, () => Array.from({ length: cols }, () => rng.normal() / Math.sqrt(cols)));
}

function randomVector(rng: Rng, n: number, scale = 0.5): number[] {
  return Array.from({ length: n }, () => scale * rng.normal());
}

/**
 * A random ReLU net: nIn -> h1 -> h2 -> nOut; with `isDag`, the second hidden layer also gets a
 * skip connection from the first (add) and the output reads a concat of both hidden layers.
 */
function randomNet(rng: Rng, nIn: number, h1: number, h2: number, nOut: number, isDag: boolean): IrGraph {
  const g = new IrBuilder(nIn);
  const a1 = g.relu(g.affine(0, randomMatrix(rng, h1, nIn), randomVector(rng, h1)));
  let a2 = g.relu(g.affine(a1, randomMatrix(rng, h2, h1), randomVector(rng, h2)));
  if (isDag) {
    const skip = g.affine(a1, randomMatrix(rng, h2, h1), randomVector(rng, h2));
    a2 = g.relu(g.add(g.affine(a1, randomMatrix(rng, h2, h1), randomVector(rng, h2)), skip));
    const both = g.concat(a1, a2);
    return g.build(g.affine(both, randomMatrix(rng, nOut, h1 + h2), randomVector(rng, nOut)));
  }
  return g.build(g.affine(a2, randomMatrix(rng, nOut, h2), randomVector(rng, nOut)));
}

function objective(graph: IrGraph, c: ArrayLike<number>, x: Float64Array): number {
  const y = forward64(graph, x, 1);
  let v = 0;
  for (let j = 0; j < graph.nOut; j++) v += c[j] * y[j];
  return v;
}

/** The largest of n uniform samples of c . F(x) over the box, by the float64 reference forward. */
function sampledMax(graph: IrGraph, c: ArrayLike<number>, box: Box, n: number, rng: Rng): number {
  const xs = new Float64Array(n * graph.nIn);
  for (let s = 0; s < n; s++) for (let i = 0; i < graph.nIn; i++) xs[s * graph.nIn + i] = rng.uniform(box.lo[i], box.hi[i]);
  const ys = forward64(graph, xs, n);
  let best = -Infinity;
  for (let s = 0; s < n; s++) {
    let v = 0;
    for (let j = 0; j < graph.nOut; j++) v += c[j] * ys[s * graph.nOut + j];
    best = Math.max(best, v);
  }
  return best;
}

/** Tolerance between the MILP value and the float64 forward at its x (HiGHS tolerances are 1e-9). */
const VALUE_TOL = 1e-6;
const SAMPLES = 20_000;

describe('MILP oracle (HiGHS, big-M ReLU encoding)', () => {
  let oracle: MilpOracle;
  beforeAll(async () => {
    oracle = await createMilpOracle();
  });

  it('a hand-built tent net: max of t(x0) + t(x1) - relu(x0 + x1 - 1.5), t(s) = relu(s) - 2 relu(s - 1), is 1.5', () => {
    const g = new IrBuilder(2);
    // pre = [x0, x0 - 1, x1, x1 - 1, x0 + x1 - 1.5]
    const pre = g.affine(0, [[1, 0], [1, 0], [0, 1], [0, 1], [1, 1]], [0, -1, 0, -1, -1.5]);
    const out = g.affine(g.relu(pre), [[1, -2, 1, -2, -1]], [0]);
    const graph = g.build(out);
    const box = makeBox([-1, -1], [3, 3]);
    const r = oracle.maximize(graph, [1], box);
    expect(r.status).toBe('optimal');
    expect(r.value).toBeCloseTo(1.5, 9);
    expect(objective(graph, [1], r.x as Float64Array)).toBeCloseTo(1.5, 9);
    expect(r.binaries).toBe(5);
    // and minimising (maximising -F): t(3) + t(3) - relu(4.5) = -1 - 1 - 4.5 = -6.5 at (3, 3)
    const m = oracle.maximize(graph, [-1], box);
    expect(m.value).toBeCloseTo(6.5, 9);
    expect(Array.from(m.x as Float64Array)).toEqual([3, 3]);
  });

  it('stable neurons get no binary: a box where every ReLU is active or dead is an LP', () => {
    const g = new IrBuilder(1);
    const out = g.affine(g.relu(g.affine(0, [[1], [-1]], [5, -5])), [[2, 3]], [0]);
    const graph = g.build(out);
    const r = oracle.maximize(graph, [1], makeBox([0], [1]));
    expect(r.binaries).toBe(0);
    expect(r.value).toBeCloseTo(12, 12); // 2 (x + 5) at x = 1
  });

  const NETS = Array.from({ length: 24 }, (_, k) => k);
  it.each(NETS)('random net %i: the optimum is >= the best of 20,000 samples and forward64 at its x agrees', (k) => {
    const rng = new Rng(1000 + k);
    const nIn = 2 + (k % 3);
    const nOut = 1 + (k % 2);
    const graph = randomNet(rng, nIn, 4 + rng.int(5), 4 + rng.int(5), nOut, k % 4 === 3);
    const lo = Array.from({ length: nIn }, () => rng.uniform(-2, 0));
    const box = makeBox(lo, lo.map((l) => l + rng.uniform(0.5, 3)));
    const c = Array.from({ length: nOut }, () => rng.normal());
    const r = oracle.maximize(graph, c, box, { timeLimitMs: 60_000 });
    expect(r.status).toBe('optimal');
    const x = r.x as Float64Array;
    for (let i = 0; i < nIn; i++) {
      expect(x[i]).toBeGreaterThanOrEqual(box.lo[i]);
      expect(x[i]).toBeLessThanOrEqual(box.hi[i]);
    }
    expect(Math.abs(objective(graph, c, x) - r.value)).toBeLessThan(VALUE_TOL);
    expect(r.value).toBeGreaterThanOrEqual(sampledMax(graph, c, box, SAMPLES, rng) - VALUE_TOL);
  });

  it('the LP text declares one binary per unstable ReLU and bounds every column', () => {
    const rng = new Rng(5);
    const graph = randomNet(rng, 3, 6, 5, 2, true);
    const enc = encodeReluMilp(graph, [1, -1], makeBox([-1, -1, -1], [1, 1, 1]));
    expect(enc.inputNames).toEqual(['x0', 'x1', 'x2']);
    const general = enc.lp.slice(enc.lp.indexOf('General'));
    for (const z of enc.binaryNames) expect(general).toContain(z);
    for (const z of enc.binaryNames) expect(enc.lp).toContain(` 0 <= ${z} <= 1`);
  });

  it('a time limit is passed on; the result stays consistent whatever the status', () => {
    const rng = new Rng(77);
    const graph = randomNet(rng, 4, 24, 24, 1, false);
    const box = makeBox([-1, -1, -1, -1], [1, 1, 1, 1]);
    const r = oracle.maximize(graph, [1], box, { timeLimitMs: 1 });
    expect(['optimal', 'timeout']).toContain(r.status);
    if (r.x !== undefined) expect(Math.abs(objective(graph, [1], r.x) - r.value)).toBeLessThan(VALUE_TOL);
  });

  it('rejects a negative time limit, a wrong objective length and non-ReLU activations', () => {
    const g = new IrBuilder(1);
    const graph = g.build(g.affine(0, [[1]], [0]));
    const box = makeBox([0], [1]);
    expect(() => oracle.maximize(graph, [1], box, { timeLimitMs: -1 })).toThrow(InvalidOptionError);
    expect(() => oracle.maximize(graph, [1, 2], box)).toThrow(InvalidOptionError);
    const s = new IrBuilder(1);
    const sig = s.nodes.length;
    s.nodes.push({ id: sig, name: 'sig', kind: 'sigmoid', size: 1, inputs: [0] });
    expect(() => oracle.maximize(s.build(sig), [1], box)).toThrow(InvalidOptionError);
  });
});
