import { NnmaxError, OnnxDecodeError, ShapeError, UnsupportedOpError, type UnsupportedNode } from '@nnmax/core';
import type { ActivationKind, IrGraph, IrNode, NodeId } from './ir.js';
import {
  decodeModel,
  tensorDims,
  tensorToFloat64,
  toNumber,
  type OnnxAttribute,
  type OnnxModel,
  type OnnxNode,
  type OnnxValueInfo,
} from './proto.js';
import { broadcastMap, broadcastShapes, sizeOf, transposeMap } from './shape-utils.js';

/** A dimension of a graph input or output: a number, or the name of a symbolic dimension. */
export type Dim = number | string;

/** An imported model: the original ONNX, its metadata, and the IR when every node fits. */
export interface ImportedModel {
  readonly file: string;
  readonly bytes: Uint8Array;
  readonly onnx: OnnxModel;
  readonly producer: string;
  readonly irVersion: number;
  readonly opset: number;
  readonly inputName: string;
  readonly inputShape: readonly Dim[];
  readonly outputName: string;
  readonly outputShape: readonly Dim[];
  /** Whether the original input's first axis is a batch axis (`[1,...]` or symbolic). */
  readonly hasBatchAxis: boolean;
  readonly nIn: number;
  readonly nOut: number;
  /** The op types of the graph, in order of first appearance. */
  readonly opTypes: readonly string[];
  /** The IR, or undefined when some node is outside it (see `unsupported`). */
  readonly ir: IrGraph | undefined;
  readonly unsupported: readonly UnsupportedNode[];
}

/** Returns the IR or throws UnsupportedOpError listing every node outside it. */
export function requireIr(model: ImportedModel, purpose = 'gradients or bounds'): IrGraph {
  if (model.ir) return model.ir;
  throw new UnsupportedOpError(model.file, model.unsupported, `black-box search still runs (${purpose} need the IR)`);
}

// ---------------------------------------------------------------------------------------------
// Values tracked while folding the ONNX graph. Shapes include the batch axis (as 1) when the
// input has one; the per-sample vector is the row-major flattening of that shape.

interface ConstValue {
  readonly kind: 'const';
  readonly shape: number[];
  readonly data: Float64Array;
}

/** A linear map still to be applied to an IR node's output: identity, diagonal, or dense. */
type PendingLinear =
  | { readonly kind: 'identity' }
  | { readonly kind: 'diag'; readonly s: Float64Array; readonly t: Float64Array }
  | { readonly kind: 'dense'; readonly W: Float64Array; readonly b: Float64Array };

interface SymValue {
  readonly kind: 'sym';
  readonly shape: number[];
  readonly node: NodeId;
  readonly lin: PendingLinear;
  /** ONNX tensor this value was produced as (for pattern matching). */
  readonly tensor: string;
}

/** The result of an op outside the IR: everything downstream is opaque too. */
interface OpaqueValue {
  readonly kind: 'opaque';
}

type Value = ConstValue | SymValue | OpaqueValue;

const OPAQUE: OpaqueValue = { kind: 'opaque' };
const IDENTITY: PendingLinear = { kind: 'identity' };

/** Minimum number of inputs per op (default 1). */
const MIN_INPUTS: Record<string, number> = {
  Add: 2, Sub: 2, Mul: 2, Div: 2, MatMul: 2, Gemm: 2, Reshape: 2, Gather: 2, PRelu: 2, BatchNormalization: 5, Constant: 0,
};

/** Larger tensors only appear in corrupted files (or networks far beyond what nnmax certifies). */
const MAX_TENSOR_SIZE = 1e8;

class Unsupported extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

type MutableNode = IrNode & { id: number; inputs: number[] };
/** An IR node before it gets its id (distributes over the union). */
type NewNode = IrNode extends infer T ? (T extends IrNode ? Omit<T, 'id' | 'inputs'> & { inputs: number[] } : never) : never;

