/**
 * The nnmax IR: a DAG of dense and elementwise nodes over flat float64 vectors.
 *
 * Every node produces a flat vector of `size` values (per sample). Shapes of the original graph
 * (NCHW images, `[1,1,1,5]`, `[1]` without batch axis) are folded away at import: the network
 * is `F: R^nIn -> R^nOut` over the flattened input and output orders. Nodes are stored in
 * topological order; `nodes[i].id === i` and every input id is smaller than the node's own.
 */
export type NodeId = number;

export type ActivationKind =
  | 'relu'
  | 'leakyrelu'
  | 'sigmoid'
  | 'tanh'
  | 'softplus'
  | 'elu'
  | 'silu'
  | 'gelu';

export type IrKind = 'input' | 'affine' | 'add' | 'concat' | ActivationKind;

interface NodeBase {
  readonly id: NodeId;
  /** The ONNX node (or value) name this node came from, for messages. */
  readonly name: string;
  /** Output length per sample. */
  readonly size: number;
  readonly inputs: readonly NodeId[];
}

export interface InputNode extends NodeBase {
  readonly kind: 'input';
}

/** y = W x + b. `W` is `[nOut, nIn]` row-major, `b` is `[nOut]`; size === nOut. */
export interface AffineNode extends NodeBase {
  readonly kind: 'affine';
  readonly nIn: number;
  readonly W: Float64Array; // [size, nIn] row-major
  readonly b: Float64Array; // [size]
}

/** Elementwise sum of two or more inputs of equal size. */
export interface AddNode extends NodeBase {
  readonly kind: 'add';
}

/** Concatenation of the inputs' vectors, in input order. */
export interface ConcatNode extends NodeBase {
  readonly kind: 'concat';
}

export interface ReluNode extends NodeBase {
  readonly kind: 'relu';
}
/** y = x for x >= 0, alpha x otherwise. */
export interface LeakyReluNode extends NodeBase {
  readonly kind: 'leakyrelu';
  readonly alpha: number;
}
export interface SigmoidNode extends NodeBase {
  readonly kind: 'sigmoid';
}
export interface TanhNode extends NodeBase {
  readonly kind: 'tanh';
}
/** y = log(1 + exp(x)). */
export interface SoftplusNode extends NodeBase {
  readonly kind: 'softplus';
}
/** y = x for x > 0, alpha (exp(x) - 1) otherwise. */
export interface EluNode extends NodeBase {
  readonly kind: 'elu';
  readonly alpha: number;
}
/** y = x sigmoid(x). */
export interface SiluNode extends NodeBase {
  readonly kind: 'silu';
}
/** y = x Phi(x) (exact, erf form) or the tanh approximation. */
export interface GeluNode extends NodeBase {
  readonly kind: 'gelu';
  readonly approximate: 'none' | 'tanh';
}

export type ActivationNode =
  | ReluNode
  | LeakyReluNode
  | SigmoidNode
  | TanhNode
  | SoftplusNode
  | EluNode
  | SiluNode
  | GeluNode;

export type IrNode = InputNode | AffineNode | AddNode | ConcatNode | ActivationNode;

export interface IrGraph {
  /** Topologically ordered; nodes[i].id === i. nodes[input] is the only 'input' node. */
  readonly nodes: readonly IrNode[];
  readonly input: NodeId;
  readonly output: NodeId;
  readonly nIn: number;
  readonly nOut: number;
}

export const ACTIVATION_KINDS: readonly ActivationKind[] = [
  'relu',
  'leakyrelu',
  'sigmoid',
  'tanh',
  'softplus',
  'elu',
  'silu',
  'gelu',
];

export function isActivation(node: IrNode): node is ActivationNode {
  return (ACTIVATION_KINDS as readonly string[]).includes(node.kind);
}

/** Number of trainable parameters (weights and biases) in the IR. */
export function parameterCount(graph: IrGraph): number {
  let n = 0;
  for (const node of graph.nodes) if (node.kind === 'affine') n += node.W.length + node.b.length;
  return n;
}
