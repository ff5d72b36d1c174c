import { InternalError } from '@nnmax/core';
import type { ImportedModel } from './import-model.js';
import { isActivation, type ActivationNode, type IrGraph } from './ir.js';
import {
  DATA_TYPE,
  encodeModel,
  float32Tensor,
  int64Tensor,
  type OnnxModel,
  type OnnxNode,
  type OnnxTensor,
  type OnnxValueInfo,
} from './proto.js';

/** Names of the inputs and outputs of the emitted graphs. */
export const GRAPH_IO = {
  x: 'X', // [N, nIn] float32
  c: 'C', // [N, nOut] float32, objective weights per point (gradient graph)
  y: 'Y', // [N, nOut] float32
  value: 'V', // [N] float32, sum_j C[n,j] Y[n,j]
  gradient: 'G', // [N, nIn] float32, d V / d X
} as const;

const OPSET = 13;

/** Accumulates ONNX nodes and initializers with unique names. */
class GraphBuilder {
  readonly nodes: OnnxNode[] = [];
  readonly initializers: OnnxTensor[] = [];
  private counter = 0;
  private readonly scalars = new Map<number, string>();

  fresh(prefix: string): string {
    return `${prefix}_${this.counter++}`;
  }

  op(opType: string, inputs: string[], attrs: OnnxNode['attribute'] = [], prefix = opType): string {
    const out = this.fresh(prefix);
    this.nodes.push({ name: out, opType, input: inputs, output: [out], attribute: attrs });
    return out;
  }

  weight(prefix: string, dims: number[], data: ArrayLike<number>): string {
    const name = this.fresh(prefix);
    this.initializers.push(float32Tensor(name, dims, data));
    return name;
  }

  /** A shared float32 scalar constant. */
  scalar(v: number): string {
    let name = this.scalars.get(v);
    if (!name) {
      name = this.weight('k', [], [v]);
      this.scalars.set(v, name);
    }
    return name;
  }

  axes(values: number[]): string {
    const name = this.fresh('axes');
    this.initializers.push(int64Tensor(name, [values.length], values));
    return name;
  }

  model(inputs: OnnxValueInfo[], outputs: OnnxValueInfo[], name: string): Uint8Array {
    const model: OnnxModel = {
      irVersion: 8,
      producerName: 'nnmax',
      producerVersion: '0.1.0',
      opsetImport: [{ domain: '', version: OPSET }],
      graph: { name, node: this.nodes, initializer: this.initializers, input: inputs, output: outputs },
    };
    return encodeModel(model);
  }
}

