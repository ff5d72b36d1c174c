import { readFile } from 'node:fs/promises';
import { Rng } from '@nnmax/core';
import { RegionAscent } from '@nnmax/bounds';
import { createEvaluator } from '@nnmax/runtime/node';
import { loadModel, maximize } from 'nnmax/node';
import { describe, expect, it } from 'vitest';
import { openModel, type Model } from '../packages/nnmax/src/model.js';
import { resolveProblem } from '../packages/nnmax/src/maximize.js';
import { startWalkHelper } from '../packages/nnmax/src/node/helpers.js';
import type { WalkHelper, WalkHelperFactory } from '../packages/nnmax/src/region-walk.js';
import { maximizeProblems, reachesOptimum } from './helpers/corpus.js';

/**
 * The search portfolio's region walks on a worker thread (nnmax/node, when not certifying): the
 * worker walks exactly as the calling thread would, the portfolio uses it once it is ready and
 * reaches the same exact optima, and a helper that fails leaves the walks to the calling thread.
 */
const problem = (id: string) => {
  const p = maximizeProblems().find((q) => q.id === id);
  if (!p) throw new Error(`no problem ${id}`);
  return p;
};
const N1_1 = problem('acasxu/ACASXU_run2a_1_1_batch_2000/prop_1/max Y_0');

interface Counting {
  factory: WalkHelperFactory;
  started: number;
  asked: number;
  /** Walks asked before the helper was ready (queued behind its set-up), and every start asked. */
  askedBeforeReady: number;
  starts: Float64Array[];
  walks: number;
  closed: number;
}

/** A factory around startWalkHelper that counts helpers, walks asked and answered, and closes. */
function counting(failWalks = false): Counting {
  const c = {
    started: 0,
    asked: 0,
    askedBeforeReady: 0,
    starts: [],
    walks: 0,
    closed: 0,
    factory: (init) => {
      const h = startWalkHelper(init);
      c.started++;
      return {
        get isReady() {
          return h.isReady;
        },
        walk: async (start, maxRegions, ms) => {
          c.asked++;
          if (!h.isReady) c.askedBeforeReady++;
          c.starts.push(Float64Array.from(start));
          if (failWalks) throw new Error('injected walk failure');
          const r = await h.walk(start, maxRegions, ms);
          c.walks++;
          return r;
        },
        close: () => {
          c.closed++;
          h.close();
        },
      } satisfies WalkHelper;
    },
  } as Counting;
  return c;
}

async function open(file: string, factory: WalkHelperFactory): Promise<Model> {
  return openModel(new Uint8Array(await readFile(file)), createEvaluator, { file }, { walk: factory });
}

const objective = (p: typeof N1_1) => ({ objective: { c: Float64Array.from(p.c), offset: 0, text: 'c . y' }, box: { lo: p.lo, hi: p.hi } });

