// The engine API on the bundled stories260K model: llama2.c's greedy ids through generate(), KV-cache
// reuse, abort, break, queueing, dispose and the typed errors.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { LocalmError, loadModel, type GenerationEvent, type Model } from '@localm/core';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const MODEL = `${ROOT}models/stories260k`;
const records = readFileSync(`${ROOT}models/stories260k-source/expected-greedy.jsonl`, 'utf8')
  .trim()
  .split('\n')
  .map((line) => JSON.parse(line) as { prompt: string; prompt_token_ids: number[]; generated_token_ids: number[] });
const once = records[0]!;

async function collect(events: AsyncIterable<GenerationEvent>): Promise<{ text: string; done: Extract<GenerationEvent, { type: 'done' }> }> {
  let text = '';
  for await (const e of events) {
    if (e.type === 'text') text += e.text;
    else return { text, done: e };
  }
  throw new Error('no done event');
}

describe.each([
  { device: 'cpu', engine: 'onnxruntime-node' },
  { device: 'wasm', engine: 'localm-wasm' },
  { device: 'wasm', engine: 'onnxruntime-web' },
] as const)('on $device with $engine', ({ device, engine }) => {
  let model: Model;
  beforeAll(async () => {
    model = await loadModel(MODEL, { device, wasmEngine: engine === 'onnxruntime-web' ? 'onnxruntime' : 'auto' });
  });
  afterAll(() => model.dispose());

  test('reports the device and engine it runs on', () => {
    expect(model.info.device).toBe(device);
    expect(model.info.engine).toBe(engine);
    expect(model.info.contextLength).toBe(512);
    expect(model.info.eosTokenIds).toEqual([2, 1]);
  });

  test('greedy ids equal llama2.c, and the text pieces equal the decoded ids', async () => {
    const { text, done } = await collect(model.generate(once.prompt, { maxTokens: once.generated_token_ids.length }));
    expect(done.promptTokenIds).toEqual(once.prompt_token_ids);
    expect(done.tokenIds).toEqual(once.generated_token_ids);
    const all = model.tokenizer.decode([...done.promptTokenIds, ...done.tokenIds]);
    expect(text).toBe(all.slice(model.tokenizer.decode(done.promptTokenIds).length));
  });

  test('a second turn recomputes only new tokens and equals a fresh run', async () => {
    const first = await collect(model.generate(once.prompt, { maxTokens: 20 }));
    const history = [...first.done.promptTokenIds, ...first.done.tokenIds];
    const turn = [...history, ...model.tokenizer.encode(' The end.', { addSpecialTokens: false })];
    const second = await collect(model.generate(turn, { maxTokens: 20 }));
    // Every token of the first turn but the last sampled one (never fed back) is in the cache.
    expect(second.done.usage.cachedPromptTokens).toBe(history.length - 1);
    const fresh = await loadModel(MODEL, { device });
    try {
      const reference = await collect(fresh.generate(turn, { maxTokens: 20 }));
      expect(reference.done.usage.cachedPromptTokens).toBe(0);
      expect(second.done.tokenIds).toEqual(reference.done.tokenIds);
    } finally {
      await fresh.dispose();
    }
  });

  test('break stops the run and the next generate works', async () => {
    let pieces = 0;
    for await (const e of model.generate(once.prompt, { maxTokens: 50 })) if (e.type === 'text' && ++pieces === 3) break;
    const { done } = await collect(model.generate(once.prompt, { maxTokens: 10 }));
    expect(done.tokenIds).toEqual(once.generated_token_ids.slice(0, 10));
  });

  test('an AbortSignal rethrows its reason and the next generate works', async () => {
    const controller = new AbortController();
    let pieces = 0;
    const run = async (): Promise<void> => {
      for await (const e of model.generate(once.prompt, { maxTokens: 50, signal: controller.signal })) {
        if (e.type === 'text' && ++pieces === 2) controller.abort();
      }
    };
    await expect(run()).rejects.toMatchObject({ name: 'AbortError' });
    expect(pieces).toBe(2);
    const { done } = await collect(model.generate(once.prompt, { maxTokens: 10 }));
    expect(done.tokenIds).toEqual(once.generated_token_ids.slice(0, 10));
  });

  test('concurrent generations are queued, not interleaved', async () => {
    const [a, b] = await Promise.all(records.slice(0, 2).map((r) => collect(model.generate(r.prompt, { maxTokens: r.generated_token_ids.length }))));
    expect(a!.done.tokenIds).toEqual(records[0]!.generated_token_ids);
    expect(b!.done.tokenIds).toEqual(records[1]!.generated_token_ids);
  });

  test('bad options and a prompt longer than the context are refused with codes', async () => {
    await expect(collect(model.generate('x', { maxTokens: -1 }))).rejects.toMatchObject({ code: 'invalid_argument' });
    await expect(collect(model.generate(new Array(600).fill(300)))).rejects.toMatchObject({ code: 'context_full' });
    await expect(collect(model.generate([1, 99999]))).rejects.toMatchObject({ code: 'invalid_argument' });
  });
});

test('auto picks native cpu in Node and says why it skipped webgpu', async () => {
  const model = await loadModel(MODEL);
  try {
    expect(model.info.device).toBe('cpu');
    expect(model.info.skippedDevices.map((s) => s.device)).toContain('webgpu');
  } finally {
    await model.dispose();
  }
});

test('after dispose every call throws disposed', async () => {
  const model = await loadModel(MODEL, { device: 'wasm' });
  await model.dispose();
  expect(() => model.generate('x')).toThrow(LocalmError);
  expect(() => model.generate('x')).toThrow(expect.objectContaining({ code: 'disposed' }));
});

test('missing folder and missing config.json are not_found', async () => {
  await expect(loadModel(`${ROOT}models/no-such-model`)).rejects.toMatchObject({ code: 'not_found' });
  await expect(loadModel(`${ROOT}models/stories260k-source`)).rejects.toMatchObject({ code: 'not_found' });
});
