import { encodeModel, type OnnxAttribute, type OnnxNode, type OnnxTensor } from '@nnmax/onnx';

/** A tiny ONNX model writer for tests: builds models node by node, as exporters do. */
export class TestGraph {
  readonly nodes: OnnxNode[] = [];
  readonly inits: OnnxTensor[] = [];
  private k = 0;

  constructor(
    readonly inputShape: (number | string)[],
    readonly opset = 13,
  ) {}

  init(dims: number[], data: ArrayLike<number>, name = `w${this.k++}`): string {
    const f = Float32Array.from(data);
    this.inits.push({ name, dims, dataType: 1, rawData: new Uint8Array(f.buffer) });
    return name;
  }

  initInt64(dims: number[], data: number[], name = `i${this.k++}`): string {
    const a = BigInt64Array.from(data.map(BigInt));
    this.inits.push({ name, dims, dataType: 7, rawData: new Uint8Array(a.buffer) });
    return name;
  }

  op(opType: string, inputs: string[], attrs: Record<string, number | number[] | string> = {}, outputs = 1): string {
    const outs = Array.from({ length: outputs }, () => `t${this.k++}`);
    const attribute: OnnxAttribute[] = Object.entries(attrs).map(([name, v]) =>
      typeof v === 'string'
        ? { name, type: 3, s: new TextEncoder().encode(v) }
        : Array.isArray(v)
          ? { name, type: 7, ints: v }
          : Number.isInteger(v) && !['alpha', 'beta', 'epsilon'].includes(name)
            ? { name, type: 2, i: v }
            : { name, type: 1, f: v },
    );
    this.nodes.push({ name: `${opType}_${this.k}`, opType, input: inputs, output: outs, attribute });
    return outs[0];
  }

  build(output: string, outputShape: (number | string)[]): Uint8Array {
    const info = (name: string, dims: (number | string)[]) => ({
      name,
      type: { tensorType: { elemType: 1, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
    });
    return encodeModel({
      irVersion: 8,
      producerName: 'nnmax-test',
      opsetImport: [{ domain: '', version: this.opset }],
      graph: { name: 'test', node: this.nodes, initializer: this.inits, input: [info('x', this.inputShape)], output: [info(output, outputShape)] },
    });
  }
}

/** Deterministic pseudo-random weights in [-1, 1). */
export function weights(n: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}
