import { parameterCount, type ImportedModel, type IrGraph, type IrNode } from '@nnmax/onnx';

/** What `nnmax info` shows: provenance, interface, the IR as a layer list, capabilities. */
export interface ModelInfo {
  readonly file: string;
  readonly producer: string;
  readonly irVersion: number;
  readonly opset: number;
  readonly input: { readonly name: string; readonly shape: readonly (number | string)[]; readonly size: number };
  readonly output: { readonly name: string; readonly shape: readonly (number | string)[]; readonly size: number };
  readonly opTypes: readonly string[];
  readonly layers: readonly string[];
  readonly parameters: number | null;
  readonly capabilities: { readonly blackBoxSearch: boolean; readonly gradientGraph: boolean; readonly bounds: boolean };
  readonly unsupported: readonly { readonly node: string; readonly opType: string; readonly reason: string }[];
}

export function describeModel(model: ImportedModel): ModelInfo {
  const ir = model.ir;
  return {
    file: model.file,
    producer: model.producer,
    irVersion: model.irVersion,
    opset: model.opset,
    input: { name: model.inputName, shape: model.inputShape, size: model.nIn },
    output: { name: model.outputName, shape: model.outputShape, size: model.nOut },
    opTypes: model.opTypes,
    layers: ir ? describeLayers(ir) : [],
    parameters: ir ? parameterCount(ir) : null,
    capabilities: { blackBoxSearch: true, gradientGraph: ir !== undefined, bounds: ir !== undefined },
    unsupported: model.unsupported,
  };
}

/** One line a layer: `dense 5 -> 50`, `relu 50`, `add 2 inputs -> 16`; consecutive activations merge. */
export function describeLayers(ir: IrGraph): string[] {
  return ir.nodes.filter((n) => n.kind !== 'input').map(describeNode);
}

function describeNode(n: IrNode): string {
  switch (n.kind) {
    case 'affine':
      return `dense ${n.nIn} -> ${n.size}`;
    case 'add':
      return `add (${n.inputs.length} branches) ${n.size}`;
    case 'concat':
      return `concat (${n.inputs.length} parts) -> ${n.size}`;
    case 'leakyrelu':
      return `leakyrelu(alpha=${n.alpha}) ${n.size}`;
    case 'elu':
      return `elu(alpha=${n.alpha}) ${n.size}`;
    case 'gelu':
      return `gelu${n.approximate === 'tanh' ? '(tanh)' : ''} ${n.size}`;
    default:
      return `${n.kind} ${n.size}`;
  }
}
