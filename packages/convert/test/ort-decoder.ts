// Test harness: drives a converted genai-layout decoder in onnxruntime-node, carrying the KV cache
// from `present.*` back into `past_key_values.*`. Batch 1 only.

import * as ort from 'onnxruntime-node';

export interface DecoderDims {
  numLayers: number;
  numKvHeads: number;
  headDim: number;
  vocabSize: number;
}

export interface TestDecoder {
  /** Feeds `ids` after everything fed so far; returns their logits, `ids.length` rows of `vocabSize`. */
  run(ids: readonly number[]): Promise<Float32Array>;
  release(): Promise<void>;
}

export async function openDecoder(modelPath: string, dims: DecoderDims): Promise<TestDecoder> {
  const session = await ort.InferenceSession.create(modelPath, { intraOpNumThreads: 2 });
  const { numLayers, numKvHeads, headDim } = dims;
  const empty = (): ort.Tensor => new ort.Tensor('float32', new Float32Array(0), [1, numKvHeads, 0, headDim]);
  let past: Record<string, ort.Tensor> = {};
  for (let l = 0; l < numLayers; l++) {
    past[`past_key_values.${l}.key`] = empty();
    past[`past_key_values.${l}.value`] = empty();
  }
  let seen = 0;
  return {
    async run(ids) {
      const total = seen + ids.length;
      const feeds: Record<string, ort.Tensor> = {
        input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [1, ids.length]),
        attention_mask: new ort.Tensor('int64', new BigInt64Array(total).fill(1n), [1, total]),
        ...past,
      };
      const out = await session.run(feeds);
      const next: Record<string, ort.Tensor> = {};
      for (let l = 0; l < numLayers; l++) {
        next[`past_key_values.${l}.key`] = out[`present.${l}.key`]!;
        next[`past_key_values.${l}.value`] = out[`present.${l}.value`]!;
      }
      past = next;
      seen = total;
      const logits = out['logits']!;
      if (logits.dims.join() !== [1, ids.length, dims.vocabSize].join()) throw new Error(`logits dims ${logits.dims.join()}`);
      return logits.data as Float32Array;
    },
    async release() {
      await session.release();
    },
  };
}

export function argmax(values: ArrayLike<number>, start = 0, length = values.length - start): number {
  let best = 0;
  for (let i = 1; i < length; i++) if (values[start + i]! > values[start + best]!) best = i;
  return best;
}

/**
 * llama2.c run.c's loop at temperature 0: the prompt (fed at once), then the argmax, fed back until
 * `steps` positions have run; stops early, without keeping it, when the argmax is BOS (1) as run.c does.
 */
export async function greedyLikeRunC(
  decoder: TestDecoder,
  promptIds: readonly number[],
  steps: number,
  vocabSize: number,
): Promise<{ generated: number[]; stoppedAtBos: boolean }> {
  let logits = await decoder.run(promptIds);
  let pos = promptIds.length;
  const generated: number[] = [];
  for (;;) {
    const next = argmax(logits, logits.length - vocabSize, vocabSize);
    if (next === 1) return { generated, stoppedAtBos: true };
    generated.push(next);
    if (pos >= steps) return { generated, stoppedAtBos: false };
    logits = await decoder.run([next]);
    pos++;
  }
}
