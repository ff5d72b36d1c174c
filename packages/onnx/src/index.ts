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
export type { Float64Alloc } from './reference.js';
export { importModel, requireIr } from './import-model.js';
export type { ImportedModel, Dim } from './import-model.js';
export { buildForwardModel, buildGradientModel, buildBatchedOriginal, GRAPH_IO } from './graph-builders.js';
export { decodeModel, encodeModel, tensorToFloat64 } from './proto.js';
export type { OnnxModel, OnnxGraph, OnnxNode, OnnxTensor, OnnxAttribute, OnnxValueInfo } from './proto.js';