function tensorInfo(name: string, dims: (number | string)[]): OnnxValueInfo {
  return {
    name,
    type: {
      tensorType: {
        elemType: DATA_TYPE.FLOAT,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

const floatAttr = (name: string, f: number) => ({ name, type: 1, f });
const intAttr = (name: string, i: number) => ({ name, type: 2, i });

/** Emits the forward pass of every IR node; returns the tensor name of each node's output. */
function emitForward(g: GraphBuilder, ir: IrGraph, x: string): { out: string[]; sigmoidOf: Map<number, string> } {
  const out: string[] = new Array(ir.nodes.length);
  const sigmoidOf = new Map<number, string>(); // activation node id -> Sigmoid(z) tensor, reused by the backward pass
  for (const node of ir.nodes) {
    const ins = node.inputs.map((i) => out[i]);
    switch (node.kind) {
      case 'input':
        out[node.id] = x;
        break;
      case 'affine': {
        // y = x W^T + b, with W^T stored [nIn, size]
        const wt = new Float32Array(node.nIn * node.size);
        for (let j = 0; j < node.size; j++) for (let k = 0; k < node.nIn; k++) wt[k * node.size + j] = node.W[j * node.nIn + k];
        const mm = g.op('MatMul', [ins[0], g.weight('Wt', [node.nIn, node.size], wt)]);
        out[node.id] = g.op('Add', [mm, g.weight('b', [node.size], node.b)], [], 'affine');
        break;
      }
      case 'add':
        out[node.id] = ins.length === 1 ? ins[0] : g.op('Sum', ins);
        break;
      case 'concat':
        out[node.id] = g.op('Concat', ins, [intAttr('axis', 1)]);
        break;
      default: {
        if (!isActivation(node)) throw new InternalError(`unknown IR kind ${(node as { kind: string }).kind}`);
        out[node.id] = emitActivation(g, node, ins[0], sigmoidOf);
      }
    }
  }
  return { out, sigmoidOf };
}

function emitActivation(g: GraphBuilder, node: ActivationNode, z: string, sigmoidOf: Map<number, string>): string {
  switch (node.kind) {
    case 'relu':
      return g.op('Relu', [z]);
    case 'leakyrelu':
      return g.op('LeakyRelu', [z], [floatAttr('alpha', node.alpha)]);
    case 'sigmoid': {
      const s = g.op('Sigmoid', [z]);
      sigmoidOf.set(node.id, s);
      return s;
    }
    case 'tanh':
      return g.op('Tanh', [z]);
    case 'softplus':
      return g.op('Softplus', [z]);
    case 'elu':
      return g.op('Elu', [z], [floatAttr('alpha', node.alpha)]);
    case 'silu': {
      const s = g.op('Sigmoid', [z]);
      sigmoidOf.set(node.id, s);
      return g.op('Mul', [z, s], [], 'silu');
    }
    case 'gelu': {
      if (node.approximate === 'tanh') {
        // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        const x3 = g.op('Mul', [g.op('Mul', [z, z]), z]);
        const inner = g.op('Mul', [g.op('Add', [z, g.op('Mul', [x3, g.scalar(0.044715)])]), g.scalar(Math.sqrt(2 / Math.PI))]);
        const t = g.op('Tanh', [inner]);
        sigmoidOf.set(node.id, t); // holds tanh(u) here
        return g.op('Mul', [g.op('Mul', [z, g.scalar(0.5)]), g.op('Add', [t, g.scalar(1)])], [], 'gelu');
      }
      // x Phi(x) = 0.5 x (1 + erf(x / sqrt 2))
      const e = g.op('Erf', [g.op('Mul', [z, g.scalar(Math.SQRT1_2)])]);
      const phi = g.op('Mul', [g.op('Add', [e, g.scalar(1)]), g.scalar(0.5)], [], 'Phi');
      sigmoidOf.set(node.id, phi); // holds Phi(x) here
      return g.op('Mul', [z, phi], [], 'gelu');
    }
  }
}

/** d act(z) / dz as a tensor, given the pre-activation z and the activation's output a. */
function emitDerivative(g: GraphBuilder, node: ActivationNode, z: string, a: string, aux: string | undefined): string {
  switch (node.kind) {
    case 'relu':
      return g.op('Sign', [a]); // a = relu(z) >= 0, so sign(a) = 1 where z > 0, else 0
    case 'leakyrelu':
      return g.op('Where', [g.op('Less', [z, g.scalar(0)]), g.scalar(node.alpha), g.scalar(1)]);
    case 'sigmoid':
      return g.op('Sub', [a, g.op('Mul', [a, a])]); // s - s^2
    case 'tanh':
      return g.op('Sub', [g.scalar(1), g.op('Mul', [a, a])]);
    case 'softplus':
      return g.op('Sigmoid', [z]);
    case 'elu':
      // z > 0: 1; else alpha e^z = a + alpha
      return g.op('Where', [g.op('Greater', [z, g.scalar(0)]), g.scalar(1), g.op('Add', [a, g.scalar(node.alpha)])]);
    case 'silu': {
      const s = aux!;
      // s + z s (1 - s)
      return g.op('Add', [s, g.op('Mul', [z, g.op('Sub', [s, g.op('Mul', [s, s])])])]);
    }
    case 'gelu': {
      if (node.approximate === 'tanh') {
        const t = aux!;
        const c = Math.sqrt(2 / Math.PI);
        // 0.5 (1 + t) + 0.5 z (1 - t^2) c (1 + 3 * 0.044715 z^2)
        const du = g.op('Add', [g.scalar(c), g.op('Mul', [g.op('Mul', [z, z]), g.scalar(3 * 0.044715 * c)])]);
        const left = g.op('Mul', [g.op('Add', [t, g.scalar(1)]), g.scalar(0.5)]);
        const sech2 = g.op('Sub', [g.scalar(1), g.op('Mul', [t, t])]);
        const right = g.op('Mul', [g.op('Mul', [g.op('Mul', [z, g.scalar(0.5)]), sech2]), du]);
        return g.op('Add', [left, right]);
      }
      const phi = aux!;
      // Phi(z) + z exp(-z^2/2) / sqrt(2 pi)
      const pdf = g.op('Mul', [g.op('Exp', [g.op('Mul', [g.op('Mul', [z, z]), g.scalar(-0.5)])]), g.scalar(1 / Math.sqrt(2 * Math.PI))]);
      return g.op('Add', [phi, g.op('Mul', [z, pdf])]);
    }
  }
}

/** The forward network as ONNX bytes: X [N, nIn] -> Y [N, nOut], float32, symbolic batch. */
export function buildForwardModel(ir: IrGraph): Uint8Array {
  const g = new GraphBuilder();
  const { out } = emitForward(g, ir, GRAPH_IO.x);
  g.nodes.push({ name: 'output', opType: 'Identity', input: [out[ir.output]], output: [GRAPH_IO.y] });
  return g.model([tensorInfo(GRAPH_IO.x, ['N', ir.nIn])], [tensorInfo(GRAPH_IO.y, ['N', ir.nOut])], 'nnmax_forward');
}

/**
 * The value-and-input-gradient network for the objective C . F(X), built symbolically: the
 * forward pass, then C back-propagated through affine transposes and activation derivatives.
 * Inputs X [N, nIn], C [N, nOut]; outputs Y [N, nOut], V [N], G [N, nIn].
 */
export function buildGradientModel(ir: IrGraph): Uint8Array {
  const g = new GraphBuilder();
  const { out, sigmoidOf } = emitForward(g, ir, GRAPH_IO.x);
  const y = out[ir.output];
  g.nodes.push({ name: 'output', opType: 'Identity', input: [y], output: [GRAPH_IO.y] });
  g.nodes.push({
    name: 'value',
    opType: 'ReduceSum',
    input: [g.op('Mul', [y, GRAPH_IO.c]), g.axes([1])],
    output: [GRAPH_IO.value],
    attribute: [intAttr('keepdims', 0)],
  });
  // Adjoints, accumulated over fan-out in reverse topological order.
  const adj: (string[] | undefined)[] = new Array(ir.nodes.length);
  const addAdj = (id: number, t: string): void => {
    (adj[id] ??= []).push(t);
  };
  addAdj(ir.output, GRAPH_IO.c);
  for (let i = ir.nodes.length - 1; i >= 0; i--) {
    const node = ir.nodes[i];
    const parts = adj[i];
    if (!parts || node.kind === 'input') continue;
    const gy = parts.length === 1 ? parts[0] : g.op('Sum', parts, [], 'adj');
    switch (node.kind) {
      case 'affine':
        addAdj(node.inputs[0], g.op('MatMul', [gy, g.weight('W', [node.size, node.nIn], node.W)], [], 'gradAffine'));
        break;
      case 'add':
        for (const j of node.inputs) addAdj(j, gy);
        break;
      case 'concat': {
        const sizes = node.inputs.map((j) => ir.nodes[j].size);
        const outs = node.inputs.map(() => g.fresh('split'));
        g.nodes.push({
          name: g.fresh('Split'),
          opType: 'Split',
          input: [gy, int64Input(g, sizes)],
          output: outs,
          attribute: [intAttr('axis', 1)],
        });
        node.inputs.forEach((j, k) => addAdj(j, outs[k]));
        break;
      }
      default: {
        if (!isActivation(node)) throw new InternalError(`unknown IR kind ${(node as { kind: string }).kind}`);
        const d = emitDerivative(g, node, out[node.inputs[0]], out[node.id], sigmoidOf.get(node.id));
        addAdj(node.inputs[0], g.op('Mul', [gy, d], [], 'gradAct'));
      }
    }
  }
  const gx = adj[ir.input];
  const grad = !gx ? g.op('Mul', [GRAPH_IO.x, g.scalar(0)]) : gx.length === 1 ? gx[0] : g.op('Sum', gx);
  g.nodes.push({ name: 'gradient', opType: 'Identity', input: [grad], output: [GRAPH_IO.gradient] });
  return g.model(
    [tensorInfo(GRAPH_IO.x, ['N', ir.nIn]), tensorInfo(GRAPH_IO.c, ['N', ir.nOut])],
    [tensorInfo(GRAPH_IO.y, ['N', ir.nOut]), tensorInfo(GRAPH_IO.value, ['N']), tensorInfo(GRAPH_IO.gradient, ['N', ir.nIn])],
    'nnmax_value_and_gradient',
  );
}

function int64Input(g: GraphBuilder, values: number[]): string {
  const name = g.fresh('sizes');
  g.initializers.push(int64Tensor(name, [values.length], values));
  return name;
}

/**
 * The original ONNX graph with its batch axis made symbolic, so onnxruntime accepts batches
 * (MATLAB exports fix it to 1). Returns undefined when the input has no batch axis.
 */
export function buildBatchedOriginal(model: ImportedModel): Uint8Array | undefined {
  if (!model.hasBatchAxis) return undefined;
  const graph = model.onnx.graph!;
  const rewrite = (v: OnnxValueInfo): OnnxValueInfo => {
    const dims = v.type?.tensorType?.shape?.dim;
    if (!dims || dims.length === 0) return v;
    return {
      ...v,
      type: { ...v.type, tensorType: { ...v.type!.tensorType, shape: { dim: [{ dimParam: 'N' }, ...dims.slice(1)] } } },
    };
  };
  const inputs = (graph.input ?? []).map((v) => (v.name === model.inputName ? rewrite(v) : v));
  const outputs = (graph.output ?? []).map(rewrite);
  return encodeModel({ ...model.onnx, graph: { ...graph, input: inputs, output: outputs, valueInfo: [] } });
}
