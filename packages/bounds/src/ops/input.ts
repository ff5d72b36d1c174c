import { InternalError } from '@nnmax/core';
import type { InputNode } from '@nnmax/onnx';
import type { BackwardStep, BoundOp } from '../bound-op.js';
import type { IntervalBatch } from '../interval-batch.js';

/**
 * The graph input. Its interval is the box itself, which the traversal supplies; rows that reach
 * the input are closed over the box by the traversal, so neither rule is ever called.
 */
export class InputBound implements BoundOp<InputNode> {
  interval(node: InputNode): IntervalBatch {
    throw new InternalError(`bounds: input node '${node.name}' has no interval rule; the traversal supplies the box`);
  }

  backward(node: InputNode): BackwardStep {
    throw new InternalError(`bounds: input node '${node.name}' has no backward rule; the traversal closes rows over the box`);
  }
}
