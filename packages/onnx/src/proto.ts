import { OnnxDecodeError } from '@nnmax/core';
import protobuf from 'protobufjs';
import { ONNX_PROTO } from './onnx-schema.js';

/** int64 as protobufjs hands it over: a Long-like object, or a number when it fits. */
export type Int64 = number | { low: number; high: number; unsigned?: boolean; toNumber?(): number };

export interface OnnxTensor {
  name?: string;
  dims?: Int64[];
  dataType?: number;
  floatData?: number[];
  int32Data?: number[];
  int64Data?: Int64[];
  doubleData?: number[];
  uint64Data?: Int64[];
  rawData?: Uint8Array;
  dataLocation?: number;
  externalData?: { key?: string; value?: string }[];
}

export interface OnnxAttribute {
  name?: string;
  type?: number;
  f?: number;
  i?: Int64;
  s?: Uint8Array;
  t?: OnnxTensor;
  floats?: number[];
  ints?: Int64[];
}

export interface OnnxNode {
  input?: string[];
  output?: string[];
  name?: string;
  opType?: string;
  domain?: string;
  attribute?: OnnxAttribute[];
}

export interface OnnxDim {
  dimValue?: Int64;
  dimParam?: string;
}

export interface OnnxValueInfo {
  name?: string;
  type?: { tensorType?: { elemType?: number; shape?: { dim?: OnnxDim[] } } };
}

export interface OnnxGraph {
  node?: OnnxNode[];
  name?: string;
  initializer?: OnnxTensor[];
  input?: OnnxValueInfo[];
  output?: OnnxValueInfo[];
  valueInfo?: OnnxValueInfo[];
}

export interface OnnxModel {
  irVersion?: Int64;
  opsetImport?: { domain?: string; version?: Int64 }[];
  producerName?: string;
  producerVersion?: string;
  graph?: OnnxGraph;
}

/** ONNX TensorProto.DataType values used by nnmax. */
export const DATA_TYPE = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  INT32: 6,
  INT64: 7,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
} as const;

let modelType: protobuf.Type | undefined;

function getModelType(): protobuf.Type {
  modelType ??= protobuf.parse(ONNX_PROTO, { keepCase: false }).root.lookupType('onnx.ModelProto');
  return modelType;
}

export function toNumber(v: Int64 | undefined | null): number {
  if (v === undefined || v === null) return 0;
  if (typeof v === 'number') return v;
  if (typeof v.toNumber === 'function') return v.toNumber();
  return v.high * 4294967296 + (v.unsigned ? v.low >>> 0 : v.low >>> 0);
}

/**
 * Decodes ONNX bytes into a model object. Throws OnnxDecodeError naming `file` when the bytes
 * are not a protobuf ModelProto with a graph.
 */
export function decodeModel(bytes: Uint8Array, file = '<bytes>'): OnnxModel {
  if (bytes.length === 0) throw new OnnxDecodeError(file, 'empty file: not an ONNX model');
  let model: OnnxModel;
  try {
    model = getModelType().decode(bytes) as unknown as OnnxModel;
  } catch (cause) {
    const why = cause instanceof Error ? cause.message : String(cause);
    throw new OnnxDecodeError(file, `not a valid ONNX protobuf (${why}); is the file truncated or not an .onnx model?`, { cause });
  }
  const graph = model.graph;
  if (!graph || (graph.node ?? []).length === 0 || (graph.output ?? []).length === 0) {
    throw new OnnxDecodeError(file, 'decodes as protobuf but holds no ONNX graph with nodes and outputs; is it really an .onnx model?');
  }
  if (toNumber(model.irVersion) <= 0) {
    throw new OnnxDecodeError(file, 'no ir_version: not an ONNX model');
  }
  return model;
}

/** Encodes a model object (as built by the graph builders or returned by decodeModel). */
export function encodeModel(model: OnnxModel): Uint8Array {
  const type = getModelType();
  const message = type.fromObject(model as Record<string, unknown>);
  return type.encode(message).finish();
}

