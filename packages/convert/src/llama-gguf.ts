// Writes a Llama-family decoder as a GGUF file for llama.cpp ('llama' or 'qwen2' architecture) from the
// same weights source and quantizer as the ONNX writer, so both files hold identical weights: Q4_0 and
// Q8_0 blocks carry MatMulNBits' codes with the same fp16-rounded scales. Tensors arrive one at a time.

import { LocalmError } from '@localm/errors';
import { toFloat16Array, toFloat16Bits } from './float16.js';
import { createGgufWriter, GgmlType, ggufFileBytes, type GgufTensorInfo, type GgufValue, type GgufWriter } from './gguf-writer.js';
import type { ConvertDtype } from './llama-graph.js';
import type { BinaryWriter } from './model-sink.js';
import { linearShape, type LlamaLinear, type LlamaShape, type LlamaTensorRef } from './llama-shape.js';
import { quantizeQ4 } from './q4-quantize.js';
import { quantizeQ8 } from './q8-quantize.js';
import type { SynthVocab } from './synth-tokenizer.js';

/** llama.cpp architectures written here: 'llama' rotates adjacent pairs, 'qwen2' halves (NEOX). */
export type GgufArchitecture = 'llama' | 'qwen2';

const LINEAR_NAMES: Record<LlamaLinear, string> = {
  q_proj: 'attn_q', k_proj: 'attn_k', v_proj: 'attn_v', o_proj: 'attn_output',
  gate_proj: 'ffn_gate', up_proj: 'ffn_up', down_proj: 'ffn_down',
};
// llama.h `enum llama_ftype`: what most of the weights are.
const FILE_TYPE: Record<ConvertDtype, number> = { fp32: 0, fp16: 1, q4: 2, q8: 7 };
const TOKEN_TYPE_NORMAL = 1;
const TOKEN_TYPE_CONTROL = 3;

/** The GGUF name of a tensor (`blk.3.attn_q.weight`), or undefined for a tied head (llama.cpp reuses token_embd). */
export function ggufTensorName(ref: LlamaTensorRef): string {
  switch (ref.kind) {
    case 'embed_tokens':
      return 'token_embd.weight';
    case 'lm_head':
      return 'output.weight';
    case 'norm':
      return 'output_norm.weight';
    case 'input_layernorm':
      return `blk.${ref.layer}.attn_norm.weight`;
    case 'post_attention_layernorm':
      return `blk.${ref.layer}.ffn_norm.weight`;
    case 'linear':
      return `blk.${ref.layer}.${LINEAR_NAMES[ref.name]}.weight`;
    case 'bias':
      return `blk.${ref.layer}.${LINEAR_NAMES[ref.name]}.bias`;
  }
}

/** Every tensor a shape has, in GGUF file order. */
export function llamaTensorRefs(shape: LlamaShape): LlamaTensorRef[] {
  const refs: LlamaTensorRef[] = [{ kind: 'embed_tokens' }];
  for (let layer = 0; layer < shape.numLayers; layer++) {
    refs.push({ kind: 'input_layernorm', layer });
    for (const name of ['q_proj', 'k_proj', 'v_proj'] as const) {
      refs.push({ kind: 'linear', layer, name });
      if (shape.attentionBias === true) refs.push({ kind: 'bias', layer, name });
    }
    refs.push({ kind: 'linear', layer, name: 'o_proj' }, { kind: 'post_attention_layernorm', layer });
    for (const name of ['gate_proj', 'up_proj', 'down_proj'] as const) refs.push({ kind: 'linear', layer, name });
  }
  refs.push({ kind: 'norm' });
  if (!shape.tiedEmbeddings) refs.push({ kind: 'lm_head' });
  return refs;
}

function isMatrix(ref: LlamaTensorRef): boolean {
  return ref.kind === 'linear' || ref.kind === 'embed_tokens' || ref.kind === 'lm_head';
}

/** `[out, in]` of a matrix tensor. */
function matrixShape(shape: LlamaShape, ref: LlamaTensorRef): [number, number] {
  return ref.kind === 'linear' ? linearShape(shape, ref.name) : [shape.vocabSize, shape.hiddenSize];
}

function ggmlTypeFor(dtype: ConvertDtype, ref: LlamaTensorRef): GgmlType {
  if (!isMatrix(ref)) return GgmlType.F32; // norms and biases stay fp32, as in the ONNX graph
  return { fp32: GgmlType.F32, fp16: GgmlType.F16, q4: GgmlType.Q4_0, q8: GgmlType.Q8_0 }[dtype];
}

/**
 * Rows of q_proj / k_proj reordered from the half-split RoPE layout to adjacent pairs, per head:
 * new row 2j + s = old row s·(headDim/2) + j. convert_hf_to_gguf.py's `permute` for the 'llama' architecture.
 */
