// Seeded random weights for any LlamaShape, generated tensor by tensor on request, so a model of any size
// is written with one tensor in memory. The generator is specified below so other tools can reproduce it.

import { linearShape, tensorSize } from './llama-shape.js';
import type { LlamaShape, LlamaTensorRef, LlamaWeightSource } from './llama-shape.js';

/**
 * The stream for one tensor: mulberry32 (Tommy Ettinger's 32-bit generator) started from
 * FNV-1a-32 of the UTF-8 text `${seed}:${name}` with name the Hugging Face tensor name
 * (`model.layers.3.self_attn.q_proj.weight`). Value i is (2u - 1) · √3 · std with u the i-th output / 2³²:
 * uniform with mean 0 and standard deviation `std`. Each tensor is independent of every other one,
 * so tensors can be made in any order, and twice with the same result. `firstIndex` starts the fill at
 * value `firstIndex` of the stream (a slice of rows), the same values a whole fill puts there.
 */
export function fillSeededUniform(out: Float32Array, seed: number, name: string, std: number, firstIndex = 0): Float32Array {
  // mulberry32's state advances by a constant, so value `firstIndex` (filling out[0]) needs no walk there.
  let state = (fnv1a32(`${seed}:${name}`) + Math.imul(firstIndex, 0x6d2b79f5)) | 0;
  const scale = (2 * Math.sqrt(3) * std) / 4294967296;
  const offset = Math.sqrt(3) * std;
  for (let i = 0; i < out.length; i++) {
    state = (state + 0x6d2b79f5) | 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((t ^ (t >>> 14)) >>> 0) * scale - offset;
  }
  return out;
}

function fnv1a32(text: string): number {
  let h = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(text)) {
    h ^= byte;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** The Hugging Face name of a tensor reference (`model.embed_tokens.weight`, …). */
export function tensorName(ref: LlamaTensorRef): string {
  switch (ref.kind) {
    case 'embed_tokens':
      return 'model.embed_tokens.weight';
    case 'lm_head':
      return 'lm_head.weight';
    case 'norm':
      return 'model.norm.weight';
    case 'input_layernorm':
    case 'post_attention_layernorm':
      return `model.layers.${ref.layer}.${ref.kind}.weight`;
    case 'linear':
    case 'bias': {
      const group = ref.name === 'gate_proj' || ref.name === 'up_proj' || ref.name === 'down_proj' ? 'mlp' : 'self_attn';
      return `model.layers.${ref.layer}.${group}.${ref.name}.${ref.kind === 'bias' ? 'bias' : 'weight'}`;
    }
  }
}

// The spread of the logits (their standard deviation, about): wide enough that greedy picks are rarely
// near-ties between runtimes whose arithmetic differs in the last bits.
const LOGIT_STD = 4;
// The embedding's scale relative to 1/√hidden. A tied head scores token j by x · e_j, and the residual
// stream x still holds the current token's own e: that adds |e|² / rms(x) to the token's own logit,
// a pull to repeat it. Small rows (with the final norm's gain scaled up to keep LOGIT_STD) weaken it.
const EMBEDDING_SCALE = 0.1;
const BIAS_STD = 0.1;

/**
 * Standard deviations that keep activations in range through any depth: each linear layer
 * 1/√in (so it roughly keeps the variance of its RMS-normalized input), the embedding 0.1/√hidden,
 * an untied head 1/√hidden; RMSNorm gains 1 except the final one, which sets the logits' spread.
 */
export function seededStd(shape: LlamaShape, ref: LlamaTensorRef): number {
  switch (ref.kind) {
    case 'embed_tokens':
      return EMBEDDING_SCALE / Math.sqrt(shape.hiddenSize);
    case 'lm_head':
      return 1 / Math.sqrt(shape.hiddenSize);
    case 'linear': {
      const inputs = ref.name === 'down_proj' ? shape.intermediateSize : ref.name === 'o_proj' ? shape.numHeads * shape.headDim : shape.hiddenSize;
      return 1 / Math.sqrt(inputs);
    }
    case 'bias':
      return BIAS_STD;
    default:
      return 0; // norms: constant gains, below
  }
}

/**
 * A weights source of seeded random tensors for `shape`.
 * @example
 * await writeLlamaOnnx(dir, shape, seededWeights(shape, 42), { dtype: 'q4', producerVersion: '0.1.0' });
 */
export function seededWeights(shape: LlamaShape, seed: number): Required<LlamaWeightSource> {
  return {
    read(ref) {
      const size = tensorSize(shape, ref);
      // logits = gain · (x / rms(x)) · W: standard deviation gain · √hidden · std(W).
      const headStd = seededStd(shape, shape.tiedEmbeddings ? { kind: 'embed_tokens' } : { kind: 'lm_head' });
      if (ref.kind === 'norm') return new Float32Array(size).fill(LOGIT_STD / (Math.sqrt(shape.hiddenSize) * headStd));
      if (ref.kind === 'input_layernorm' || ref.kind === 'post_attention_layernorm') return new Float32Array(size).fill(1);
      return fillSeededUniform(new Float32Array(size), seed, tensorName(ref), seededStd(shape, ref));
    },
    readRows(ref, firstRow, rowCount, out) {
      if (ref.kind !== 'linear' && ref.kind !== 'embed_tokens' && ref.kind !== 'lm_head') {
        throw new RangeError(`seededWeights: ${tensorName(ref)} is not a matrix`);
      }
      const cols = ref.kind === 'linear' ? linearShape(shape, ref.name)[1] : shape.hiddenSize;
      if (out !== undefined && out.length !== rowCount * cols) throw new RangeError(`seededWeights: ${out.length} values for ${rowCount} rows of ${cols}`);
      return fillSeededUniform(out ?? new Float32Array(rowCount * cols), seed, tensorName(ref), seededStd(shape, ref), firstRow * cols);
    },
  };
}
