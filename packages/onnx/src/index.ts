export type {
  NodeId,
  IrKind,
  ActivationKind,
  IrNode,
  IrGraph,
  InputNode,
  AffineNode,
  AddNode,
  ConcatNode,
  ActivationNode,
  ReluNode,
  LeakyReluNode,
  SigmoidNode,
  TanhNode,
  SoftplusNode,
  EluNode,
  SiluNode,
  GeluNode,
} from './ir.js';
export { ACTIVATION_KINDS, isActivation, parameterCount } from './ir.js';
export {
  activationValue,
  activationDerivative,
  sigmoid,
  softplus,
  erf,
  normalCdf,
  normalPdf,
} from './activations.js';
export { forward64, forwardAll, valueAndGradient64 } from './reference.js';
