import { forward64, valueAndGradient64 } from '@nnmax/onnx';
import type { Model } from './model.js';
import type { LinearObjective } from './objective.js';

/** The `nnmax eval` contract: onnxruntime float32 outputs, IR float64 outputs, objective value and gradient. */
export interface PointEvaluation {
  readonly output: number[]; // onnxruntime (float32) running the original graph
  readonly output64: number[] | null; // IR float64 reference (null when outside the IR)
  readonly value: number; // objective, float64 where the IR exists
  readonly gradient: number[] | null; // d objective / dx, float64 (null when outside the IR)
}

export async function evaluatePoint(model: Model, x: ArrayLike<number>, objective: LinearObjective): Promise<PointEvaluation> {
  const xs = model.checkPoint(x);
  const original = await model.originalEvaluator();
  const output = Array.from(await original.values(xs, 1));
  const ir = model.ir;
  if (!ir) {
    let value = objective.offset;
    for (let j = 0; j < output.length; j++) value += objective.c[j] * output[j];
    return { output, output64: null, value, gradient: null };
  }
  const y64 = forward64(ir, xs, 1);
  const g = valueAndGradient64(ir, xs, 1, objective.c);
  return { output, output64: Array.from(y64), value: g.values[0] + objective.offset, gradient: Array.from(g.gradients) };
}