/** Reads a tensor's values as float64, whatever its stored dtype. */
export function tensorToFloat64(t: OnnxTensor, file: string): Float64Array {
  const name = t.name ?? '<unnamed>';
  if (t.dataLocation === 1 || (t.externalData ?? []).length > 0) {
    throw new OnnxDecodeError(
      file,
      `tensor '${name}' stores its data in an external file; external-data models are not supported: re-export with the weights embedded (onnx.save(model, path, save_as_external_data=False))`,
    );
  }
  const n = tensorDims(t).reduce((a, b) => a * b, 1);
  const dt = t.dataType ?? 0;
  const raw = t.rawData && t.rawData.length > 0 ? new Uint8Array(t.rawData) : undefined; // copy: decoded bytes are views into a shared buffer
  const view = raw ? new DataView(raw.buffer, raw.byteOffset, raw.byteLength) : undefined;
  const out = new Float64Array(n);
  const need = (bytesPer: number): void => {
    if (view && view.byteLength < n * bytesPer) {
      throw new OnnxDecodeError(file, `tensor '${name}' has ${view.byteLength} bytes of data for ${n} values: truncated model`);
    }
  };
  const fromList = (list: ArrayLike<number | Int64> | undefined): void => {
    const len = list?.length ?? 0;
    if (len < n) throw new OnnxDecodeError(file, `tensor '${name}' has ${len} values for shape [${tensorDims(t).join(',')}]`);
    for (let i = 0; i < n; i++) out[i] = toNumber(list![i] as Int64);
  };
  switch (dt) {
    case DATA_TYPE.FLOAT:
      if (view) {
        need(4);
        for (let i = 0; i < n; i++) out[i] = view.getFloat32(4 * i, true);
      } else fromList(t.floatData);
      return out;
    case DATA_TYPE.DOUBLE:
      if (view) {
        need(8);
        for (let i = 0; i < n; i++) out[i] = view.getFloat64(8 * i, true);
      } else fromList(t.doubleData);
      return out;
    case DATA_TYPE.INT64:
      if (view) {
        need(8);
        for (let i = 0; i < n; i++) out[i] = Number(view.getBigInt64(8 * i, true));
      } else fromList(t.int64Data);
      return out;
    case DATA_TYPE.INT32:
    case DATA_TYPE.INT8:
    case DATA_TYPE.UINT8:
    case DATA_TYPE.BOOL:
      if (view) {
        const per = dt === DATA_TYPE.INT32 ? 4 : 1;
        need(per);
        for (let i = 0; i < n; i++) {
          out[i] = per === 4 ? view.getInt32(4 * i, true) : dt === DATA_TYPE.INT8 ? view.getInt8(i) : view.getUint8(i);
        }
      } else fromList(t.int32Data);
      return out;
    case DATA_TYPE.FLOAT16:
      if (view) {
        need(2);
        for (let i = 0; i < n; i++) out[i] = halfToFloat(view.getUint16(2 * i, true));
      } else {
        fromList(t.int32Data);
        for (let i = 0; i < n; i++) out[i] = halfToFloat(out[i]);
      }
      return out;
    default:
      throw new OnnxDecodeError(file, `tensor '${name}' has data type ${dt}, which nnmax cannot read as numbers`);
  }
}

export function tensorDims(t: OnnxTensor): number[] {
  return (t.dims ?? []).map(toNumber);
}

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

/** A float32 tensor for the graph builders, stored as little-endian raw_data. */
export function float32Tensor(name: string, dims: number[], data: ArrayLike<number>): OnnxTensor {
  const f = Float32Array.from(data);
  return { name, dims, dataType: DATA_TYPE.FLOAT, rawData: new Uint8Array(f.buffer, f.byteOffset, f.byteLength) };
}

export function int64Tensor(name: string, dims: number[], data: readonly number[]): OnnxTensor {
  const a = BigInt64Array.from(data.map((v) => BigInt(v)));
  return { name, dims, dataType: DATA_TYPE.INT64, rawData: new Uint8Array(a.buffer) };
}
