// Test helpers: onnxruntime-node as the independent reference, model folders read from disk, and a
// seeded model written by packages/convert's graph writer for shapes stories260K does not cover.

import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { LlamaShape } from '../../convert/src/llama-shape.js';
import { writeLlamaOnnx } from '../../convert/src/llama-graph.js';
import { nodeSink } from '../../convert/src/node-sink.js';
import type { WasmModelFiles } from '../src/index.js';

export const ROOT = new URL('../../../', import.meta.url).pathname;

export function readFolder(dir: string): WasmModelFiles {
  return {
    graph: readFileSync(join(dir, 'onnx/model.onnx')),
    externalData: [{ path: 'model.onnx_data', data: readFileSync(join(dir, 'onnx/model.onnx_data')) }],
  };
}

/** Logits [ids.length, vocab] from onnxruntime-node (cpu), the whole sequence in one run with an empty past. */
export async function ortLogits(dir: string, ids: readonly number[]): Promise<Float32Array[]> {
  const session = await ort.InferenceSession.create(join(dir, 'onnx/model.onnx'), { intraOpNumThreads: 1 });
  try {
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [1, ids.length]),
      attention_mask: new ort.Tensor('int64', new BigInt64Array(ids.length).fill(1n), [1, ids.length]),
    };
    for (const name of session.inputNames) {
      if (!name.startsWith('past_key_values.')) continue;
      const meta = session.inputMetadata.find((m) => m.name === name)!;
      const shape = meta.isTensor ? meta.shape : [];
      feeds[name] = new ort.Tensor('float32', new Float32Array(0), [1, shape[1] as number, 0, shape[3] as number]);
    }
    const out = await session.run(feeds, ['logits']);
    const data = out['logits']!.data as Float32Array;
    const vocab = data.length / ids.length;
    return ids.map((_, t) => data.slice(t * vocab, (t + 1) * vocab));
  } finally {
    await session.release();
  }
}

export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs((a[i] as number) - (b[i] as number)));
  return worst;
}

/** Writes a seeded random Llama model folder's onnx/ files under `dir` (no tokenizer: tests feed ids). */
export async function writeSeededModel(dir: string, shape: LlamaShape, dtype: 'fp32' | 'q4', seed: number, options: { isEmbeddingQuantized?: boolean; sameEmbeddingAndHead?: boolean } = {}): Promise<string> {
  mkdirSync(join(dir, 'onnx'), { recursive: true });
  let state = seed >>> 0;
  const rand = (): number => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
  const { sameEmbeddingAndHead, ...writeOptions } = options;
  let table: Float32Array | undefined; // tied weights: the head is the embedding's values again
  await writeLlamaOnnx(nodeSink(dir), 'onnx', shape, {
    read(ref) {
      if (sameEmbeddingAndHead && (ref.kind === 'embed_tokens' || ref.kind === 'lm_head') && table) return table;
      // 'bias' (q/k/v biases) exists only in convert versions whose LlamaShape has attentionBias.
      const bias = ref as { kind: string; name?: string };
      const size =
        ref.kind === 'embed_tokens' || ref.kind === 'lm_head' ? shape.vocabSize * shape.hiddenSize
        : ref.kind === 'linear' ? linearSize(shape, ref.name)
        : bias.kind === 'bias' ? linearSize(shape, bias.name!) / shape.hiddenSize
        : shape.hiddenSize;
      const norm = ref.kind !== 'linear' && ref.kind !== 'embed_tokens' && ref.kind !== 'lm_head';
      const values = Float32Array.from({ length: size }, () => (norm ? 0.8 + 0.4 * rand() : (rand() * 2 - 1) * 0.2));
      if (ref.kind === 'embed_tokens' || ref.kind === 'lm_head') table = values;
      return values;
    },
  }, { dtype, producerVersion: 'test', ...writeOptions });
  return dir;
}

function linearSize(s: LlamaShape, name: string): number {
  const q = s.numHeads * s.headDim;
  const kv = s.numKvHeads * s.headDim;
  const sizes: Record<string, number> = {
    q_proj: q * s.hiddenSize, k_proj: kv * s.hiddenSize, v_proj: kv * s.hiddenSize, o_proj: s.hiddenSize * q,
    gate_proj: s.intermediateSize * s.hiddenSize, up_proj: s.intermediateSize * s.hiddenSize, down_proj: s.hiddenSize * s.intermediateSize,
  };
  return sizes[name]!;
}