/** Decodes ONNX bytes and folds the graph into the IR. */
export function importModel(bytes: Uint8Array, file = '<bytes>'): ImportedModel {
  const onnx = decodeModel(bytes, file);
  const graph = onnx.graph!;
  const opset = Math.max(
    0,
    ...(onnx.opsetImport ?? []).filter((o) => !o.domain || o.domain === 'ai.onnx').map((o) => toNumber(o.version)),
  );
  const initNames = new Set((graph.initializer ?? []).map((t) => t.name ?? ''));
  const realInputs = (graph.input ?? []).filter((i) => !initNames.has(i.name ?? ''));
  if (realInputs.length !== 1) {
    throw new OnnxDecodeError(
      file,
      realInputs.length === 0
        ? 'the graph has no input that is not an initializer'
        : `the graph has ${realInputs.length} inputs (${realInputs.map((i) => `'${i.name}'`).join(', ')}); nnmax optimises over one input tensor`,
    );
  }
  const input = realInputs[0];
  const output = graph.output![0];
  const inputShape = dimsOf(input);
  const outputShape = dimsOf(output);
  if (inputShape.length === 0) throw new OnnxDecodeError(file, `input '${input.name}' has no shape information`);
  const hasBatchAxis = inputShape.length >= 2 && (typeof inputShape[0] === 'string' || inputShape[0] === 1);
  const sampleShape = inputShape.map((d, i) => {
    if (i === 0 && hasBatchAxis) return 1;
    if (typeof d === 'string') {
      throw new OnnxDecodeError(file, `input '${input.name}' has a symbolic dimension '${d}' at axis ${i}; only the first (batch) axis may be symbolic`);
    }
    return d;
  });
  const nIn = sizeOf(sampleShape);

  const opTypes: string[] = [];
  for (const n of graph.node ?? []) if (!opTypes.includes(n.opType ?? '')) opTypes.push(n.opType ?? '');

  const folder = new Folder(file, onnx, input.name ?? '', sampleShape);
  let ir: IrGraph | undefined;
  let nOut: number;
  const outVal = folder.valueOf(output.name ?? '');
  if (outVal.kind === 'sym' && folder.unsupported.length === 0) {
    const outNode = folder.materialize(outVal);
    ir = folder.finish(outNode);
    nOut = ir.nOut;
    const bad = ir.nodes.find((n) => n.kind === 'affine' && (!n.W.every(Number.isFinite) || !n.b.every(Number.isFinite)));
    if (bad) {
      folder.unsupported.push({ node: bad.name, opType: 'weights', reason: 'the weights hold NaN or infinite values' });
      ir = undefined;
    }
  } else {
    if (outVal.kind === 'const') {
      folder.unsupported.push({ node: output.name ?? '', opType: 'Output', reason: 'the output does not depend on the input' });
    }
    const known = outputShape.map((d, i) => (typeof d === 'number' && d > 0 ? d : i === 0 ? 1 : NaN));
    nOut = hasBatchAxis || outputShape.length >= 2 ? sizeOf(known.slice(1)) : sizeOf(known);
    if (!Number.isFinite(nOut)) {
      throw new UnsupportedOpError(file, folder.unsupported, 'and the output shape is unknown, so the model cannot be evaluated either');
    }
  }
  return {
    file,
    bytes,
    onnx,
    producer: [onnx.producerName, onnx.producerVersion].filter(Boolean).join(' ') || 'unknown',
    irVersion: toNumber(onnx.irVersion),
    opset,
    inputName: input.name ?? '',
    inputShape,
    outputName: output.name ?? '',
    outputShape,
    hasBatchAxis,
    nIn,
    nOut,
    opTypes,
    ir,
    unsupported: folder.unsupported,
  };
}

function dimsOf(v: OnnxValueInfo): Dim[] {
  const dims = v.type?.tensorType?.shape?.dim ?? [];
  return dims.map((d) => {
    if (d.dimParam) return d.dimParam;
    const n = toNumber(d.dimValue);
    return n > 0 ? n : '?';
  });
}

/** Folds ONNX nodes into IR nodes on demand, from the output backwards (dead branches never load). */
class Folder {
  readonly unsupported: UnsupportedNode[] = [];
  private readonly nodes: MutableNode[] = [];
  private readonly values = new Map<string, Value>();
  private readonly producers = new Map<string, OnnxNode>();
  private readonly materialized = new WeakMap<SymValue, NodeId>();
  private readonly inputNode: NodeId;

  constructor(
    private readonly file: string,
    onnx: OnnxModel,
    inputName: string,
    sampleShape: number[],
  ) {
    const graph = onnx.graph!;
    for (const t of graph.initializer ?? []) {
      const name = t.name ?? '';
      if (name === inputName) continue;
      this.values.set(name, { kind: 'const', shape: tensorDims(t), data: tensorToFloat64(t, file) });
    }
    const nodes = fuseGeluPatterns(graph.node ?? [], (name) => this.constScalar(name));
    for (const node of nodes) for (const out of node.output ?? []) if (out) this.producers.set(out, node);
    this.inputNode = this.push({ kind: 'input', name: inputName, size: sizeOf(sampleShape), inputs: [] });
    this.values.set(inputName, { kind: 'sym', shape: sampleShape, node: this.inputNode, lin: IDENTITY, tensor: inputName });
  }

  private constScalar(name: string): number | undefined {
    const v = this.values.get(name);
    if (v?.kind === 'const' && v.data.length === 1) return v.data[0];
    const p = this.producers.get(name);
    if (p?.opType === 'Constant') {
      try {
        const c = this.constantNode(p);
        return c.data.length === 1 ? c.data[0] : undefined;
      } catch {
        return undefined;
      }
    }
    return undefined;
  }

  private push(node: NewNode): NodeId {
    const id = this.nodes.length;
    this.nodes.push({ ...node, id } as MutableNode);
    return id;
  }

