import type { IrKind, IrNode } from '@nnmax/onnx';
import type { BoundOp } from '../bound-op.js';
import { AddBound } from './add.js';
import { AffineBound } from './affine.js';
import { ConcatBound } from './concat.js';
import { EluBound } from './elu.js';
import { GeluBound } from './gelu.js';
import { InputBound } from './input.js';
import { LeakyReluBound } from './leaky-relu.js';
import { ReluBound } from './relu.js';
import { SigmoidBound } from './sigmoid.js';
import { SiluBound } from './silu.js';
import { SoftplusBound } from './softplus.js';
import { TanhBound } from './tanh.js';

/**
 * `Record<IrKind, BoundOp>` with each rule typed by the node it accepts, so that a rule cannot be
 * registered under the wrong kind either.
 */
export type BoundOpTable = { [K in IrKind]: BoundOp<Extract<IrNode, { kind: K }>> };

/** One stateless bound rule per IR kind; a new IR kind does not compile without one. */
export const BOUND_OPS = {
  input: new InputBound(),
  affine: new AffineBound(),
  add: new AddBound(),
  concat: new ConcatBound(),
  relu: new ReluBound(),
  leakyrelu: new LeakyReluBound(),
  sigmoid: new SigmoidBound(),
  tanh: new TanhBound(),
  softplus: new SoftplusBound(),
  elu: new EluBound(),
  silu: new SiluBound(),
  gelu: new GeluBound(),
} satisfies BoundOpTable;

/** The rule for a node, typed loosely for the traversal. */
export function boundOpOf(node: IrNode): BoundOp {
  return BOUND_OPS[node.kind] as unknown as BoundOp;
}