function permuteForAdjacentRope(values: Float32Array, heads: number, headDim: number, rowLength: number): Float32Array {
  const out = new Float32Array(values.length);
  const half = headDim / 2;
  for (let h = 0; h < heads; h++) {
    for (let j = 0; j < half; j++) {
      for (let s = 0; s < 2; s++) {
        const from = (h * headDim + s * half + j) * rowLength;
        const to = (h * headDim + 2 * j + s) * rowLength;
        out.set(values.subarray(from, from + rowLength), to);
      }
    }
  }
  return out;
}

/** ggml block_q4_0: fp16 scale, then 16 bytes with element j in the low nibble and j + 16 in the high one. */
function encodeQ4_0(values: Float32Array, n: number, k: number): Uint8Array {
  const { packed, scales } = quantizeQ4(values, n, k, { fp16Scales: true });
  const blocks = scales.length;
  const out = new Uint8Array(blocks * 18);
  const view = new DataView(out.buffer);
  const q = new Uint8Array(32);
  for (let b = 0; b < blocks; b++) {
    view.setUint16(b * 18, toFloat16Bits(scales[b]!), true);
    for (let i = 0; i < 16; i++) {
      const byte = packed[b * 16 + i]!; // MatMulNBits: element 2i low nibble, 2i + 1 high
      q[2 * i] = byte & 0x0f;
      q[2 * i + 1] = byte >> 4;
    }
    for (let j = 0; j < 16; j++) out[b * 18 + 2 + j] = q[j]! | (q[j + 16]! << 4);
  }
  return out;
}

/** ggml block_q8_0: fp16 scale, then 32 signed bytes (MatMulNBits' codes minus its zero point 128). */
function encodeQ8_0(values: Float32Array, n: number, k: number): Uint8Array {
  const { codes, scales } = quantizeQ8(values, n, k, { fp16Scales: true });
  const out = new Uint8Array(scales.length * 34);
  const view = new DataView(out.buffer);
  for (let b = 0; b < scales.length; b++) {
    view.setUint16(b * 34, toFloat16Bits(scales[b]!), true);
    for (let i = 0; i < 32; i++) out[b * 34 + 2 + i] = (codes[b * 32 + i]! - 128) & 0xff;
  }
  return out;
}

export interface LlamaGgufOptions {
  architecture: GgufArchitecture;
  dtype: ConvertDtype;
  name: string; // general.name
  vocab: SynthVocab;
}

/** Receives tensors (in any order, repeats ignored) and writes them encoded into the GGUF. */
export interface LlamaGgufSink {
  /**
   * Writes `values`: the whole tensor, or for a matrix the rows from `firstRow` on (whole rows; for
   * q_proj / k_proj whole heads, as the 'llama' architecture permutes rows within each head).
   */
  write(ref: LlamaTensorRef, values: Float32Array, firstRow?: number): Promise<void>;
  close(): Promise<void>;
  readonly sizeBytes: number;
}

/** GGUF metadata and tensor list for `shape`. */
function llamaGgufLayout(shape: LlamaShape, options: LlamaGgufOptions): { metadata: [string, GgufValue][]; tensors: GgufTensorInfo[] } {
  const { architecture: arch, dtype, vocab } = options;
  if (vocab.tokens.length !== shape.vocabSize) {
    throw new LocalmError('invalid_argument', `GGUF vocab has ${vocab.tokens.length} tokens, the model ${shape.vocabSize}`);
  }
  if (shape.ropeInterleaved) {
    // Our graphs only write interleaved RoPE for llama2.c checkpoints, which need no GGUF.
    throw new LocalmError('invalid_argument', 'the GGUF writer expects half-split RoPE weights (Hugging Face layout)');
  }
  const u32 = (value: number): GgufValue => ({ type: 'uint32', value });
  const metadata: [string, GgufValue][] = [
    ['general.architecture', { type: 'string', value: arch }],
    ['general.name', { type: 'string', value: options.name }],
    ['general.file_type', u32(FILE_TYPE[dtype])],
    ['general.quantization_version', u32(2)],
    [`${arch}.context_length`, u32(shape.maxPositions)],
    [`${arch}.embedding_length`, u32(shape.hiddenSize)],
    [`${arch}.block_count`, u32(shape.numLayers)],
    [`${arch}.feed_forward_length`, u32(shape.intermediateSize)],
    [`${arch}.attention.head_count`, u32(shape.numHeads)],
    [`${arch}.attention.head_count_kv`, u32(shape.numKvHeads)],
    [`${arch}.attention.key_length`, u32(shape.headDim)],
    [`${arch}.attention.value_length`, u32(shape.headDim)],
    [`${arch}.rope.dimension_count`, u32(shape.headDim)],
    [`${arch}.rope.freq_base`, { type: 'float32', value: shape.ropeTheta }],
    [`${arch}.attention.layer_norm_rms_epsilon`, { type: 'float32', value: shape.rmsNormEps }],
    [`${arch}.vocab_size`, u32(shape.vocabSize)],
    ['tokenizer.ggml.model', { type: 'string', value: 'gpt2' }],
    ['tokenizer.ggml.pre', { type: 'string', value: 'default' }],
    ['tokenizer.ggml.tokens', { type: 'string[]', value: vocab.tokens }],
    ['tokenizer.ggml.token_type', { type: 'int32[]', value: vocab.isSpecial.map((s) => (s ? TOKEN_TYPE_CONTROL : TOKEN_TYPE_NORMAL)) }],
    ['tokenizer.ggml.merges', { type: 'string[]', value: vocab.merges }],
    ['tokenizer.ggml.bos_token_id', u32(vocab.bosTokenId)],
    ['tokenizer.ggml.eos_token_id', u32(vocab.eosTokenId)],
    ['tokenizer.ggml.add_bos_token', { type: 'bool', value: false }],
  ];
  const tensors: GgufTensorInfo[] = llamaTensorRefs(shape).map((ref) => {
    const type = ggmlTypeFor(dtype, ref);
    if (!isMatrix(ref)) return { name: ggufTensorName(ref), type, dims: [ref.kind === 'bias' ? linearShape(shape, ref.name)[0] : shape.hiddenSize] };
    const [out, inp] = matrixShape(shape, ref);
    return { name: ggufTensorName(ref), type, dims: [inp, out] };
  });
  return { metadata, tensors };
}

