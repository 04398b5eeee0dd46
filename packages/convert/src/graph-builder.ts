// Collects an ONNX graph (nodes, inputs, outputs, initializers) and encodes it with onnx-proto.
// Weights go to an external data file as they are added; only tiny constants stay inside model.onnx.
// Knows nothing of Llama; llama-graph decides what the graph computes.

import onnxProto from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';
import type { ExternalDataWriter, ExternalPlacement } from './external-data-writer.js';

const { onnx } = onnxProto;

/** ONNX TensorProto element types used here (onnx.proto `TensorProto.DataType`). */
export const DataType = { float: 1, uint8: 2, int32: 6, int64: 7, float16: 10 } as const;
export type DataType = (typeof DataType)[keyof typeof DataType];

export type Dim = number | string; // a fixed size or a symbolic dimension name
export type AttributeValue = number | number[] | { float: number };

export interface NodeOptions {
  name: string;
  domain?: string; // '' (ONNX) unless given, e.g. 'com.microsoft'
  attributes?: Record<string, AttributeValue>;
}

/** The opsets the graph imports: standard ONNX 21 (needs IR version 10) and Microsoft's contrib ops. */
export const OPSETS = [
  { domain: '', version: 21 },
  { domain: 'com.microsoft', version: 1 },
] as const;
const IR_VERSION = 10;

function toAttribute(name: string, value: AttributeValue): OnnxTypes.IAttributeProto {
  const { AttributeType } = onnx.AttributeProto;
  if (Array.isArray(value)) return { name, type: AttributeType.INTS, ints: value };
  if (typeof value === 'object') return { name, type: AttributeType.FLOAT, f: value.float };
  if (!Number.isInteger(value)) throw new TypeError(`attribute ${name}: ${value} is not an integer (floats: { float })`);
  return { name, type: AttributeType.INT, i: value };
}

function valueInfo(name: string, elemType: DataType, dims: readonly Dim[]): OnnxTypes.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

/** Bytes of a tensor of `elemType` and `dims`. */
export function tensorBytes(elemType: DataType, dims: readonly number[]): number {
  const itemBytes = { [DataType.uint8]: 1, [DataType.float16]: 2, [DataType.int64]: 8 }[elemType as number] ?? 4;
  return dims.reduce((a, b) => a * b, 1) * itemBytes;
}

/** An initializer whose bytes are written in slices. */
export interface StreamedWeight {
  name: string;
  writeAt(offsetInTensor: number, values: ArrayBufferView): Promise<void>; // offset in bytes
}

function bytesOf(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

/** An ONNX graph being built. Nodes must be added in topological order. */
export class GraphBuilder {
  readonly #nodes: OnnxTypes.INodeProto[] = [];
  readonly #inputs: OnnxTypes.IValueInfoProto[] = [];
  readonly #outputs: OnnxTypes.IValueInfoProto[] = [];
  readonly #initializers: OnnxTypes.ITensorProto[] = [];
  readonly #data: ExternalDataWriter;

  constructor(data: ExternalDataWriter) {
    this.#data = data;
  }

  input(name: string, elemType: DataType, dims: readonly Dim[]): string {
    this.#inputs.push(valueInfo(name, elemType, dims));
    return name;
  }

  output(name: string, elemType: DataType, dims: readonly Dim[]): void {
    this.#outputs.push(valueInfo(name, elemType, dims));
  }

  /** Adds a single-output node and returns its output's name (`output` when given, else genai-style). */
  op(opType: string, inputs: readonly string[], options: NodeOptions & { output?: string }): string {
    const output = options.output ?? `${options.name}/output_0`;
    this.nodeWithOutputs(opType, inputs, [output], options);
    return output;
  }

  /** Adds a node with explicit output names ('' skips an optional output). */
  nodeWithOutputs(opType: string, inputs: readonly string[], outputs: readonly string[], options: NodeOptions): void {
    this.#nodes.push({
      name: options.name,
      opType,
      domain: options.domain ?? '',
      input: [...inputs],
      output: [...outputs],
      attribute: Object.entries(options.attributes ?? {}).map(([k, v]) => toAttribute(k, v)),
    });
  }

  /** Writes `values` to the external data file now and references it as an initializer. */
  async weight(name: string, elemType: DataType, dims: readonly number[], values: ArrayBufferView): Promise<string> {
    if (values.byteLength !== tensorBytes(elemType, dims)) {
      throw new RangeError(`${name}: ${values.byteLength} bytes for dims [${dims.join(', ')}]`);
    }
    this.#addExternal(name, elemType, dims, await this.#data.write(bytesOf(values)));
    return name;
  }

  /**
   * Places an initializer in the external data file now; its bytes follow in slices through the
   * returned `writeAt`, so a tensor never has to be in memory whole. Same file layout as `weight`.
   */
  async streamedWeight(name: string, elemType: DataType, dims: readonly number[]): Promise<StreamedWeight> {
    const placement = await this.#data.reserve(tensorBytes(elemType, dims));
    this.#addExternal(name, elemType, dims, placement);
    return { name, writeAt: (offsetInTensor, values) => this.#data.writeAt(placement, offsetInTensor, bytesOf(values)) };
  }

  #addExternal(name: string, elemType: DataType, dims: readonly number[], { offset, length }: ExternalPlacement): void {
    this.#initializers.push({
      name,
      dataType: elemType,
      dims: [...dims],
      dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
      externalData: [
        { key: 'location', value: this.#data.fileName },
        { key: 'offset', value: String(offset) },
        { key: 'length', value: String(length) },
      ],
    });
  }

  /** A small constant kept inside model.onnx (shapes, axes, scalars). `dims` [] makes a scalar. */
  constant(name: string, elemType: DataType, dims: readonly number[], values: ArrayBufferView): string {
    this.#initializers.push({ name, dataType: elemType, dims: [...dims], rawData: bytesOf(values).slice() });
    return name;
  }

  /** Encodes the model; its initializers point into the external data file by name. */
  encode(meta: { producerVersion: string; docString?: string }): Uint8Array {
    const model: OnnxTypes.IModelProto = {
      irVersion: IR_VERSION,
      producerName: 'localm',
      producerVersion: meta.producerVersion,
      opsetImport: OPSETS.map((o) => ({ ...o })),
      graph: {
        name: 'main_graph',
        node: this.#nodes,
        input: this.#inputs,
        output: this.#outputs,
        initializer: this.#initializers,
      },
      ...(meta.docString === undefined ? {} : { docString: meta.docString }),
    };
    return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
  }
}
