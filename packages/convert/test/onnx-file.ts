// Reads a model.onnx back with onnx-proto, typed as the decoded classes (whose fields are always set).

import { readFile } from 'node:fs/promises';
import onnxProto from 'onnx-proto';
import type { onnx as Onnx } from 'onnx-proto';

export const { onnx } = onnxProto;

export interface DecodedModel {
  model: Onnx.ModelProto;
  graph: Onnx.GraphProto;
  initializers: Onnx.TensorProto[];
}

export async function readOnnxModel(path: string): Promise<DecodedModel> {
  const model = onnx.ModelProto.decode(await readFile(path));
  const graph = model.graph as Onnx.GraphProto;
  return { model, graph, initializers: graph.initializer as Onnx.TensorProto[] };
}

/** `offset`/`length` of an initializer stored as external data. */
export function externalPlacement(tensor: Onnx.TensorProto): { location: string; offset: number; length: number } {
  const entry = (key: string): string => (tensor.externalData.find((e) => e.key === key)?.value ?? '') as string;
  return { location: entry('location'), offset: Number(entry('offset')), length: Number(entry('length')) };
}