  /** The folded value of an ONNX tensor, evaluating its producers first (iteratively). */
  valueOf(name: string): Value {
    // Iterative depth-first search; entries marked expanded form the current path.
    const stack: { name: string; expanded: boolean }[] = [{ name, expanded: false }];
    const onPath = new Set<string>();
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      if (this.values.has(top.name)) {
        stack.pop();
        continue;
      }
      const node = this.producers.get(top.name);
      if (!node) {
        throw new OnnxDecodeError(this.file, `tensor '${top.name}' is used but no node, initializer or input produces it`);
      }
      if (!top.expanded) {
        top.expanded = true;
        onPath.add(top.name);
        for (const m of node.input ?? []) {
          if (m === '' || this.values.has(m)) continue;
          if (onPath.has(m)) throw new OnnxDecodeError(this.file, `the graph has a cycle through tensor '${m}'`);
          stack.push({ name: m, expanded: false });
        }
        continue;
      }
      this.evalNode(node);
      onPath.delete(top.name);
      stack.pop();
    }
    return this.values.get(name)!;
  }

  private evalNode(node: OnnxNode): void {
    const inputs = (node.input ?? []).map((i) => (i === '' ? undefined : this.values.get(i)));
    const outs = node.output ?? [];
    let result: Value;
    if (inputs.some((v) => v?.kind === 'opaque')) {
      result = OPAQUE;
    } else {
      const label = node.name || outs[0] || '<unnamed>';
      const arity = MIN_INPUTS[node.opType ?? ''] ?? 1;
      if (inputs.length < arity || inputs.slice(0, arity).some((v) => v === undefined)) {
        throw new OnnxDecodeError(this.file, `node '${label}' (${node.opType}): needs ${arity} input(s), has ${inputs.filter(Boolean).length}; the model is malformed`);
      }
      try {
        result = this.apply(node, inputs);
      } catch (e) {
        if (e instanceof Unsupported) {
          this.unsupported.push({ node: label, opType: node.opType ?? '', reason: e.reason });
          result = OPAQUE;
        } else if (e instanceof NnmaxError) {
          throw e;
        } else {
          // A corrupted graph (wrong attribute types, impossible shapes): name the node, never crash.
          throw new OnnxDecodeError(this.file, `node '${label}' (${node.opType}): malformed (${e instanceof Error ? e.message : String(e)})`, { cause: e });
        }
      }
      if (result.kind !== 'opaque' && sizeOf(result.shape) > MAX_TENSOR_SIZE) {
        throw new OnnxDecodeError(this.file, `node '${label}' (${node.opType}): a tensor of shape [${result.shape.join(',')}] is larger than nnmax handles`);
      }
    }
    if (result.kind === 'sym') result = { ...result, tensor: outs[0] ?? '' };
    for (const o of outs) if (o) this.values.set(o, result);
  }

  private apply(node: OnnxNode, ins: (Value | undefined)[]): Value {
    const op = node.opType ?? '';
    if (node.domain && node.domain !== 'ai.onnx' && !(node.domain === 'nnmax' && op === 'Gelu')) {
      throw new Unsupported(`operator domain '${node.domain}' is not supported`);
    }
    const allConst = ins.every((v) => v === undefined || v.kind === 'const');
    if (op === 'Constant') return this.constantNode(node);
    if (allConst && ins.length > 0) return this.foldConstant(node, ins as (ConstValue | undefined)[]);
    const x = ins[0];
    switch (op) {
      case 'Identity':
      case 'Dropout':
        return req(x);
      case 'Flatten': {
        const v = req(x);
        let axis = attrInt(node, 'axis', 1);
        if (axis < 0) axis += v.shape.length;
        return reshape(v, [sizeOf(v.shape.slice(0, axis)), sizeOf(v.shape.slice(axis))]);
      }
      case 'Reshape': {
        const v = req(x);
        const target = constInput(ins[1], 'shape');
        return reshape(v, resolveReshape(v.shape, Array.from(target.data), attrInt(node, 'allowzero', 0) === 1));
      }
      case 'Squeeze':
      case 'Unsqueeze': {
        const v = req(x);
        const axes = ins[1] ? Array.from(constInput(ins[1], 'axes').data) : attrInts(node, 'axes');
        return reshape(v, op === 'Squeeze' ? squeezeShape(v.shape, axes) : unsqueezeShape(v.shape, axes));
      }
      case 'Transpose': {
        const v = sym(req(x));
        const perm = attrInts(node, 'perm', v.shape.map((_, i) => v.shape.length - 1 - i));
        const { shape, map } = transposeMap(v.shape, perm);
        return this.gather(v, shape, map);
      }
      case 'MatMul':
        return this.matmul(req(x), req(ins[1]));
      case 'Gemm':
        return this.gemm(node, ins);
      case 'Add':
      case 'Sub':
      case 'Mul':
      case 'Div':
        return this.binary(node, op, req(x), req(ins[1]));
      case 'Sum':
        return ins.slice(1).reduce<Value>((acc, v) => this.binary(node, 'Add', req(acc), req(v)), req(x));
      case 'Neg':
        return this.elementwise(sym(req(x)), -1, 0);
      case 'BatchNormalization':
        return this.batchNorm(node, ins);
      case 'Relu':
        return this.activation(req(x), 'relu');
      case 'Sigmoid':
        return this.activation(req(x), 'sigmoid');
      case 'Tanh':
        return this.activation(req(x), 'tanh');
      case 'Softplus':
        return this.activation(req(x), 'softplus');
      case 'LeakyRelu':
        return this.activation(req(x), 'leakyrelu', { alpha: attrFloat(node, 'alpha', 0.01) });
      case 'Elu':
        return this.activation(req(x), 'elu', { alpha: attrFloat(node, 'alpha', 1) });
      case 'PRelu': {
        const slope = constInput(ins[1], 'slope');
        const a = slope.data[0];
        if (!slope.data.every((s) => s === a)) throw new Unsupported('PRelu with per-channel slopes is not supported (only a single slope)');
        return this.activation(req(x), 'leakyrelu', { alpha: a });
      }
      case 'Gelu': {
        const approx = attrString(node, 'approximate', 'none');
        if (approx !== 'none' && approx !== 'tanh') throw new Unsupported(`Gelu approximate='${approx}'`);
        return this.activation(req(x), 'gelu', { approximate: approx });
      }
      case 'Concat':
        return this.concat(node, ins);
      case 'Shape':
        return this.foldConstant(node, [{ kind: 'const', shape: req(x).shape, data: new Float64Array(0) }]);
      default:
        throw new Unsupported(`operator ${op} is outside the IR (dense, activation, add, concat)`);
    }
  }

  private constantNode(node: OnnxNode): ConstValue {
    for (const a of node.attribute ?? []) {
      switch (a.name) {
        case 'value':
          return { kind: 'const', shape: tensorDims(a.t!), data: tensorToFloat64(a.t!, this.file) };
        case 'value_float':
          return { kind: 'const', shape: [], data: Float64Array.of(a.f ?? 0) };
        case 'value_floats':
          return { kind: 'const', shape: [a.floats?.length ?? 0], data: Float64Array.from(a.floats ?? []) };
        case 'value_int':
          return { kind: 'const', shape: [], data: Float64Array.of(toNumber(a.i)) };
        case 'value_ints':
          return { kind: 'const', shape: [a.ints?.length ?? 0], data: Float64Array.from((a.ints ?? []).map(toNumber)) };
        default:
      }
    }
    throw new Unsupported('Constant without a numeric value attribute');
  }

  /** Evaluates an op whose inputs are all constants (shape arithmetic, normalisation constants). */
  private foldConstant(node: OnnxNode, ins: (ConstValue | undefined)[]): ConstValue {
    const op = node.opType ?? '';
    const a = ins[0]!;
    const c = (shape: number[], data: Float64Array): ConstValue => ({ kind: 'const', shape, data });
    switch (op) {
      case 'Identity':
      case 'Cast':
      case 'Dropout':
        return a;
      case 'Shape':
        return c([a.shape.length], Float64Array.from(a.shape));
      case 'Neg':
        return c(a.shape, a.data.map((v) => -v));
      case 'Sqrt':
        return c(a.shape, a.data.map(Math.sqrt));
      case 'Reciprocal':
        return c(a.shape, a.data.map((v) => 1 / v));
      case 'Relu':
        return c(a.shape, a.data.map((v) => Math.max(v, 0)));
      case 'Add':
      case 'Sub':
      case 'Mul':
      case 'Div': {
        const b = ins[1]!;
        const shape = broadcastShapes(a.shape, b.shape, nodeLabel(node));
        const ma = broadcastMap(shape, a.shape);
        const mb = broadcastMap(shape, b.shape);
        const out = new Float64Array(sizeOf(shape));
        for (let i = 0; i < out.length; i++) {
          const x = a.data[ma ? ma[i] : i];
          const y = b.data[mb ? mb[i] : i];
          out[i] = op === 'Add' ? x + y : op === 'Sub' ? x - y : op === 'Mul' ? x * y : x / y;
        }
        return c(shape, out);
      }
      case 'Gather': {
        const idx = ins[1]!;
        let axis = attrInt(node, 'axis', 0);
        if (axis < 0) axis += a.shape.length;
        const outer = sizeOf(a.shape.slice(0, axis));
        const inner = sizeOf(a.shape.slice(axis + 1));
        const dim = a.shape[axis];
        const out = new Float64Array(outer * idx.data.length * inner);
        let k = 0;
        for (let o = 0; o < outer; o++)
          for (const raw of idx.data) {
            const j = raw < 0 ? raw + dim : raw;
            for (let i = 0; i < inner; i++) out[k++] = a.data[(o * dim + j) * inner + i];
          }
        return c([...a.shape.slice(0, axis), ...idx.shape, ...a.shape.slice(axis + 1)], out);
      }
      case 'Unsqueeze':
      case 'Squeeze': {
        const axes = ins[1] ? Array.from(ins[1].data) : attrInts(node, 'axes');
        return c(op === 'Squeeze' ? squeezeShape(a.shape, axes) : unsqueezeShape(a.shape, axes), a.data);
      }
      case 'Reshape':
        return c(resolveReshape(a.shape, Array.from(ins[1]!.data), attrInt(node, 'allowzero', 0) === 1), a.data);
      case 'Flatten': {
        let axis = attrInt(node, 'axis', 1);
        if (axis < 0) axis += a.shape.length;
        return c([sizeOf(a.shape.slice(0, axis)), sizeOf(a.shape.slice(axis))], a.data);
      }
      case 'Concat': {
        const parts = ins.filter((v): v is ConstValue => v !== undefined);
        let axis = attrInt(node, 'axis', 0);
        if (axis < 0) axis += a.shape.length;
        const outer = sizeOf(a.shape.slice(0, axis));
        const shape = [...a.shape];
        shape[axis] = parts.reduce((s, p) => s + p.shape[axis], 0);
        const out = new Float64Array(sizeOf(shape));
        let k = 0;
        for (let o = 0; o < outer; o++)
          for (const p of parts) {
            const chunk = sizeOf(p.shape.slice(axis));
            out.set(p.data.subarray(o * chunk, (o + 1) * chunk), k);
            k += chunk;
          }
        return c(shape, out);
      }
      case 'Transpose': {
        const perm = attrInts(node, 'perm', a.shape.map((_, i) => a.shape.length - 1 - i));
        const { shape, map } = transposeMap(a.shape, perm);
        return c(shape, Float64Array.from(map, (i) => a.data[i]));
      }
      default:
        throw new Unsupported(`constant folding of ${op} is not supported`);
    }
  }

  // ---- symbolic ops -------------------------------------------------------------------------

  /** Creates (once per value) the IR node that holds a symbolic value. */
  materialize(v: SymValue): NodeId {
    if (v.lin.kind === 'identity') return v.node;
    const cached = this.materialized.get(v);
    if (cached !== undefined) return cached;
    const nIn = this.nodes[v.node].size;
    const size = sizeOf(v.shape);
    let W: Float64Array;
    let b: Float64Array;
    if (v.lin.kind === 'diag') {
      W = denseMatrix(size * nIn);
      for (let i = 0; i < size; i++) W[i * nIn + i] = v.lin.s[i];
      b = Float64Array.from(v.lin.t);
    } else {
      W = v.lin.W;
      b = v.lin.b;
    }
    const id = this.push({ kind: 'affine', name: v.tensor, size, nIn, W, b, inputs: [v.node] });
    this.materialized.set(v, id);
    return id;
  }

  private activation(x: Value, kind: ActivationKind, extra: Record<string, unknown> = {}): SymValue {
    const v = sym(x);
    const inp = this.materialize(v);
    const id = this.push({ kind, name: v.tensor, size: sizeOf(v.shape), inputs: [inp], ...extra } as NewNode);
    return { kind: 'sym', shape: v.shape, node: id, lin: IDENTITY, tensor: '' };
  }

  /** y[i] = v[map[i]] (a gather / permutation / broadcast of a symbolic value). */
  private gather(v: SymValue, shape: number[], map: Int32Array | null): SymValue {
    const size = sizeOf(shape);
    if (map === null) return { ...v, shape };
    const one = new Float64Array(size).fill(1);
    return this.composeElementwise(v, shape, map, one, new Float64Array(size));
  }

  /** y = s * v[map] + t elementwise (map null: identity). */
  private composeElementwise(v: SymValue, shape: number[], map: Int32Array | null, s: Float64Array, t: Float64Array): SymValue {
    const size = sizeOf(shape);
    const lin = v.lin;
    const nodeSize = this.nodes[v.node].size;
    if (map === null) {
      if (lin.kind === 'identity') return { ...v, shape, lin: { kind: 'diag', s, t } };
      if (lin.kind === 'diag') {
        const s2 = new Float64Array(size);
        const t2 = new Float64Array(size);
        for (let i = 0; i < size; i++) {
          s2[i] = s[i] * lin.s[i];
          t2[i] = s[i] * lin.t[i] + t[i];
        }
        return { ...v, shape, lin: { kind: 'diag', s: s2, t: t2 } };
      }
    }
    const W = denseMatrix(size * nodeSize);
    const b = new Float64Array(size);
    for (let i = 0; i < size; i++) {
      const src = map ? map[i] : i;
      if (lin.kind === 'identity') W[i * nodeSize + src] = s[i];
      else if (lin.kind === 'diag') {
        W[i * nodeSize + src] = s[i] * lin.s[src];
        b[i] = s[i] * lin.t[src];
      } else {
        for (let k = 0; k < nodeSize; k++) W[i * nodeSize + k] = s[i] * lin.W[src * nodeSize + k];
        b[i] = s[i] * lin.b[src];
      }
      b[i] += t[i];
    }
    return { ...v, shape, lin: { kind: 'dense', W, b } };
  }

  /** y = M v + c with M [outSize, size(v)] dense. */
  private composeLinear(v: SymValue, shape: number[], M: Float64Array, c: Float64Array): SymValue {
    const outSize = sizeOf(shape);
    const inSize = sizeOf(v.shape);
    const lin = v.lin;
    if (lin.kind === 'identity') return { ...v, shape, lin: { kind: 'dense', W: M, b: c } };
    if (lin.kind === 'diag') {
      const W = denseMatrix(outSize * inSize);
      const b = Float64Array.from(c);
      for (let i = 0; i < outSize; i++)
        for (let k = 0; k < inSize; k++) {
          const m = M[i * inSize + k];
          W[i * inSize + k] = m * lin.s[k];
          b[i] += m * lin.t[k];
        }
      return { ...v, shape, lin: { kind: 'dense', W, b } };
    }
    const nodeSize = this.nodes[v.node].size;
    const W = denseMatrix(outSize * nodeSize);
    const b = Float64Array.from(c);
    for (let i = 0; i < outSize; i++)
      for (let k = 0; k < inSize; k++) {
        const m = M[i * inSize + k];
        if (m === 0) continue;
        b[i] += m * lin.b[k];
        const wo = k * nodeSize;
        const oo = i * nodeSize;
        for (let j = 0; j < nodeSize; j++) W[oo + j] += m * lin.W[wo + j];
      }
    return { ...v, shape, lin: { kind: 'dense', W, b } };
  }

  private elementwise(v: SymValue, scale: number, shift: number): SymValue {
    const n = sizeOf(v.shape);
    return this.composeElementwise(v, v.shape, null, new Float64Array(n).fill(scale), new Float64Array(n).fill(shift));
  }

  private binary(node: OnnxNode, op: string, a: Value, b: Value): Value {
    if (a.kind === 'sym' && b.kind === 'sym') {
      if (op === 'Add' || op === 'Sub') {
        const shape = broadcastShapes(a.shape, b.shape, nodeLabel(node));
        if (sizeOf(shape) !== sizeOf(a.shape) || sizeOf(shape) !== sizeOf(b.shape)) {
          throw new Unsupported('adding symbolic tensors of different shapes (broadcast) is not supported');
        }
        const ib = op === 'Sub' ? this.materialize(this.elementwise(b, -1, 0)) : this.materialize(b);
        const ia = this.materialize(a);
        const id = this.push({ kind: 'add', name: nodeLabel(node), size: sizeOf(shape), inputs: [ia, ib] });
        return { kind: 'sym', shape, node: id, lin: IDENTITY, tensor: '' };
      }
      if (op === 'Mul') {
        const silu = this.trySilu(a, b) ?? this.trySilu(b, a);
        if (silu) return silu;
      }
      throw new Unsupported(`${op} of two input-dependent tensors is nonlinear (only x * Sigmoid(x), SiLU, is recognised)`);
    }
    if (a.kind === 'const' && b.kind === 'sym') {
      if (op === 'Div') throw new Unsupported('division by an input-dependent tensor is nonlinear');
      if (op === 'Sub') return this.binaryConst(node, 'Add', this.elementwise(b, -1, 0), a); // c - x = -x + c
      return this.binaryConst(node, op, b, a);
    }
    return this.binaryConst(node, op, sym(a), b as ConstValue);
  }

  /** x (op) c for a symbolic x and a constant c, with numpy broadcasting. */
  private binaryConst(node: OnnxNode, op: string, x: SymValue, c: ConstValue): SymValue {
    const shape = broadcastShapes(x.shape, c.shape, nodeLabel(node));
    const mx = broadcastMap(shape, x.shape);
    const mc = broadcastMap(shape, c.shape);
    const n = sizeOf(shape);
    const s = new Float64Array(n);
    const t = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const v = c.data[mc ? mc[i] : i];
      if (op === 'Add') {
        s[i] = 1;
        t[i] = v;
      } else if (op === 'Sub') {
        s[i] = 1;
        t[i] = -v;
      } else if (op === 'Mul') s[i] = v;
      else s[i] = 1 / v;
    }
    return this.composeElementwise(x, shape, mx, s, t);
  }

  /** Recognises x * Sigmoid(x) (SiLU / swish as exported by PyTorch and Keras). */
  private trySilu(x: SymValue, s: SymValue): SymValue | undefined {
    const sigNode = this.nodes[s.node];
    if (s.lin.kind !== 'identity' || sigNode.kind !== 'sigmoid') return undefined;
    const xNode = this.materialize(x);
    if (sigNode.inputs[0] !== xNode || sizeOf(x.shape) !== sigNode.size) return undefined;
    const id = this.push({ kind: 'silu', name: x.tensor, size: sigNode.size, inputs: [xNode] });
    return { kind: 'sym', shape: x.shape, node: id, lin: IDENTITY, tensor: '' };
  }

  private matmul(a: Value, b: Value): SymValue {
    if (a.kind === 'sym' && b.kind === 'const') return this.matmulRight(a, b);
    if (a.kind === 'const' && b.kind === 'sym') return this.matmulLeft(a, b);
    throw new Unsupported('MatMul of two input-dependent tensors is nonlinear');
  }

  /** Y = X B for symbolic X [..., m, k] (or [k]) and constant B [k, n] (or [k]). */
  private matmulRight(x: SymValue, B: ConstValue): SymValue {
    if (B.shape.length > 2) throw new Unsupported('MatMul with a batched constant right operand is not supported');
    const bShape = B.shape.length === 1 ? [B.shape[0], 1] : B.shape;
    const [k, n] = bShape;
    const xShape = x.shape.length === 1 ? [1, x.shape[0]] : x.shape;
    if (xShape[xShape.length - 1] !== k) {
      throw new ShapeError(`${this.file}: MatMul`, `inner dimension ${k}`, `[${x.shape.join(',')}] x [${B.shape.join(',')}]`);
    }
    const m = xShape[xShape.length - 2];
    const pre = sizeOf(xShape.slice(0, -2));
    const inSize = pre * m * k;
    const outSize = pre * m * n;
    const M = denseMatrix(outSize * inSize);
    for (let p = 0; p < pre; p++)
      for (let i = 0; i < m; i++)
        for (let j = 0; j < n; j++) {
          const row = ((p * m + i) * n + j) * inSize;
          for (let t = 0; t < k; t++) M[row + (p * m + i) * k + t] = B.data[t * n + j];
        }
    let shape = [...xShape.slice(0, -1), n];
    if (x.shape.length === 1) shape = shape.slice(1);
    if (B.shape.length === 1) shape = shape.slice(0, -1);
    return this.composeLinear(x, shape, M, new Float64Array(outSize));
  }

  /** Y = A X for constant A [n, k] (or [k]) and symbolic X [..., k, m] (or [k]). */
  private matmulLeft(A: ConstValue, x: SymValue): SymValue {
    if (A.shape.length > 2) throw new Unsupported('MatMul with a batched constant left operand is not supported');
    const aShape = A.shape.length === 1 ? [1, A.shape[0]] : A.shape;
    const [n, k] = aShape;
    const xShape = x.shape.length === 1 ? [x.shape[0], 1] : x.shape;
    if (xShape[xShape.length - 2] !== k) {
      throw new ShapeError(`${this.file}: MatMul`, `inner dimension ${k}`, `[${A.shape.join(',')}] x [${x.shape.join(',')}]`);
    }
    const m = xShape[xShape.length - 1];
    const pre = sizeOf(xShape.slice(0, -2));
    const inSize = pre * k * m;
    const outSize = pre * n * m;
    const M = denseMatrix(outSize * inSize);
    for (let p = 0; p < pre; p++)
      for (let i = 0; i < n; i++)
        for (let j = 0; j < m; j++) {
          const row = ((p * n + i) * m + j) * inSize;
          for (let t = 0; t < k; t++) M[row + (p * k + t) * m + j] = A.data[i * k + t];
        }
    let shape = [...xShape.slice(0, -2), n, m];
    if (A.shape.length === 1) shape = [...xShape.slice(0, -2), m];
    if (x.shape.length === 1) shape = shape.slice(0, -1);
    return this.composeLinear(x, shape, M, new Float64Array(outSize));
  }

  private gemm(node: OnnxNode, ins: (Value | undefined)[]): Value {
    const alpha = attrFloat(node, 'alpha', 1);
    const beta = attrFloat(node, 'beta', 1);
    const transA = attrInt(node, 'transA', 0) === 1;
    const transB = attrInt(node, 'transB', 0) === 1;
    let a = req(ins[0]);
    let b = req(ins[1]);
    const t2 = (v: ConstValue | SymValue): ConstValue | SymValue => {
      if (v.kind === 'const') {
        const { shape, map } = transposeMap(v.shape, [1, 0]);
        return { kind: 'const', shape, data: Float64Array.from(map, (i) => v.data[i]) };
      }
      const s = sym(v);
      const { shape, map } = transposeMap(s.shape, [1, 0]);
      return this.gather(s, shape, map);
    };
    if (transA) a = t2(a);
    if (transB) b = t2(b);
    let y = this.matmul(a, b);
    if (alpha !== 1) y = this.elementwise(y, alpha, 0);
    const c = ins[2];
    if (c && c.kind === 'const' && beta !== 0) {
      return this.binaryConst(node, 'Add', y, { kind: 'const', shape: c.shape, data: c.data.map((v) => beta * v) });
    }
    if (c && c.kind === 'sym') throw new Unsupported('Gemm with an input-dependent C is not supported');
    return y;
  }

  private batchNorm(node: OnnxNode, ins: (Value | undefined)[]): SymValue {
    const x = sym(req(ins[0]));
    const [scale, bias, mean, variance] = [1, 2, 3, 4].map((i) => constInput(ins[i], ['', 'scale', 'B', 'input_mean', 'input_var'][i]));
    if (attrInt(node, 'training_mode', 0) === 1) throw new Unsupported('BatchNormalization in training mode');
    const eps = attrFloat(node, 'epsilon', 1e-5);
    const channels = x.shape.length >= 2 ? x.shape[1] : x.shape[0];
    const inner = x.shape.length >= 2 ? sizeOf(x.shape.slice(2)) : 1;
    const outer = x.shape.length >= 2 ? x.shape[0] : 1;
    const n = sizeOf(x.shape);
    const s = new Float64Array(n);
    const t = new Float64Array(n);
    for (let o = 0; o < outer; o++)
      for (let ch = 0; ch < channels; ch++) {
        const k = scale.data[ch] / Math.sqrt(variance.data[ch] + eps);
        const off = bias.data[ch] - k * mean.data[ch];
        for (let i = 0; i < inner; i++) {
          const flat = (o * channels + ch) * inner + i;
          s[flat] = k;
          t[flat] = off;
        }
      }
    return this.composeElementwise(x, x.shape, null, s, t);
  }

  private concat(node: OnnxNode, ins: (Value | undefined)[]): SymValue {
    const parts = ins.filter((v): v is Value => v !== undefined);
    if (parts.some((p) => p.kind !== 'sym')) throw new Unsupported('Concat of input-dependent and constant tensors is not supported');
    const syms = parts as SymValue[];
    const rank = syms[0].shape.length;
    let axis = attrInt(node, 'axis', 0);
    if (axis < 0) axis += rank;
    const shape = [...syms[0].shape];
    shape[axis] = syms.reduce((s, p) => s + p.shape[axis], 0);
    const ids = syms.map((p) => this.materialize(p));
    const flatSize = sizeOf(shape);
    const id = this.push({ kind: 'concat', name: nodeLabel(node), size: flatSize, inputs: ids });
    const flat: SymValue = { kind: 'sym', shape: [flatSize], node: id, lin: IDENTITY, tensor: '' };
    const outer = sizeOf(shape.slice(0, axis));
    if (outer === 1) return { ...flat, shape };
    // Interleave: output index (o, part, rest) comes from flat offset of part + o * chunk.
    const map = new Int32Array(flatSize);
    let k = 0;
    const offsets: number[] = [];
    let off = 0;
    for (const p of syms) {
      offsets.push(off);
      off += sizeOf(p.shape);
    }
    for (let o = 0; o < outer; o++)
      syms.forEach((p, pi) => {
        const chunk = sizeOf(p.shape.slice(axis));
        for (let i = 0; i < chunk; i++) map[k++] = offsets[pi] + o * chunk + i;
      });
    return this.gather(flat, shape, map);
  }

  /** Prunes nodes that do not reach the output and renumbers the rest in topological order. */
  finish(output: NodeId): IrGraph {
    const live = new Uint8Array(this.nodes.length);
    live[output] = 1;
    live[this.inputNode] = 1;
    for (let i = this.nodes.length - 1; i >= 0; i--) if (live[i]) for (const j of this.nodes[i].inputs) live[j] = 1;
    const newId = new Int32Array(this.nodes.length).fill(-1);
    const out: IrNode[] = [];
    for (let i = 0; i < this.nodes.length; i++) {
      if (!live[i]) continue;
      newId[i] = out.length;
      const n = this.nodes[i];
      out.push({ ...n, id: out.length, inputs: n.inputs.map((j) => newId[j]) } as IrNode);
    }
    return { nodes: out, input: newId[this.inputNode], output: newId[output], nIn: out[newId[this.inputNode]].size, nOut: out[newId[output]].size };
  }
}