/** The size in bytes of the GGUF that `createLlamaGguf` writes for `shape`. */
export function llamaGgufBytes(shape: LlamaShape, options: LlamaGgufOptions): number {
  const { metadata, tensors } = llamaGgufLayout(shape, options);
  return ggufFileBytes(metadata, tensors);
}

/** Bytes of one encoded row of `k` values. */
function encodedRowBytes(type: GgmlType, k: number): number {
  return type === GgmlType.F32 ? k * 4 : type === GgmlType.F16 ? k * 2 : type === GgmlType.Q4_0 ? (k / 32) * 18 : (k / 32) * 34;
}

/**
 * Starts a GGUF for `shape` through `out`; feed it every tensor of `llamaTensorRefs(shape)` through `write`.
 * @example
 * const gguf = await createLlamaGguf(await sink.openBinary('model.gguf'), 'model.gguf', shape, { architecture: 'llama', dtype: 'q4', name: 'tiny', vocab });
 * for (const ref of llamaTensorRefs(shape)) await gguf.write(ref, await weights.read(ref));
 * await gguf.close();
 */
export async function createLlamaGguf(out: BinaryWriter, fileName: string, shape: LlamaShape, options: LlamaGgufOptions): Promise<LlamaGgufSink> {
  const { architecture: arch, dtype } = options;
  const { metadata, tensors } = llamaGgufLayout(shape, options);
  const writer: GgufWriter = await createGgufWriter(out, fileName, metadata, tensors);
  const written = new Set<string>();
  const isRotated = (ref: LlamaTensorRef): boolean =>
    arch === 'llama' && (ref.kind === 'linear' || ref.kind === 'bias') && (ref.name === 'q_proj' || ref.name === 'k_proj');
  return {
    sizeBytes: writer.sizeBytes,
    async write(ref, values, firstRow = 0) {
      const name = ggufTensorName(ref);
      const key = `${name}@${firstRow}`;
      if (written.has(key)) return; // a tied head reads the embedding a second time
      written.add(key);
      const type = ggmlTypeFor(dtype, ref);
      const rowLength = isMatrix(ref) ? matrixShape(shape, ref)[1] : 1; // a vector's rows are its elements
      const rows = values.length / rowLength;
      let v = values;
      if (isRotated(ref)) {
        if (firstRow % shape.headDim !== 0 || rows % shape.headDim !== 0) {
          throw new LocalmError('invalid_argument', `GGUF ${name}: rows ${firstRow}..${firstRow + rows} split a head of ${shape.headDim} rows`);
        }
        v = permuteForAdjacentRope(values, rows / shape.headDim, shape.headDim, rowLength);
      }
      let bytes: Uint8Array;
      if (type === GgmlType.F32) bytes = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
      else if (type === GgmlType.F16) bytes = new Uint8Array(toFloat16Array(v).buffer);
      else bytes = type === GgmlType.Q4_0 ? encodeQ4_0(v, rows, rowLength) : encodeQ8_0(v, rows, rowLength);
      await writer.writeTensor(name, bytes, firstRow * encodedRowBytes(type, rowLength));
    },
    close: () => writer.close(),
  };
}