describe('region walks on a worker thread', () => {
  it('ACAS Xu N1,1 property 1: walks on the worker end where walks on this thread end, bit for bit', async () => {
    const model = await open(N1_1.onnx, startWalkHelper);
    try {
      const prob = resolveProblem(model, objective(N1_1), 1);
      const init = { graph: model.requireIr(), spec: prob.spec, box: prob.box };
      const here = new RegionAscent(init.graph, init.spec, init.box);
      const helper = startWalkHelper(init);
      while (!helper.isReady) await new Promise((resolve) => setTimeout(resolve, 10));
      const rng = new Rng(5);
      for (let k = 0; k < 8; k++) {
        const start = Float64Array.from(N1_1.lo, (l, i) => rng.uniform(l, N1_1.hi[i]));
        const a = here.ascend(start, 64);
        const b = await helper.walk(start, 64, 1e9);
        expect(Array.from(b.x)).toEqual(Array.from(a.x));
        expect(b.value).toBe(a.value);
        expect(b.regions).toBe(a.regions);
        expect(a.regions).toBeGreaterThan(1);
      }
      helper.close();
      await expect(helper.walk(N1_1.lo as unknown as Float64Array, 64, 1e9)).rejects.toMatchObject({ name: 'InternalError' });
    } finally {
      await model.dispose();
    }
  }, 60_000);

  it('loadModel sends the graph to the spare thread ahead: the first walk helper sends only its id and walks as this thread does', async () => {
    const model = await loadModel(N1_1.onnx);
    try {
      const prob = resolveProblem(model, objective(N1_1), 1);
      const init = { graph: model.requireIr(), spec: prob.spec, box: prob.box };
      const helper = startWalkHelper(init);
      expect(helper.sentGraph).toBe(false);
      while (!helper.isReady) await new Promise((resolve) => setTimeout(resolve, 10));
      const here = new RegionAscent(init.graph, init.spec, init.box);
      const rng = new Rng(9);
      for (let k = 0; k < 4; k++) {
        const start = Float64Array.from(N1_1.lo, (l, i) => rng.uniform(l, N1_1.hi[i]));
        const b = await helper.walk(start, 64, 1e9);
        const a = here.ascend(start, 64);
        expect(Array.from(b.x)).toEqual(Array.from(a.x));
        expect(b.regions).toBe(a.regions);
      }
      helper.close();
      // a graph the thread never got (the same network imported again) goes with the set-up
      const other = await open(N1_1.onnx, startWalkHelper);
      try {
        const again = startWalkHelper({ ...init, graph: other.requireIr() });
        expect(again.sentGraph).toBe(true);
        while (!again.isReady) await new Promise((resolve) => setTimeout(resolve, 10));
        const start = Float64Array.from(N1_1.lo);
        expect(Array.from((await again.walk(start, 64, 1e9)).x)).toEqual(Array.from(here.ascend(start, 64).x));
        again.close();
      } finally {
        await other.dispose();
      }
    } finally {
      await model.dispose();
    }
  }, 60_000);

  it('maximize walks on the helper once it is ready, reaches exact optima, and closes it; certify and parallelSearch: false leave it unused', async () => {
    const c = counting();
    const model = await open(N1_1.onnx, c.factory);
    try {
      // first call: the helper's thread may still be starting; later calls reuse it
      for (const seed of [1, 2, 3]) {
        const r = await maximize(model, { ...objective(N1_1), timeLimitMs: 400, seed });
        expect(reachesOptimum(r.value, N1_1.optimum), `seed ${seed}: ${r.value} against ${N1_1.optimum}`).toBe(true);
      }
      expect(c.started).toBe(3);
      expect(c.closed).toBe(3);
      expect(c.walks).toBeGreaterThan(0);
      // the first two walks of each search were sent before the helper was ready
      expect(c.askedBeforeReady).toBe(6);
      const before = { ...c };
      const certified = await maximize(model, { ...objective(N1_1), certify: true, tol: 1e-4, timeLimitMs: 60_000, seed: 1 });
      expect(certified.status).toBe('optimal');
      expect(c.started).toBe(before.started);
      const inThread = await maximize(model, { ...objective(N1_1), method: 'de', timeLimitMs: 100, seed: 1 });
      expect(inThread.method).toBe('de');
      expect(c.started).toBe(before.started);
    } finally {
      await model.dispose();
    }
    const off = counting();
    const file = N1_1.onnx;
    const single = await openModel(new Uint8Array(await readFile(file)), createEvaluator, { file, parallelSearch: false }, { walk: off.factory });
    try {
      const r = await maximize(single, { ...objective(N1_1), timeLimitMs: 300, seed: 1 });
      expect(reachesOptimum(r.value, N1_1.optimum)).toBe(true);
      expect(off.started).toBe(0);
    } finally {
      await single.dispose();
    }
  }, 120_000);

  it("the first walks queue behind the helper's set-up; this thread walks from the design's best point meanwhile", async () => {
    const c = counting();
    const model = await open(N1_1.onnx, c.factory);
    try {
      let designBest: Float64Array | undefined;
      const r = await maximize(model, {
        ...objective(N1_1),
        timeLimitMs: 300,
        seed: 4,
        onProgress: (e) => {
          if (e.phase === 'sample') designBest ??= Float64Array.from(e.x);
        },
      });
      expect(reachesOptimum(r.value, N1_1.optimum)).toBe(true);
      expect(designBest).toBeDefined();
      expect(c.askedBeforeReady).toBe(2);
      // the helper's first two starts are other points than this thread's first (the incumbent)
      const [s1, s2] = c.starts;
      expect(Array.from(s1)).not.toEqual(Array.from(designBest!));
      expect(Array.from(s2)).not.toEqual(Array.from(designBest!));
      expect(Array.from(s1)).not.toEqual(Array.from(s2));
      expect(c.walks).toBeGreaterThanOrEqual(2);
    } finally {
      await model.dispose();
    }
  }, 60_000);

  it('a helper whose walks fail leaves them to this thread: the optimum is still reached', async () => {
    const c = counting(true);
    const model = await open(N1_1.onnx, c.factory);
    try {
      // let the helper's thread start (and be ready) before the search that uses it
      const warm = c.factory({ graph: model.requireIr(), spec: resolveProblem(model, objective(N1_1), 1).spec, box: resolveProblem(model, objective(N1_1), 1).box });
      while (!warm.isReady) await new Promise((resolve) => setTimeout(resolve, 10));
      warm.close();
      const r = await maximize(model, { ...objective(N1_1), timeLimitMs: 400, seed: 1 });
      expect(reachesOptimum(r.value, N1_1.optimum)).toBe(true);
      expect(r.method).toContain('walk');
      expect(c.asked).toBeGreaterThan(0);
      expect(c.walks).toBe(0);
      expect(c.closed).toBe(c.started);
    } finally {
      await model.dispose();
    }
  }, 60_000);
});