// ---- helpers --------------------------------------------------------------------------------

/** A dense folding buffer; refuses sizes that only a corrupted or huge model would need. */
function denseMatrix(n: number): Float64Array {
  if (!(n <= 2e8)) throw new Unsupported(`folding needs a dense matrix of ${n} entries, more than nnmax handles`);
  return new Float64Array(n);
}

function req(v: Value | undefined): ConstValue | SymValue {
  if (v === undefined) throw new Unsupported('a required input is missing');
  if (v.kind === 'opaque') throw new Unsupported('an input is produced by an unsupported node');
  return v;
}

function sym(v: Value): SymValue {
  if (v.kind !== 'sym') throw new Unsupported('expected an input-dependent tensor');
  return v;
}

function constInput(v: Value | undefined, what: string): ConstValue {
  if (v?.kind !== 'const') throw new Unsupported(`its ${what} input must be a constant`);
  return v;
}

function reshape(v: Value, shape: number[]): Value {
  if (v.kind === 'opaque') return v;
  if (sizeOf(shape) !== sizeOf(v.shape)) {
    throw new Unsupported(`reshape of [${v.shape.join(',')}] to [${shape.join(',')}] changes the number of values`);
  }
  return { ...v, shape };
}

function resolveReshape(shape: readonly number[], target: number[], allowZero: boolean): number[] {
  const out = target.map((d, i) => (d === 0 && !allowZero ? shape[i] : d));
  const known = out.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
  return out.map((d) => (d === -1 ? sizeOf(shape) / known : d));
}

