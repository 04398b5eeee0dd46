// Writes a Llama-family decoder as `model.onnx` + `model.onnx_data` in the onnxruntime-genai layout
// (the one every ONNX Runtime build accepts, see FACTS.md), for any LlamaShape and weights source.
// Weights stream to the sink one tensor at a time, and the tensors stored row by row (the embedding,
// q4/q8 linear layers, the RoPE tables) a slice of rows at a time. The folder's JSON files are left to the caller.

import { LocalmError } from '@localm/errors';
import { createExternalDataWriter } from './external-data-writer.js';
import { DataType, GraphBuilder, type StreamedWeight } from './graph-builder.js';
import type { ModelSink } from './model-sink.js';
import { linearShape, tensorSize } from './llama-shape.js';
import type { LlamaLinear, LlamaShape, LlamaTensorRef, LlamaWeightSource } from './llama-shape.js';
import { toFloat16Array } from './float16.js';
import { Q4_BLOCK_SIZE, quantizeQ4, type QuantizeOptions } from './q4-quantize.js';
import { Q8_BLOCK_SIZE, quantizeQ8 } from './q8-quantize.js';
import { ropeCache } from './rope-cache.js';

/**
 * How linear weights are stored: fp32 MatMul; fp16 (stored half, cast to fp32 when the session loads);
 * 8- or 4-bit MatMulNBits (block 32, symmetric, the codes of ggml's Q8_0 / Q4_0).
 */
export type ConvertDtype = 'fp32' | 'fp16' | 'q8' | 'q4';

export interface WriteLlamaOnnxOptions {
  dtype: ConvertDtype;
  producerVersion: string;
  onProgress?: (message: string) => void;
  // Round block scales to fp16 before choosing codes (q4, q8), so a GGUF can hold identical weights.
  fp16Scales?: boolean;
  // Store the token embedding in the linear layers' format too: GatherBlockQuantized for q4 and q8
  // (hidden size a multiple of 32), Gather + Cast for fp16. Default false: an fp32 embedding.
  isEmbeddingQuantized?: boolean;
  // Matrices stored row by row (embedding, quantized linear layers) are read from a source with
  // `readRows` in slices of about this many values, so memory holds a slice, not a vocabulary-sized
  // table. The bytes written do not depend on it. Default DEFAULT_CHUNK_VALUES.
  chunkValues?: number;
}

/** 4 Mi values: 16 MiB of fp32 per slice, a 1B model's embedding in 64 slices. */
export const DEFAULT_CHUNK_VALUES = 1 << 22;

/** File names written into the onnx folder. transformers.js looks for `model.onnx_data` by default. */
export const ONNX_FILE = 'model.onnx';
export const ONNX_DATA_FILE = 'model.onnx_data';

const MICROSOFT = 'com.microsoft';
// Symbolic dimension names, as genai and transformers.js's exports spell them.
const BATCH = 'batch_size';
const SEQ = 'sequence_length';
const PAST = 'past_sequence_length';
const TOTAL = 'total_sequence_length';

function checkShape(s: LlamaShape): void {
  const invalid = (what: string): LocalmError => new LocalmError('invalid_argument', `LlamaShape: ${what}`);
  const counts = [
    'hiddenSize', 'intermediateSize', 'numLayers', 'numHeads', 'numKvHeads', 'headDim', 'vocabSize', 'maxPositions',
  ] as const;
  for (const key of counts) {
    if (!Number.isInteger(s[key]) || s[key] <= 0) throw invalid(`${key} ${s[key]} is not a positive integer`);
  }
  if (s.numHeads % s.numKvHeads !== 0) throw invalid(`numHeads ${s.numHeads} is not a multiple of numKvHeads ${s.numKvHeads}`);
  if (s.headDim % 2 !== 0) throw invalid(`headDim ${s.headDim} is odd; RoPE rotates pairs`);
  if (!(s.ropeTheta > 0) || !(s.rmsNormEps > 0)) throw invalid(`ropeTheta ${s.ropeTheta} and rmsNormEps ${s.rmsNormEps} must be positive`);
}

/** `[n, k]` row-major to `[k, n]`: ONNX MatMul multiplies x[.., k] by B[k, n]. */
function transpose(w: Float32Array, n: number, k: number): Float32Array {
  const out = new Float32Array(w.length);
  for (let row = 0; row < n; row++) {
    for (let col = 0; col < k; col++) out[col * n + row] = w[row * k + col] as number;
  }
  return out;
}

