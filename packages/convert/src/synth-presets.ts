// The shapes of real models that `convertSynth` can fill with seeded random weights: the numbers from
// each model's config.json on the Hugging Face hub. Nothing here reads or writes files.

import type { LlamaShape } from './llama-shape.js';

/** Which real family a preset copies; decides config.json's model_type and the GGUF architecture. */
export type SynthFamily = 'llama' | 'qwen2';

export interface SynthPreset {
  name: string;
  family: SynthFamily;
  shape: LlamaShape;
  bosTokenId: number;
  eosTokenId: number;
  firstSpecialTokenId: number; // ids from here to vocabSize - 1 are special (added) tokens, as in the real vocab
  note: string; // how the synthetic model differs from the real one
}

// Every preset rotates halves (x[i], x[i + headDim/2]), the Hugging Face convention; the GGUF writer
// permutes q/k rows for llama.cpp's 'llama' architecture, which rotates adjacent pairs, as
// convert_hf_to_gguf.py does.
const common = { ropeInterleaved: false } as const;

const LLAMA3_VOCAB = { vocabSize: 128256, bosTokenId: 128000, eosTokenId: 128001, firstSpecialTokenId: 128000 };
const QWEN2_VOCAB = { vocabSize: 151936, bosTokenId: 151643, eosTokenId: 151643, firstSpecialTokenId: 151643 };
const NO_ROPE_SCALING = 'no llama3 rope_scaling (plain RoPE at rope_theta; identical up to 8192 positions)';

function preset(
  name: string,
  family: SynthFamily,
  vocab: { vocabSize: number; bosTokenId: number; eosTokenId: number; firstSpecialTokenId: number },
  dims: Omit<LlamaShape, 'vocabSize' | 'ropeInterleaved'>,
  note: string,
): SynthPreset {
  const { vocabSize, ...tokens } = vocab;
  return { name, family, shape: { ...dims, vocabSize, ...common }, ...tokens, note };
}

/** The presets by name. `tiny` is for tests: every dimension small, the rest like Llama 3. */
export const SYNTH_PRESETS: Readonly<Record<string, SynthPreset>> = Object.freeze({
  tiny: preset('tiny', 'llama', { vocabSize: 512, bosTokenId: 509, eosTokenId: 510, firstSpecialTokenId: 509 }, {
    hiddenSize: 128, intermediateSize: 256, numLayers: 2, numHeads: 4, numKvHeads: 2, headDim: 32,
    maxPositions: 512, ropeTheta: 10000, rmsNormEps: 1e-5, tiedEmbeddings: true,
  }, 'a test model, no real counterpart'),
  'tiny-qwen2': preset('tiny-qwen2', 'qwen2', { vocabSize: 512, bosTokenId: 510, eosTokenId: 510, firstSpecialTokenId: 510 }, {
    hiddenSize: 128, intermediateSize: 320, numLayers: 2, numHeads: 4, numKvHeads: 2, headDim: 32,
    maxPositions: 512, ropeTheta: 1e6, rmsNormEps: 1e-6, tiedEmbeddings: false, attentionBias: true,
  }, 'a test model with q/k/v biases, no real counterpart'),
  'llama-3.2-1b': preset('llama-3.2-1b', 'llama', LLAMA3_VOCAB, {
    hiddenSize: 2048, intermediateSize: 8192, numLayers: 16, numHeads: 32, numKvHeads: 8, headDim: 64,
    maxPositions: 131072, ropeTheta: 500000, rmsNormEps: 1e-5, tiedEmbeddings: true,
  }, NO_ROPE_SCALING),
  'llama-3.2-3b': preset('llama-3.2-3b', 'llama', LLAMA3_VOCAB, {
    hiddenSize: 3072, intermediateSize: 8192, numLayers: 28, numHeads: 24, numKvHeads: 8, headDim: 128,
    maxPositions: 131072, ropeTheta: 500000, rmsNormEps: 1e-5, tiedEmbeddings: true,
  }, NO_ROPE_SCALING),
  'llama-3.1-8b': preset('llama-3.1-8b', 'llama', LLAMA3_VOCAB, {
    hiddenSize: 4096, intermediateSize: 14336, numLayers: 32, numHeads: 32, numKvHeads: 8, headDim: 128,
    maxPositions: 131072, ropeTheta: 500000, rmsNormEps: 1e-5, tiedEmbeddings: false,
  }, NO_ROPE_SCALING),
  'qwen2.5-0.5b': preset('qwen2.5-0.5b', 'qwen2', QWEN2_VOCAB, {
    hiddenSize: 896, intermediateSize: 4864, numLayers: 24, numHeads: 14, numKvHeads: 2, headDim: 64,
    maxPositions: 32768, ropeTheta: 1e6, rmsNormEps: 1e-6, tiedEmbeddings: true, attentionBias: true,
  }, 'exact shape, q/k/v biases included'),
  'qwen2.5-1.5b': preset('qwen2.5-1.5b', 'qwen2', QWEN2_VOCAB, {
    hiddenSize: 1536, intermediateSize: 8960, numLayers: 28, numHeads: 12, numKvHeads: 2, headDim: 128,
    maxPositions: 32768, ropeTheta: 1e6, rmsNormEps: 1e-6, tiedEmbeddings: true, attentionBias: true,
  }, 'exact shape, q/k/v biases included'),
  // Phi-3-mini-4k-instruct: fused qkv_proj / gate_up_proj in the real checkpoint, the same products split
  // here; its sentencepiece vocab (32000 + 64 added) is replaced by a byte-level BPE of the same size.
  'phi-3-mini': preset('phi-3-mini', 'llama', { vocabSize: 32064, bosTokenId: 1, eosTokenId: 32000, firstSpecialTokenId: 32000 }, {
    hiddenSize: 3072, intermediateSize: 8192, numLayers: 32, numHeads: 32, numKvHeads: 32, headDim: 96,
    maxPositions: 4096, ropeTheta: 10000, rmsNormEps: 1e-5, tiedEmbeddings: false,
  }, 'Llama math at Phi-3-mini-4k shape (split qkv and gate/up), model_type llama'),
});

/** Parameter count of a shape (embedding counted once when tied). */
export function parameterCount(shape: LlamaShape): number {
  const { hiddenSize: h, intermediateSize: ff, numLayers, numHeads, numKvHeads, headDim, vocabSize } = shape;
  const q = numHeads * headDim;
  const kv = numKvHeads * headDim;
  const attention = h * q * 2 + h * kv * 2 + (shape.attentionBias === true ? q + 2 * kv : 0);
  const perLayer = attention + 3 * h * ff + 2 * h;
  return vocabSize * h * (shape.tiedEmbeddings ? 1 : 2) + numLayers * perLayer + h;
}
