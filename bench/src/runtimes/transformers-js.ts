// Peer: transformers.js in Node (onnxruntime-node underneath) on the same model folder, loaded from a
// local path with remote models off; greedy generate() with a streamer to time each token.

import { basename, dirname } from 'node:path';
import type { RawRun, RunRequest } from './runtime.js';

export async function runTransformersJs(request: RunRequest): Promise<RawRun> {
  const { AutoModelForCausalLM, BaseStreamer, Tensor, env } = await import('@huggingface/transformers');
  env.allowRemoteModels = false;
  env.localModelPath = `${dirname(request.modelDir)}/`;
  const loadStart = performance.now();
  const model = await AutoModelForCausalLM.from_pretrained(basename(request.modelDir), {
    dtype: 'fp32', // picks onnx/model.onnx; the weights inside are whatever the folder holds
    device: 'cpu',
    session_options: { intraOpNumThreads: request.threads, interOpNumThreads: 1 },
  });
  const loadMs = performance.now() - loadStart;

  const tokenTimesMs: number[] = [];
  let puts = 0;
  let start = 0;
  class TokenTimer extends BaseStreamer {
    override put(): void {
      // generate() puts the prompt first, then each new token.
      if (puts++ > 0) tokenTimesMs.push(performance.now() - start);
    }
    override end(): void {}
  }
  const n = request.prompt.length;
  start = performance.now();
  const output = (await model.generate({
    input_ids: new Tensor('int64', BigInt64Array.from(request.prompt, BigInt), [1, n]),
    attention_mask: new Tensor('int64', new BigInt64Array(n).fill(1n), [1, n]),
    max_new_tokens: request.genTokens,
    min_new_tokens: request.genTokens, // EOS cannot end the run early
    do_sample: false,
    streamer: new TokenTimer(),
  } as unknown as Parameters<typeof model.generate>[0])) as unknown as { tolist(): bigint[][] };
  const tokenIds = output.tolist()[0]!.slice(n).map(Number);
  await model.dispose();
  return { loadMs, tokenIds, tokenTimesMs, notes: [`transformers.js ${env.version}, device cpu (onnxruntime-node)`] };
}