/**
 * Writes `model.onnx` and `model.onnx_data` into the folder `onnxDir` of `sink` (e.g. 'onnx') and returns
 * their names. Graph inputs: `input_ids`, `attention_mask` (int64), `past_key_values.{i}.key/.value`;
 * outputs: `logits`, `present.{i}.key/.value` (float32, `[batch, kv_heads, seq, head_dim]`).
 * @example
 * await writeLlamaOnnx(nodeSink('/out'), 'onnx', shape, { read: (ref) => weightsFor(ref) }, { dtype: 'q4', producerVersion: '0.1.0' });
 */
export async function writeLlamaOnnx(
  sink: ModelSink,
  onnxDir: string,
  shape: LlamaShape,
  weights: LlamaWeightSource,
  options: WriteLlamaOnnxOptions,
): Promise<string[]> {
  checkShape(shape);
  const progress = options.onProgress ?? ((): void => {});
  const data = createExternalDataWriter(await sink.openBinary(`${onnxDir}/${ONNX_DATA_FILE}`), ONNX_DATA_FILE);
  let model: Uint8Array;
  try {
    const g = new GraphBuilder(data);
    await buildDecoder(g, shape, weights, options, progress);
    model = g.encode({
      producerVersion: options.producerVersion,
      docString: `Llama decoder, ${options.dtype} linear weights, onnxruntime-genai layout`,
    });
  } finally {
    await data.close();
  }
  const modelFile = await sink.openBinary(`${onnxDir}/${ONNX_FILE}`);
  try {
    await modelFile.write(model, 0);
  } finally {
    await modelFile.close();
  }
  progress(`wrote ${ONNX_FILE} (${model.byteLength} bytes) and ${ONNX_DATA_FILE} (${data.sizeBytes} bytes)`);
  return [ONNX_FILE, ONNX_DATA_FILE];
}

/** Slices of rows of a `[rows, cols]` tensor: the whole tensor in one read when the source has no `readRows`. */
type RowChunks = (ref: LlamaTensorRef, rows: number, cols: number) => AsyncGenerator<{ firstRow: number; values: Float32Array }>;

