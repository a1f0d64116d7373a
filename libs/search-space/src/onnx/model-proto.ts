/**
 * The ONNX ModelProto as plain objects, and its protobuf encoding (protobufjs over the schema subset in
 * onnx-schema.ts). The builder writes models with it; graph rewrites (INT8 quantization) decode a model, change
 * it and encode it again.
 */
import { Root, Type } from 'protobufjs';
import { ONNX_SCHEMA } from './onnx-schema';

/** TensorProto.DataType values used here. */
export const TENSOR_FLOAT = 1;
export const TENSOR_UINT8 = 2;
export const TENSOR_INT8 = 3;
export const TENSOR_INT32 = 6;
export const TENSOR_INT64 = 7;

/** AttributeProto.AttributeType values used here. */
export const ATTR_FLOAT = 1;
export const ATTR_INT = 2;
export const ATTR_INTS = 7;

export interface OnnxTensor {
  name: string;
  dims: number[];
  dataType: number;
  rawData?: Uint8Array;
  /** Some producers store floats here instead of rawData. */
  floatData?: number[];
}

export interface OnnxAttribute {
  name: string;
  type: number;
  f?: number;
  i?: number;
  ints?: number[];
}

export interface OnnxNode {
  name: string;
  opType: string;
  /** '' (or absent) for the default ONNX domain. */
  domain?: string;
  input: string[];
  output: string[];
  attribute: OnnxAttribute[];
}

export type OnnxDim = { dimValue: number } | { dimParam: string };

export interface OnnxValueInfo {
  name: string;
  type: { tensorType: { elemType: number; shape?: { dim: OnnxDim[] } } };
}

export interface OnnxGraph {
  name: string;
  node: OnnxNode[];
  initializer: OnnxTensor[];
  input: OnnxValueInfo[];
  output: OnnxValueInfo[];
}

export interface OnnxModel {
  irVersion: number;
  opsetImport: { domain: string; version: number }[];
  producerName: string;
  producerVersion: string;
  docString: string;
  graph: OnnxGraph;
  metadataProps: { key: string; value: string }[];
}

let modelType: Type | undefined;
function modelProto(): Type {
  modelType ??= Root.fromJSON(ONNX_SCHEMA).lookupType('onnx.ModelProto');
  return modelType;
}

export function encodeOnnxModel(model: OnnxModel): Uint8Array {
  const type = modelProto();
  return type.encode(type.fromObject(model)).finish();
}

/** Decodes a serialised model (int64 fields as numbers, repeated fields always present). */
export function decodeOnnxModel(bytes: Uint8Array): OnnxModel {
  const type = modelProto();
  const model = type.toObject(type.decode(bytes), { longs: Number, arrays: true, defaults: false });
  // Fields proto2 leaves out when empty; the rest of the code may rely on them.
  const graph = (model.graph ?? {}) as Partial<OnnxGraph>;
  return {
    irVersion: (model.irVersion as number | undefined) ?? 0,
    opsetImport: (model.opsetImport as OnnxModel['opsetImport']).map((o) => ({
      domain: o.domain ?? '',
      version: o.version,
    })),
    producerName: (model.producerName as string | undefined) ?? '',
    producerVersion: (model.producerVersion as string | undefined) ?? '',
    docString: (model.docString as string | undefined) ?? '',
    metadataProps: model.metadataProps as OnnxModel['metadataProps'],
    graph: {
      name: graph.name ?? '',
      node: (graph.node ?? []).map((n) => ({ ...n, name: n.name ?? '', attribute: n.attribute ?? [] })),
      initializer: graph.initializer ?? [],
      input: graph.input ?? [],
      output: graph.output ?? [],
    },
  };
}

function rawTensor(name: string, dims: number[], dataType: number, bytes: Uint8Array): OnnxTensor {
  return { name, dims, dataType, rawData: bytes };
}

export function floatTensor(name: string, dims: number[], data: ArrayLike<number>): OnnxTensor {
  const bytes = new Uint8Array(data.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i], true);
  return rawTensor(name, dims, TENSOR_FLOAT, bytes);
}

export function int64Tensor(name: string, values: readonly number[]): OnnxTensor {
  const bytes = new Uint8Array(values.length * 8);
  const view = new DataView(bytes.buffer);
  values.forEach((v, i) => view.setBigInt64(i * 8, BigInt(v), true));
  return rawTensor(name, [values.length], TENSOR_INT64, bytes);
}

export function int32Tensor(name: string, dims: number[], data: Int32Array): OnnxTensor {
  const bytes = new Uint8Array(data.length * 4);
  const view = new DataView(bytes.buffer);
  data.forEach((v, i) => view.setInt32(i * 4, v, true));
  return rawTensor(name, dims, TENSOR_INT32, bytes);
}

export function int8Tensor(name: string, dims: number[], data: Int8Array): OnnxTensor {
  return rawTensor(
    name,
    dims,
    TENSOR_INT8,
    new Uint8Array(data.buffer, data.byteOffset, data.length).slice(),
  );
}

export function uint8Tensor(name: string, dims: number[], data: Uint8Array): OnnxTensor {
  return rawTensor(name, dims, TENSOR_UINT8, data.slice());
}

function tensorBytes(t: OnnxTensor, elementSize: number): DataView {
  const raw = t.rawData;
  if (!raw) throw new Error(`tensor "${t.name}" has no raw data`);
  const count = t.dims.reduce((a, b) => a * b, 1);
  if (raw.length !== count * elementSize) {
    throw new Error(`tensor "${t.name}": ${raw.length} bytes for ${count} elements of ${elementSize} bytes`);
  }
  return new DataView(raw.buffer, raw.byteOffset, raw.length);
}

/** The values of a float tensor (raw data or float_data). */
export function readFloatTensor(t: OnnxTensor): Float32Array {
  if (t.dataType !== TENSOR_FLOAT) throw new Error(`tensor "${t.name}" is not float (type ${t.dataType})`);
  if (!t.rawData && t.floatData) return Float32Array.from(t.floatData);
  const view = tensorBytes(t, 4);
  const out = new Float32Array(view.byteLength / 4);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}

/** The values of an int8, uint8 or int32 tensor. */
export function readIntTensor(t: OnnxTensor): Int32Array {
  const size =
    t.dataType === TENSOR_INT32 ? 4 : t.dataType === TENSOR_INT8 || t.dataType === TENSOR_UINT8 ? 1 : 0;
  if (size === 0) throw new Error(`tensor "${t.name}" is not int8, uint8 or int32 (type ${t.dataType})`);
  const view = tensorBytes(t, size);
  const out = new Int32Array(view.byteLength / size);
  for (let i = 0; i < out.length; i++) {
    out[i] =
      t.dataType === TENSOR_INT32
        ? view.getInt32(i * 4, true)
        : t.dataType === TENSOR_INT8
          ? view.getInt8(i)
          : view.getUint8(i);
  }
  return out;
}
