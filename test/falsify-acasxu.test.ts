import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { forward64 } from '@nnmax/onnx';
import { checkCounterexample, loadModel, maximize, parseVnnlib } from 'nnmax';
import { describe, expect, it } from 'vitest';
import { BENCHMARKS, expectedVerdicts } from './helpers/corpus.js';

/**
 * Issue 3: every ACAS Xu instance that VNN-COMP 2021 marks `violated` is falsified by search
 * alone: maximise the property's max-min margin with target 0; the point found must be a
 * counterexample by the VNN-COMP check, in float64 and in onnxruntime float32 on the original file.
 */
const VIOLATED = expectedVerdicts().filter((v) => v.benchmark === 'acasxu' && v.expected === 'violated');

describe('ACAS Xu: search alone falsifies every violated instance', () => {
  it('has the 47 violated instances of VNN-COMP 2021', () => expect(VIOLATED.length).toBe(47));

  it.each(VIOLATED.map((v) => [`${v.network} ${v.property}`, v] as const))('%s', async (_name, v) => {
    const property = parseVnnlib(readFileSync(join(BENCHMARKS, 'acasxu', v.property), 'utf8'), v.property);
    const model = await loadModel(join(BENCHMARKS, 'acasxu', v.network));
    try {
      const r = await maximize(model, { vnnlib: property, target: 0, timeLimitMs: 10_000, seed: 7 });
      expect(r.value).toBeGreaterThanOrEqual(0);
      const x = Float64Array.from(r.x);
      expect(checkCounterexample(property, x, forward64(model.requireIr(), x, 1), 0).isValid).toBe(true);
      const y32 = await (await model.originalEvaluator()).values(x, 1);
      expect(checkCounterexample(property, x, y32).isValid).toBe(true);
    } finally {
      await model.dispose();
    }
  });
});
