// localm itself, through its public API only: loadModel, generate with token ids, the done event's timings.

import { loadModel, type LoadModelOptions } from '@localm/core';
import { tokenTimes } from '../token-times.js';
import type { RawRun, RunRequest, Runtime } from './runtime.js';

export const runLocalm: Runtime = (request) => run(request, { device: request.device });
/** Our native device beside our wasm one: the ratio issue #6 asks for, in the same bench run. */
export const runLocalmCpu: Runtime = (request) => run(request, { device: 'cpu' });
/** onnxruntime-web's own WASM kernels on the same folder, through localm's loop (wasmEngine: 'onnxruntime'). */
export const runOrtWeb: Runtime = (request) => run(request, { device: 'wasm', wasmEngine: 'onnxruntime' });

async function run(request: RunRequest, options: LoadModelOptions): Promise<RawRun> {
  const loadStart = performance.now();
  const model = await loadModel(request.modelDir, { ...options, numThreads: request.threads });
  const loadMs = performance.now() - loadStart;
  const logitBias = Object.fromEntries(request.specialIds.map((id) => [id, -Infinity]));
  const events: { atMs: number; tokenId: number }[] = [];
  let done: { tokenIds: number[]; prefillMs: number; decodeMs: number; cached: number } | undefined;
  const start = performance.now();
  for await (const e of model.generate(request.prompt, { maxTokens: request.genTokens, logitBias })) {
    if (e.type === 'text') events.push({ atMs: performance.now() - start, tokenId: e.tokenId });
    else done = { tokenIds: e.tokenIds, prefillMs: e.timings.prefillMs, decodeMs: e.timings.decodeMs, cached: e.usage.cachedPromptTokens };
  }
  const { device, engine } = model.info;
  await model.dispose();
  if (!done) throw new Error('generate() ended without a done event');
  if (done.cached !== 0) throw new Error(`${done.cached} prompt tokens came from the KV cache; the bench needs a cold prompt`);
  return { loadMs, tokenIds: done.tokenIds, tokenTimesMs: tokenTimes(events, done), notes: [`device ${device}, engine ${engine}`] };
}
