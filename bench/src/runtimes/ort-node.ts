// Peer: onnxruntime-node driven directly on the same model.onnx, the thinnest possible loop (feeds,
// run, argmax, present → past): the floor for anything built on ONNX Runtime natively.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { argmaxExcept, type RawRun, type RunRequest } from './runtime.js';

export async function runOrtNode(request: RunRequest): Promise<RawRun> {
  const config = JSON.parse(readFileSync(join(request.modelDir, 'config.json'), 'utf8')) as Record<string, number>;
  const layers = config['num_hidden_layers']!;
  const kvHeads = config['num_key_value_heads']!;
  const headDim = config['head_dim']!;
  const vocab = config['vocab_size']!;
  const loadStart = performance.now();
  const session = await ort.InferenceSession.create(join(request.modelDir, 'onnx', 'model.onnx'), {
    intraOpNumThreads: request.threads,
    interOpNumThreads: 1,
  });
  const loadMs = performance.now() - loadStart;

  let past: Record<string, ort.Tensor> = {};
  for (let l = 0; l < layers; l++) {
    for (const kv of ['key', 'value']) past[`past_key_values.${l}.${kv}`] = new ort.Tensor('float32', new Float32Array(0), [1, kvHeads, 0, headDim]);
  }
  let seen = 0;
  const step = async (ids: number[]): Promise<number> => {
    seen += ids.length;
    const out = await session.run({
      input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [1, ids.length]),
      attention_mask: new ort.Tensor('int64', new BigInt64Array(seen).fill(1n), [1, seen]),
      ...past,
    });
    const next: Record<string, ort.Tensor> = {};
    for (let l = 0; l < layers; l++) {
      for (const kv of ['key', 'value']) next[`past_key_values.${l}.${kv}`] = out[`present.${l}.${kv}`]!;
    }
    for (const t of Object.values(past)) t.dispose();
    past = next;
    const logits = out['logits']!;
    const id = argmaxExcept(logits.data as Float32Array, (ids.length - 1) * vocab, vocab, request.specialIds);
    logits.dispose();
    return id;
  };

  const start = performance.now();
  const tokenIds: number[] = [];
  const tokenTimesMs: number[] = [];
  let next = await step(request.prompt);
  for (;;) {
    tokenIds.push(next);
    tokenTimesMs.push(performance.now() - start);
    if (tokenIds.length >= request.genTokens) break;
    next = await step([next]);
  }
  await session.release();
  return { loadMs, tokenIds, tokenTimesMs, notes: [`onnxruntime-node ${ort.env.versions.common}, intraOpNumThreads ${request.threads}`] };
}