function squeezeShape(shape: readonly number[], axes: number[]): number[] {
  if (axes.length === 0) return shape.filter((d) => d !== 1);
  const norm = axes.map((a) => (a < 0 ? a + shape.length : a));
  return shape.filter((_, i) => !norm.includes(i));
}

function unsqueezeShape(shape: readonly number[], axes: number[]): number[] {
  const rank = shape.length + axes.length;
  const norm = axes.map((a) => (a < 0 ? a + rank : a));
  const out: number[] = [];
  let k = 0;
  for (let i = 0; i < rank; i++) out.push(norm.includes(i) ? 1 : shape[k++]);
  return out;
}

function attr(node: OnnxNode, name: string): OnnxAttribute | undefined {
  return (node.attribute ?? []).find((a) => a.name === name);
}

function attrInt(node: OnnxNode, name: string, dflt: number): number {
  const a = attr(node, name);
  return a ? toNumber(a.i) : dflt;
}

function attrFloat(node: OnnxNode, name: string, dflt: number): number {
  const a = attr(node, name);
  return a ? (a.f ?? dflt) : dflt;
}

function attrInts(node: OnnxNode, name: string, dflt: number[] = []): number[] {
  const a = attr(node, name);
  return a ? (a.ints ?? []).map(toNumber) : dflt;
}

