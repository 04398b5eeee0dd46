// Peer: llama.cpp through node-llama-cpp's prebuilt CPU binary, on the GGUF that `convert synth --gguf`
// wrote from the same weights. Defaults otherwise (F16 KV cache, flash attention 'auto'), as a user gets them.

import type { Token } from 'node-llama-cpp';
import type { RawRun, RunRequest } from './runtime.js';

export async function runLlamaCpp(request: RunRequest): Promise<RawRun> {
  if (!request.ggufPath) throw new Error('llama.cpp needs --gguf FILE (write it with `localm convert synth ... --gguf FILE`)');
  const { getLlama, LlamaLogLevel, TokenBias } = await import('node-llama-cpp');
  const loadStart = performance.now();
  const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error, maxThreads: request.threads });
  const model = await llama.loadModel({ modelPath: request.ggufPath, gpuLayers: 0 });
  const context = await model.createContext({ contextSize: request.prompt.length + request.genTokens + 16, threads: request.threads });
  const loadMs = performance.now() - loadStart;

  const sequence = context.getSequence();
  const tokenIds: number[] = [];
  const tokenTimesMs: number[] = [];
  const tokenBias = new TokenBias(model.tokenizer);
  for (const id of request.specialIds) tokenBias.set(id as Token, 'never');
  const start = performance.now();
  for await (const token of sequence.evaluate(request.prompt as Token[], { temperature: 0, tokenBias })) {
    tokenTimesMs.push(performance.now() - start);
    tokenIds.push(token);
    if (tokenIds.length >= request.genTokens) break;
  }
  await context.dispose();
  await model.dispose();
  await llama.dispose();
  return { loadMs, tokenIds, tokenTimesMs, notes: [`node-llama-cpp (llama.cpp ${llama.llamaCppRelease.release}), CPU, ${request.threads} threads`] };
}
