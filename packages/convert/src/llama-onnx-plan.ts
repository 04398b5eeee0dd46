// The size of the `model.onnx_data` that writeLlamaOnnx writes for a shape and dtype, computed without
// making any weight. It repeats llama-graph's order of tensors (their alignment padding depends on it);
// the tests compare it with files actually written.

import { externalDataOffset } from './external-data-writer.js';
import type { ConvertDtype } from './llama-graph.js';
import { linearShape, type LlamaLinear, type LlamaShape } from './llama-shape.js';

const BLOCK_SIZE = 32; // MatMulNBits and GatherBlockQuantized, 4 and 8 bits

/** Bytes of `model.onnx_data`, padding included, for `shape` stored as `dtype`. */
export function llamaOnnxDataBytes(shape: LlamaShape, dtype: ConvertDtype, options: { isEmbeddingQuantized?: boolean } = {}): number {
  let end = 0;
  const place = (length: number): void => {
    end = externalDataOffset(end, length) + length;
  };
  const bits = dtype === 'q8' ? 8 : 4;
  /** A [n, k] weight as `linear` stores it. */
  const linear = (n: number, k: number): void => {
    if (dtype === 'fp32' || dtype === 'fp16') return place(n * k * (dtype === 'fp32' ? 4 : 2));
    const blocksPerRow = Math.ceil(k / BLOCK_SIZE);
    place(n * blocksPerRow * (BLOCK_SIZE * bits) / 8);
    place(n * blocksPerRow * 4);
  };
  const { hiddenSize: h, vocabSize, headDim } = shape;
  const vector = (): void => place(h * 4);
  const ropeTable = shape.maxPositions * (headDim / 2) * 4;
  place(ropeTable); // cos
  place(ropeTable); // sin
  const isQuantized = options.isEmbeddingQuantized === true;
  if (isQuantized && (dtype === 'q4' || dtype === 'q8') && h % BLOCK_SIZE === 0) {
    place((vocabSize * h * bits) / 8);
    place(vocabSize * (h / BLOCK_SIZE) * 4);
  } else {
    place(vocabSize * h * (isQuantized && dtype === 'fp16' ? 2 : 4));
  }
  vector(); // layer 0's input_layernorm
  const block = (name: LlamaLinear): void => {
    const [n, k] = linearShape(shape, name);
    linear(n, k);
    if (shape.attentionBias === true && (name === 'q_proj' || name === 'k_proj' || name === 'v_proj')) place(n * 4);
  };
  for (let layer = 0; layer < shape.numLayers; layer++) {
    if (layer > 0) vector(); // input_layernorm
    for (const name of ['q_proj', 'k_proj', 'v_proj', 'o_proj'] as const) block(name);
    vector(); // post_attention_layernorm
    for (const name of ['gate_proj', 'up_proj', 'down_proj'] as const) block(name);
  }
  vector(); // final norm
  linear(vocabSize, h); // the head, tied or not
  return end;
}