function attrString(node: OnnxNode, name: string, dflt: string): string {
  const a = attr(node, name);
  return a?.s ? new TextDecoder().decode(a.s) : dflt;
}

function nodeLabel(node: OnnxNode): string {
  return node.name || (node.output ?? [])[0] || node.opType || '<node>';
}

/**
 * Rewrites the exact-GELU subgraph that PyTorch and tf2onnx emit before opset 20,
 * `x * 0.5 * (1 + Erf(x / sqrt 2))` in its usual orderings, into one `Gelu` node (domain
 * 'nnmax'). Unmatched Erf nodes stay and are reported as unsupported if they reach the output.
 */
function fuseGeluPatterns(nodes: readonly OnnxNode[], scalar: (name: string) => number | undefined): OnnxNode[] {
  if (!nodes.some((n) => n.opType === 'Erf')) return [...nodes];
  const producer = new Map<string, OnnxNode>();
  const consumers = new Map<string, OnnxNode[]>();
  for (const n of nodes) {
    for (const o of n.output ?? []) producer.set(o, n);
    for (const i of n.input ?? []) consumers.set(i, [...(consumers.get(i) ?? []), n]);
  }
  const near = (v: number | undefined, want: number): boolean => v !== undefined && Math.abs(v - want) < 1e-4 * Math.abs(want);
  const other = (n: OnnxNode, name: string): string | undefined => (n.input ?? []).find((i) => i !== name);
  const onlyConsumer = (name: string, op: string): OnnxNode | undefined => {
    const cs = consumers.get(name) ?? [];
    return cs.length === 1 && cs[0].opType === op ? cs[0] : undefined;
  };
  const replaced = new Map<OnnxNode, OnnxNode>();
  for (const erf of nodes) {
    if (erf.opType !== 'Erf') continue;
    const scaled = producer.get(erf.input![0]);
    if (!scaled) continue;
    let x: string | undefined;
    if (scaled.opType === 'Div' && near(scalar(scaled.input![1]), Math.SQRT2)) x = scaled.input![0];
    if (scaled.opType === 'Mul') {
      const [p, q] = scaled.input!;
      if (near(scalar(q), Math.SQRT1_2)) x = p;
      else if (near(scalar(p), Math.SQRT1_2)) x = q;
    }
    if (!x) continue;
    const plus = onlyConsumer(erf.output![0], 'Add');
    if (!plus || !near(scalar(other(plus, erf.output![0]) ?? ''), 1)) continue;
    const m1 = onlyConsumer(plus.output![0], 'Mul');
    if (!m1) continue;
    const k = other(m1, plus.output![0]) ?? '';
    let last: OnnxNode | undefined;
    if (k === x) {
      const m2 = onlyConsumer(m1.output![0], 'Mul');
      if (m2 && near(scalar(other(m2, m1.output![0]) ?? ''), 0.5)) last = m2;
    } else if (near(scalar(k), 0.5)) {
      const m2 = onlyConsumer(m1.output![0], 'Mul');
      if (m2 && other(m2, m1.output![0]) === x) last = m2;
    } else {
      const half = producer.get(k);
      if (half?.opType === 'Mul' && half.input!.includes(x) && near(scalar(other(half, x) ?? ''), 0.5)) last = m1;
    }
    if (!last) continue;
    replaced.set(last, {
      name: `${last.name || last.output![0]} (Erf GELU)`,
      opType: 'Gelu',
      domain: 'nnmax',
      input: [x],
      output: [last.output![0]],
      attribute: [],
    });
  }
  return nodes.map((n) => replaced.get(n) ?? n);
}

