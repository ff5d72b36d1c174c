import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { branchAndBound, type BabOptions, type BoundingHelper } from '@nnmax/bounds';
import { loadModel, parseVnnlib } from 'nnmax/node';
import { resolveProblem } from '../packages/nnmax/src/maximize.js';
import { describe, expect, it } from 'vitest';
import { startBoundingHelper } from '../packages/nnmax/src/node/bounding-helper.js';
import { BENCHMARKS } from './helpers/corpus.js';

/**
 * The worker-thread helper of branch-and-bound (nnmax/node): domains cross threads by structured
 * clone and come back bounded exactly as on the calling thread, so a run with the helper proves
 * the same bound with the same boxes.
 */
describe('bounding helper on a worker thread', () => {
  it('ACAS Xu N4,9 property 1: same verdict, bound and boxes as one thread, with the helper taking batches, also on a reused thread', async () => {
    const dir = join(BENCHMARKS, 'acasxu');
    const property = parseVnnlib(readFileSync(join(dir, 'prop_1.vnnlib'), 'utf8'), 'prop_1.vnnlib');
    const model = await loadModel(join(dir, 'ACASXU_run2a_4_9_batch_2000.onnx'), { parallelBounds: false });
    try {
      const problem = resolveProblem(model, { vnnlib: property }, 1);
      const ir = model.requireIr();
      let calls = 0;
      let closed = 0;
      const threads: number[] = [];
      const counting: NonNullable<BabOptions['helper']> = (init) => {
        const h = startBoundingHelper(init);
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
      expect(shared.upperBound).toBe(alone.upperBound);
      expect(shared.boxesBounded).toBe(alone.boxesBounded);
      expect(calls).toBeGreaterThan(0);
      expect(closed).toBe(1);
      // the thread outlives its helper: a helper closed even before its init was answered hands
      // it on, and the next run bounds on it exactly as on a fresh one
      const early = startBoundingHelper({ graph: ir, spec: problem.spec, settings: { split: 'input', alphaIterations: 4 } });
      early.close();
      expect(early.threadId).toBe(threads[0]);
      const callsBefore = calls;
      const again = await branchAndBound(ir, problem.spec, problem.box, { ...options, helper: counting });
      expect(threads).toEqual([threads[0], threads[0]]);
      expect(calls).toBeGreaterThan(callsBefore);
      expect(again.upperBound).toBe(alone.upperBound);
      expect(again.boxesBounded).toBe(alone.boxesBounded);
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
