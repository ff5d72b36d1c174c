import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { branchAndBound, DomainBounder, reluLayout, type BabDomain, type BabOptions, type BoundingHelper } from '@nnmax/bounds';
import { loadModel, parseVnnlib } from 'nnmax/node';
import { resolveProblem } from '../packages/nnmax/src/maximize.js';
import { describe, expect, it } from 'vitest';
import { startBoundingHelper } from '../packages/nnmax/src/node/helpers.js';
import { BENCHMARKS } from './helpers/corpus.js';

/**
 * The worker-thread helper of branch-and-bound (nnmax/node): domains cross threads by structured
 * clone and come back bounded exactly as on the calling thread; a run with the helper (which
 * bounds its own batches of the frontier, in a different order) proves the same verdict.
 */
describe('bounding helper on a worker thread', () => {
  it('ACAS Xu N4,9 property 1: a batch comes back bounded exactly as on this thread; runs with the helper prove the property, also on a reused thread', async () => {
    const dir = join(BENCHMARKS, 'acasxu');
    const property = parseVnnlib(readFileSync(join(dir, 'prop_1.vnnlib'), 'utf8'), 'prop_1.vnnlib');
    const model = await loadModel(join(dir, 'ACASXU_run2a_4_9_batch_2000.onnx'), { parallelBounds: false });
    try {
      const problem = resolveProblem(model, { vnnlib: property }, 1);
      const ir = model.requireIr();
      // the same batch (16 sub-boxes of the property's box) on both threads
      const init = { graph: ir, spec: problem.spec, settings: { split: 'input' as const, alphaIterations: 4 } };
      const batch = (): BabDomain[] =>
        Array.from({ length: 16 }, (_, q) => {
          const lo = Float64Array.from(problem.box.lo);
          const hi = Float64Array.from(problem.box.hi);
          for (const [bit, k] of [1, 2, 3, 4].entries()) {
            const mid = 0.5 * lo[k] + 0.5 * hi[k];
            if ((q >> bit) & 1) lo[k] = mid;
            else hi[k] = mid;
          }
          return { lo, hi, signs: new Int8Array(reluLayout(ir).total), live: Uint8Array.of(1), hasReluSplits: false, ub: Infinity, splitAt: -1, splitKind: 'input' };
        });
      const prune = { threshold: -Infinity, target: 0, frontier: 0, alpha: true };
      const here = new DomainBounder(init.graph, init.spec, init.settings).bound(batch(), prune);
      const worker = startBoundingHelper(init);
      while (!worker.isReady) await new Promise((resolve) => setTimeout(resolve, 10));
      const there = await worker.bound(batch(), prune);
      worker.close();
      expect(there.kept.map((d) => [d.ub, d.splitAt, Array.from(d.signs)])).toEqual(here.kept.map((d) => [d.ub, d.splitAt, Array.from(d.signs)]));
      expect(there.candidates.map((x) => Array.from(x))).toEqual(here.candidates.map((x) => Array.from(x)));
      expect(there.closedUb).toBe(here.closedUb);
      expect(here.kept.length).toBeGreaterThan(0);

      let calls = 0;
      let closed = 0;
      const threads: number[] = [];
      const counting: NonNullable<BabOptions['helper']> = (i) => {
        const h = startBoundingHelper(i);
        threads.push(h.threadId);
        return {
          get isReady() {
            return h.isReady;
          },
          bound: (d, p) => {
            calls++;
            return h.bound(d, p);
          },
          close: () => {
            closed++;
            h.close();
          },
        } satisfies BoundingHelper;
      };
      const options: BabOptions = { tol: 0, target: 0, timeLimitMs: 120_000 };
      const alone = await branchAndBound(ir, problem.spec, problem.box, options);
      const shared = await branchAndBound(ir, problem.spec, problem.box, { ...options, helper: counting });
      expect(alone.targetOutcome).toBe('excluded'); // VNN-COMP: holds
      expect(shared.targetOutcome).toBe('excluded');
      expect(shared.upperBound).toBeLessThan(0);
      expect(calls).toBeGreaterThan(0);
      expect(closed).toBe(1);
      // the thread outlives its helper: a helper closed even before its init was answered hands
      // it on, and the next run bounds on it as on a fresh one
      const early = startBoundingHelper(init);
      early.close();
      expect(early.threadId).toBe(threads[0]);
      const callsBefore = calls;
      const again = await branchAndBound(ir, problem.spec, problem.box, { ...options, helper: counting });
      expect(threads).toEqual([threads[0], threads[0]]);
      expect(calls).toBeGreaterThan(callsBefore);
      expect(again.targetOutcome).toBe('excluded');
    } finally {
      await model.dispose();
    }
  }, 120_000);

  it('a closed helper is never ready and rejects requests with a typed error', async () => {
    const dir = join(BENCHMARKS, 'acasxu');
    const model = await loadModel(join(dir, 'ACASXU_run2a_1_1_batch_2000.onnx'), { parallelBounds: false });
    try {
      const ir = model.requireIr();
      const spec = { nOut: 5, disjuncts: [{ D: Float64Array.of(1, 0, 0, 0, 0), e: Float64Array.of(0) }] };
      const h = startBoundingHelper({ graph: ir, spec, settings: { split: 'input', alphaIterations: 4 } });
      h.close();
      expect(h.isReady).toBe(false);
      await expect(h.bound([], { threshold: -Infinity, target: undefined, frontier: 0, alpha: true })).rejects.toMatchObject({ name: 'InternalError' });
    } finally {
      await model.dispose();
    }
  });
});