async function buildDecoder(
  g: GraphBuilder,
  shape: LlamaShape,
  weights: LlamaWeightSource,
  options: WriteLlamaOnnxOptions,
  progress: (message: string) => void,
): Promise<void> {
  const { dtype } = options;
  const quantize = { fp16Scales: options.fp16Scales === true };
  const { hiddenSize, numLayers, numHeads, numKvHeads, headDim, vocabSize, rmsNormEps } = shape;
  const epsilon = { float: rmsNormEps };

  const read = async (ref: LlamaTensorRef): Promise<Float32Array> => {
    const values = await weights.read(ref);
    const want = tensorSize(shape, ref);
    if (values.length !== want) {
      const what = JSON.stringify(ref);
      throw new LocalmError('invalid_argument', `weights source gave ${values.length} values for ${what}, expected ${want}`);
    }
    return values;
  };

  // Whole heads per slice, so that a GGUF writer fed the same slices can permute q/k rows within heads.
  const chunkValues = options.chunkValues ?? DEFAULT_CHUNK_VALUES;
  // One buffer for every slice: a fresh 16 MiB array per slice left ~100 MB of garbage between V8's
  // collections (measured on the 1B preset), which is what a phone cannot spare.
  let scratch = new Float32Array(0);
  const rowChunks: RowChunks = async function* (ref, rows, cols) {
    const rowsPerChunk = headDim * Math.max(1, Math.floor(chunkValues / (cols * headDim)));
    if (weights.readRows === undefined) {
      yield { firstRow: 0, values: await read(ref) };
      return;
    }
    const sliceValues = Math.min(rows, rowsPerChunk) * cols;
    if (scratch.length < sliceValues) scratch = new Float32Array(sliceValues);
    for (let firstRow = 0; firstRow < rows; firstRow += rowsPerChunk) {
      const count = Math.min(rowsPerChunk, rows - firstRow);
      const values = await weights.readRows(ref, firstRow, count, scratch.subarray(0, count * cols));
      if (values.length !== count * cols) {
        throw new LocalmError('invalid_argument', `weights source gave ${values.length} values for ${count} rows of ${JSON.stringify(ref)}, expected ${count * cols}`);
      }
      yield { firstRow, values };
    }
  };

  /** y = x · Wᵀ for a PyTorch-layout weight [n, k]. */
  const linear = async (
    name: string,
    input: string,
    ref: LlamaTensorRef,
    n: number,
    k: number,
    output?: string,
  ): Promise<string> => {
    const out = output === undefined ? {} : { output };
    if (dtype === 'fp32' || dtype === 'fp16') {
      // Stored transposed ([k, n]): a slice of W's rows is not a slice of the file, so W is read whole.
      const weight = await read(ref);
      if (dtype === 'fp32') {
        const b = await g.weight(`${name}.MatMul.weight`, DataType.float, [k, n], transpose(weight, n, k));
        return g.op('MatMul', [input, b], { name: `${name}.MatMul`, ...out });
      }
      const b16 = await g.weight(`${name}.MatMul.weight`, DataType.float16, [k, n], toFloat16Array(transpose(weight, n, k)));
      const b = g.op('Cast', [b16], { name: `${name}.MatMul.weight.Cast`, attributes: { to: DataType.float } });
      return g.op('MatMul', [input, b], { name: `${name}.MatMul`, ...out });
    }
    const bits = dtype === 'q8' ? 8 : 4;
    const blockSize = bits === 8 ? Q8_BLOCK_SIZE : Q4_BLOCK_SIZE;
    const blocksPerRow = Math.ceil(k / blockSize);
    const bDims = [n, blocksPerRow, (blockSize * bits) / 8];
    const b = await g.streamedWeight(`${name}.MatMulNBits.weight_q${bits}`, DataType.uint8, bDims);
    const s = await g.streamedWeight(`${name}.MatMulNBits.scales`, DataType.float, [n * blocksPerRow]);
    await writeQuantizedRows(rowChunks(ref, n, k), k, bits, quantize, b, s);
    // accuracy_level stays at its default (fp32 activations): level 4 would quantize activations to int8.
    return g.op('MatMulNBits', [input, b.name, s.name], {
      name: `${name}.MatMulNBits`,
      domain: MICROSOFT,
      attributes: { K: k, N: n, bits, block_size: blockSize },
      ...out,
    });
  };

  const blockLinear = async (layer: number, group: 'attn' | 'mlp', which: LlamaLinear, input: string): Promise<string> => {
    const [n, k] = linearShape(shape, which);
    const name = `model.layers.${layer}.${group}.${which}`;
    const product = await linear(name, input, { kind: 'linear', layer, name: which }, n, k);
    if (shape.attentionBias !== true || (which !== 'q_proj' && which !== 'k_proj' && which !== 'v_proj')) return product;
    const bias = await g.weight(`${name}.bias`, DataType.float, [n], await read({ kind: 'bias', layer, name: which }));
    return g.op('Add', [product, bias], { name: `${name}.Add` });
  };

  /** RMSNorm(input + skip) · gamma; also returns input + skip, the residual stream for the next block. */
  const skipNorm = async (name: string, input: string, skip: string, ref: LlamaTensorRef): Promise<[string, string]> => {
    const gamma = await g.weight(`${name}.weight`, DataType.float, [hiddenSize], await read(ref));
    const nodeName = `${name}.SkipSimplifiedLayerNormalization`;
    const normed = `${nodeName}/output_0`;
    const sum = `${nodeName}/output_3`;
    g.nodeWithOutputs('SkipSimplifiedLayerNormalization', [input, skip, gamma], [normed, '', '', sum], {
      name: nodeName,
      domain: MICROSOFT,
      attributes: { epsilon },
    });
    return [normed, sum];
  };

  const inputIds = g.input('input_ids', DataType.int64, [BATCH, SEQ]);
  g.output('logits', DataType.float, [BATCH, SEQ, vocabSize]);
  const mask = g.input('attention_mask', DataType.int64, [BATCH, TOTAL]);
  const kvDims = [BATCH, numKvHeads, PAST, headDim];
  const past = Array.from({ length: numLayers }, (_, l) => ({
    key: g.input(`past_key_values.${l}.key`, DataType.float, kvDims),
    value: g.input(`past_key_values.${l}.value`, DataType.float, kvDims),
  }));

  // GroupQueryAttention reads the mask as lengths: seqlens_k = (tokens seen per row) - 1, int32 [batch],
  // and total_sequence_length as an int32 scalar, the same subgraph genai's builder emits.
  const one = g.constant('model.constants.int64.1', DataType.int64, [], BigInt64Array.of(1n));
  const axis1 = g.constant('model.constants.int64.[1]', DataType.int64, [1], BigInt64Array.of(1n));
  const m = 'model.attn_mask_reformat';
  const maskSum = g.op('ReduceSum', [mask, axis1], { name: `${m}.ReduceSum`, attributes: { keepdims: 0 } });
  const lastIndex = g.op('Sub', [maskSum, one], { name: `${m}.Sub` });
  const seqlensK = g.op('Cast', [lastIndex], { name: `${m}.seqlens_k.Cast`, attributes: { to: DataType.int32 } });
  const maskShape = g.op('Shape', [mask], { name: `${m}.Shape` });
  const totalLen64 = g.op('Gather', [maskShape, one], { name: `${m}.Gather`, attributes: { axis: 0 } });
  const totalLen = g.op('Cast', [totalLen64], { name: `${m}.total_seq_len.Cast`, attributes: { to: DataType.int32 } });

  const { cosCache, sinCache } = await ropeWeights(g, shape, options.chunkValues ?? DEFAULT_CHUNK_VALUES);
  const interleaved = shape.ropeInterleaved ? 1 : 0;
  // onnxruntime's CPU GroupQueryAttention rotates only heads whose size is a multiple of 16 ("head_size
  // shall be a multiple of 16"). Smaller heads (stories260K's are 8) get com.microsoft RotaryEmbedding
  // nodes before attention instead, fed the positions GroupQueryAttention would have derived itself.
  const isRotaryFused = headDim % 16 === 0;
  const positionIds = isRotaryFused ? '' : positionIdsFromMask(g, inputIds, maskSum, { one, axis1 });
  const rotate = (name: string, input: string, heads: number): string =>
    isRotaryFused
      ? input
      : g.op('RotaryEmbedding', [input, positionIds, cosCache, sinCache], {
          name,
          domain: MICROSOFT,
          attributes: { interleaved, num_heads: heads },
        });

  const embedded = await embed(g, inputIds, rowChunks({ kind: 'embed_tokens' }, vocabSize, hiddenSize), shape, options);

  const norm0Values = await read({ kind: 'input_layernorm', layer: 0 });
  const norm0 = await g.weight('model.layers.0.input_layernorm.weight', DataType.float, [hiddenSize], norm0Values);
  let normed = g.op('SimplifiedLayerNormalization', [embedded, norm0], {
    name: 'model.layers.0.input_layernorm.SimplifiedLayerNormalization',
    attributes: { epsilon, axis: -1, stash_type: 1 },
  });
  let residual = embedded;
  let blockOut = '';

  for (let l = 0; l < numLayers; l++) {
    const prefix = `model.layers.${l}`;
    if (l > 0) {
      [normed, residual] = await skipNorm(`${prefix}.input_layernorm`, blockOut, residual, { kind: 'input_layernorm', layer: l });
    }

    const q = rotate(`${prefix}.attn.q_rotary.RotaryEmbedding`, await blockLinear(l, 'attn', 'q_proj', normed), numHeads);
    const k = rotate(`${prefix}.attn.k_rotary.RotaryEmbedding`, await blockLinear(l, 'attn', 'k_proj', normed), numKvHeads);
    const v = await blockLinear(l, 'attn', 'v_proj', normed);
    const attnName = `${prefix}.attn.GroupQueryAttention`;
    const attn = `${attnName}/output_0`;
    const present = { key: `present.${l}.key`, value: `present.${l}.value` };
    const inputs = [q, k, v, past[l]!.key, past[l]!.value, seqlensK, totalLen];
    const rotaryInputs = isRotaryFused ? [cosCache, sinCache] : [];
    g.nodeWithOutputs('GroupQueryAttention', [...inputs, ...rotaryInputs], [attn, present.key, present.value], {
      name: attnName,
      domain: MICROSOFT,
      attributes: {
        num_heads: numHeads,
        kv_num_heads: numKvHeads,
        scale: { float: 1 / Math.sqrt(headDim) },
        ...(isRotaryFused ? { do_rotary: 1, rotary_interleaved: interleaved } : {}),
      },
    });
    g.output(present.key, DataType.float, [BATCH, numKvHeads, TOTAL, headDim]);
    g.output(present.value, DataType.float, [BATCH, numKvHeads, TOTAL, headDim]);
    const attnOut = await blockLinear(l, 'attn', 'o_proj', attn);

    const postRef = { kind: 'post_attention_layernorm', layer: l } as const;
    const [mlpIn, attnResidual] = await skipNorm(`${prefix}.post_attention_layernorm`, attnOut, residual, postRef);
    residual = attnResidual;
    // SwiGLU: down(silu(gate(x)) * up(x)), silu(g) = g * sigmoid(g).
    const gate = await blockLinear(l, 'mlp', 'gate_proj', mlpIn);
    const up = await blockLinear(l, 'mlp', 'up_proj', mlpIn);
    const sigmoid = g.op('Sigmoid', [gate], { name: `${prefix}.mlp.act_fn.Sigmoid` });
    const silu = g.op('Mul', [gate, sigmoid], { name: `${prefix}.mlp.act_fn.Mul` });
    const gated = g.op('Mul', [silu, up], { name: `${prefix}.mlp.Mul` });
    blockOut = await blockLinear(l, 'mlp', 'down_proj', gated);
    progress(`layer ${l + 1}/${numLayers} written`);
  }

  const [finalNormed] = await skipNorm('model.norm', blockOut, residual, { kind: 'norm' });
  // A tied head reads the embedding again rather than keeping it since the start: one tensor in memory at a time.
  await linear('lm_head', finalNormed, shape.tiedEmbeddings ? { kind: 'embed_tokens' } : { kind: 'lm_head' }, vocabSize, hiddenSize, 'logits');
}

