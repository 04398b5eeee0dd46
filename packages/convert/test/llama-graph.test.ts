// writeLlamaOnnx on shapes stories260K does not cover: heads of 16 (GroupQueryAttention rotates by itself),
// an unshared classifier, and Hugging Face's half-split RoPE with q/k rows permuted the way transformers'
// convert_llama_weights_to_hf does. All checked against the run.c port on the unpermuted weights.

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { readLlama2cCheckpoint } from '../src/llama2c-checkpoint.js';
import type { Llama2cCheckpoint } from '../src/llama2c-checkpoint.js';
import { llama2cShape, llama2cWeights } from '../src/llama2c-model.js';
import { writeLlamaOnnx } from '../src/llama-graph.js';
import { nodeSink } from '../src/node-sink.js';
import type { LlamaShape, LlamaWeightSource } from '../src/llama-shape.js';
import { CHECKPOINT_PATH } from './fixtures.js';
import { openDecoder } from './ort-decoder.js';
import { createRunCReference } from './run-c-reference.js';
import { seededUniform } from './seeded-random.js';

const LOGIT_TOLERANCE = 1e-4;

let workDir: string;
beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'localm-llama-graph-'));
});
afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

/** A llama2.c checkpoint file with seeded random weights; a negative vocab gives it its own classifier. */
function randomCheckpointBytes(header: [number, number, number, number, number, number, number], seed: number): Uint8Array {
  const [dim, hidden, layers, heads, kvHeads, vocab, seq] = header;
  const headSize = dim / heads;
  const kvDim = kvHeads * headSize;
  const perLayer = dim + dim * dim + 2 * kvDim * dim + dim * dim + dim + 3 * hidden * dim;
  const floats = Math.abs(vocab) * dim + layers * perLayer + dim + seq * headSize + (vocab < 0 ? -vocab * dim : 0);
  const bytes = new Uint8Array(28 + floats * 4);
  const view = new DataView(bytes.buffer);
  header.forEach((v, i) => view.setInt32(i * 4, v, true));
  const random = seededUniform(seed);
  // Uniform ±0.5: attention scores of a few units (so a wrong rotation shows) and logits of O(1).
  for (let i = 0; i < floats; i++) view.setFloat32(28 + i * 4, (random() * 2 - 1) * 0.5, true);
  return bytes;
}

/** Sets every RMSNorm gain near 1, as in a trained model, so activations keep their scale. */
function withUnitNorms(ckpt: Llama2cCheckpoint, seed: number): Llama2cCheckpoint {
  const random = seededUniform(seed);
  const gains = [ckpt.rmsFinal, ...ckpt.layers.flatMap((l) => [l.rmsAtt, l.rmsFfn])];
  for (const g of gains) for (let i = 0; i < g.length; i++) g[i] = 1 + (random() * 2 - 1) * 0.1;
  return ckpt;
}

/** Reorders each head's rows from adjacent RoPE pairs (2i, 2i+1) to Hugging Face's halves (i, i + d/2). */
function permuteToHalves(w: Float32Array, heads: number, headDim: number, inDim: number): Float32Array {
  const out = new Float32Array(w.length);
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < headDim / 2; i++) {
      const base = h * headDim;
      out.set(w.subarray((base + 2 * i) * inDim, (base + 2 * i + 1) * inDim), (base + i) * inDim);
      out.set(w.subarray((base + 2 * i + 1) * inDim, (base + 2 * i + 2) * inDim), (base + headDim / 2 + i) * inDim);
    }
  }
  return out;
}

function halfSplitVariant(ckpt: Llama2cCheckpoint, shape: LlamaShape): { shape: LlamaShape; weights: LlamaWeightSource } {
  const inner = llama2cWeights(ckpt);
  return {
    shape: { ...shape, ropeInterleaved: false },
    weights: {
      async read(ref) {
        const w = await inner.read(ref);
        if (ref.kind !== 'linear' || (ref.name !== 'q_proj' && ref.name !== 'k_proj')) return w;
        const heads = ref.name === 'q_proj' ? shape.numHeads : shape.numKvHeads;
        return permuteToHalves(w, heads, shape.headDim, shape.hiddenSize);
      },
    },
  };
}

async function maxDiffAgainstRunC(ckpt: Llama2cCheckpoint, shape: LlamaShape, weights: LlamaWeightSource, tokens: number[], label: string): Promise<number> {
  const dir = await mkdtemp(join(workDir, 'model-'));
  await writeLlamaOnnx(nodeSink(dir), '.', shape, weights, { dtype: 'fp32', producerVersion: 'test' });
  const reference = createRunCReference(ckpt);
  const expected = tokens.map((t, pos) => reference.forward(t, pos));
  let worst = 0;
  for (const chunks of [[tokens.length], tokens.map(() => 1)]) {
    const decoder = await openDecoder(join(dir, 'model.onnx'), shape);
    let start = 0;
    for (const size of chunks) {
      const logits = await decoder.run(tokens.slice(start, start + size));
      for (let r = 0; r < size; r++) {
        for (let i = 0; i < shape.vocabSize; i++) {
          worst = Math.max(worst, Math.abs(expected[start + r]![i]! - logits[r * shape.vocabSize + i]!));
        }
      }
      start += size;
    }
    await decoder.release();
  }
  console.log(`${label}: max |Δlogit| = ${worst.toExponential(2)}`);
  return worst;
}

const random = seededUniform(7);
const tokensBelow = (vocab: number, count: number): number[] => Array.from({ length: count }, () => Math.floor(random() * vocab));

// dim 64, hidden 96, 2 layers, 4 heads of 16 over 2 KV heads, 100 tokens with their own classifier, 40 positions.
const headOf16 = withUnitNorms(readLlama2cCheckpoint(randomCheckpointBytes([64, 96, 2, 4, 2, -100, 40], 42)), 43);

test('heads of 16 (rotary inside GroupQueryAttention), unshared classifier: matches run.c', async () => {
  expect(headOf16.config.sharedClassifier).toBe(false);
  const shape = llama2cShape(headOf16.config);
  const worst = await maxDiffAgainstRunC(headOf16, shape, llama2cWeights(headOf16), tokensBelow(100, 24), 'head 16, interleaved');
  expect(worst).toBeLessThan(LOGIT_TOLERANCE);
});

test('heads of 16 with half-split RoPE and permuted q/k: matches run.c on the unpermuted weights', async () => {
  const { shape, weights } = halfSplitVariant(headOf16, llama2cShape(headOf16.config));
  const worst = await maxDiffAgainstRunC(headOf16, shape, weights, tokensBelow(100, 24), 'head 16, half-split');
  expect(worst).toBeLessThan(LOGIT_TOLERANCE);
});

test('heads of 8 (separate RotaryEmbedding) with half-split RoPE and permuted q/k: matches run.c', async () => {
  const stories = readLlama2cCheckpoint(await readFile(CHECKPOINT_PATH));
  const { shape, weights } = halfSplitVariant(stories, llama2cShape(stories.config));
  const worst = await maxDiffAgainstRunC(stories, shape, weights, tokensBelow(512, 24), 'stories260K, half-split');
  expect(worst).toBeLessThan(LOGIT_TOLERANCE);
});