/** Per-block quantization in MatMulNBits' layout, 4 or 8 bits. */
function quantizeBlocks(
  weight: Float32Array,
  n: number,
  k: number,
  bits: 4 | 8,
  options: QuantizeOptions,
): { codes: Uint8Array; scales: Float32Array; blocksPerRow: number; blockSize: number } {
  if (bits === 8) return { ...quantizeQ8(weight, n, k, options), blockSize: Q8_BLOCK_SIZE };
  const { packed, scales, blocksPerRow } = quantizeQ4(weight, n, k, options);
  return { codes: packed, scales, blocksPerRow, blockSize: Q4_BLOCK_SIZE };
}

/** The RoPE tables, written a slice of positions at a time (a 128k context makes them 33 MB). */
async function ropeWeights(g: GraphBuilder, shape: LlamaShape, chunkValues: number): Promise<{ cosCache: string; sinCache: string }> {
  const half = shape.headDim / 2;
  const ropeDims = [shape.maxPositions, half];
  const cos = await g.streamedWeight('model.rotary_emb.cos_cache', DataType.float, ropeDims);
  const sin = await g.streamedWeight('model.rotary_emb.sin_cache', DataType.float, ropeDims);
  const rowsPerSlice = Math.max(1, Math.floor(chunkValues / half));
  for (let first = 0; first < shape.maxPositions; first += rowsPerSlice) {
    const slice = ropeCache(Math.min(rowsPerSlice, shape.maxPositions - first), shape.headDim, shape.ropeTheta, first);
    await cos.writeAt(first * half * 4, slice.cos);
    await sin.writeAt(first * half * 4, slice.sin);
  }
  return { cosCache: cos.name, sinCache: sin.name };
}

/**
 * Quantizes each slice of rows of a `[n, k]` weight and writes its codes and scales at their places in
 * the two streamed tensors: both are laid out row by row, so a slice of rows is a slice of each.
 */
async function writeQuantizedRows(
  chunks: AsyncIterable<{ firstRow: number; values: Float32Array }>,
  k: number,
  bits: 4 | 8,
  options: { fp16Scales: boolean },
  codes: StreamedWeight,
  scales: StreamedWeight,
): Promise<void> {
  let into: { codes: Uint8Array; scales: Float32Array } | undefined;
  for await (const { firstRow, values } of chunks) {
    const rows = values.length / k;
    const q = quantizeBlocks(values, rows, k, bits, { ...options, ...(into === undefined ? {} : { into }) });
    // The first slice is the largest: its buffers serve every later one.
    into ??= { codes: q.codes, scales: q.scales };
    await codes.writeAt(firstRow * (q.codes.byteLength / rows), q.codes);
    await scales.writeAt(firstRow * q.blocksPerRow * 4, q.scales);
  }
}

/**
 * The token embedding lookup: Gather on an fp32 table, or (isEmbeddingQuantized) GatherBlockQuantized on
 * the same 4/8-bit codes the linear layers use, or Gather on an fp16 table then Cast.
 * Gather reads only the rows it needs, so a quantized table is never expanded.
 */
async function embed(
  g: GraphBuilder,
  inputIds: string,
  chunks: AsyncIterable<{ firstRow: number; values: Float32Array }>,
  shape: LlamaShape,
  options: WriteLlamaOnnxOptions,
): Promise<string> {
  const { vocabSize, hiddenSize } = shape;
  const name = 'model.embed_tokens';
  const { dtype } = options;
  const isQuantized = options.isEmbeddingQuantized === true;
  if (isQuantized && (dtype === 'q4' || dtype === 'q8') && hiddenSize % 32 === 0) {
    const bits = dtype === 'q8' ? 8 : 4;
    const blockSize = bits === 8 ? Q8_BLOCK_SIZE : Q4_BLOCK_SIZE;
    const blocksPerRow = Math.ceil(hiddenSize / blockSize);
    // GatherBlockQuantized reads uint8 data with MatMulNBits' conventions (low nibble first, zero
    // point 2^(bits-1)); blocks run along the last axis, so the rows are MatMulNBits' B rows unchanged.
    const data = await g.streamedWeight(`${name}.weight_q${bits}`, DataType.uint8, [vocabSize, (hiddenSize * bits) / 8]);
    const scales = await g.streamedWeight(`${name}.scales`, DataType.float, [vocabSize, blocksPerRow]);
    await writeQuantizedRows(chunks, hiddenSize, bits, { fp16Scales: options.fp16Scales === true }, data, scales);
    return g.op('GatherBlockQuantized', [data.name, inputIds, scales.name], {
      name: `${name}.GatherBlockQuantized`,
      domain: MICROSOFT,
      attributes: { gather_axis: 0, quantize_axis: 1, block_size: blockSize, bits },
    });
  }
  const isHalf = isQuantized && dtype === 'fp16';
  const table = await g.streamedWeight(`${name}.weight`, isHalf ? DataType.float16 : DataType.float, [vocabSize, hiddenSize]);
  for await (const { firstRow, values } of chunks) {
    await table.writeAt(firstRow * hiddenSize * (isHalf ? 2 : 4), isHalf ? toFloat16Array(values) : values);
  }
  const rows = g.op('Gather', [table.name, inputIds], { name: `${name}.Gather`, attributes: { axis: 0 } });
  if (!isHalf) return rows;
  return g.op('Cast', [rows], { name: `${name}.Cast`, attributes: { to: DataType.float } });
}

/**
 * position_ids [batch, seq] int64 for the tokens being fed: row b holds (tokens seen by row b) - seq + s,
 * the positions GroupQueryAttention assigns from seqlens_k when it rotates by itself.
 */
function positionIdsFromMask(
  g: GraphBuilder,
  inputIds: string,
  maskSum: string,
  { one, axis1 }: { one: string; axis1: string },
): string {
  const name = 'model.position_ids';
  const zero = g.constant('model.constants.int64.0', DataType.int64, [], BigInt64Array.of(0n));
  const idsShape = g.op('Shape', [inputIds], { name: `${name}.Shape` });
  const seqLen = g.op('Gather', [idsShape, one], { name: `${name}.Gather`, attributes: { axis: 0 } });
  const seen = g.op('Unsqueeze', [maskSum, axis1], { name: `${name}.Unsqueeze` });
  const start = g.op('Sub', [seen, seqLen], { name: `${name}.Sub` });
  const offsets = g.op('Range', [zero, seqLen, one], { name: `${name}.Range` });
  return g.op('Add', [start, offsets], { name: `${name}.Add` });
}
