// The engine across a node:worker_threads boundary: llama2.c's greedy ids, abort within a token,
// `break`, errors that keep their code, issue 7's generation API, and a crashed worker.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { Ajv } from 'ajv';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { LocalmError, type Engine, type GenerationEvent } from '@localm/core';
import { createWorkerEngine } from '@localm/worker';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const MODEL = `${ROOT}models/stories260k`;
const ENTRY = new URL('./node-worker.mjs', import.meta.url);
// The worker runs the built package as a user's would, without the test runner's `source` condition.
const spawn = (options: { workerData?: unknown } = {}): Worker => new Worker(ENTRY, { ...options, execArgv: [] });
const records = readFileSync(`${ROOT}models/stories260k-source/expected-greedy.jsonl`, 'utf8')
  .trim()
  .split('\n')
  .map((line) => JSON.parse(line) as { prompt: string; prompt_token_ids: number[]; generated_token_ids: number[] });
type Done = Extract<GenerationEvent, { type: 'done' }>;

async function collect(events: AsyncIterable<GenerationEvent>): Promise<{ text: string; done: Done; pieces: number }> {
  let text = '';
  let pieces = 0;
  for await (const e of events) {
    if (e.type === 'text') {
      text += e.text;
      pieces++;
    } else return { text, done: e, pieces };
  }
  throw new Error('no done event');
}

describe.each(['cpu', 'wasm'] as const)('in a worker thread on %s', (device) => {
  let worker: Worker;
  let engine: Engine;
  beforeAll(async () => {
    worker = spawn();
    engine = await createWorkerEngine(worker, MODEL, { device });
  });
  afterAll(async () => {
    await engine.dispose();
    await worker.terminate();
  });

  test('greedy ids equal llama2.c', async () => {
    expect(engine.info.device).toBe(device);
    for (const r of records) {
      const { done } = await collect(engine.generate(r.prompt, { maxTokens: r.generated_token_ids.length }));
      expect(done.promptTokenIds).toEqual(r.prompt_token_ids);
      expect(done.tokenIds).toEqual(r.generated_token_ids);
    }
  });

  test('an abort on the main thread ends the run at once and the next run works', async () => {
    const controller = new AbortController();
    let after = 0;
    let seen = 0;
    const run = async (): Promise<void> => {
      for await (const e of engine.generate(records[0]!.prompt, { maxTokens: 200, signal: controller.signal })) {
        if (controller.signal.aborted) after++;
        if (e.type === 'text' && ++seen === 6) controller.abort();
      }
    };
    await expect(run()).rejects.toMatchObject({ name: 'AbortError' });
    expect(after).toBe(0); // no event is delivered after the abort
    expect(controller.signal.aborted).toBe(true);
    // How far the worker got: the KV cache it kept holds the prompt and every token it fed the model.
    // Prompting with llama2.c's whole continuation reuses exactly that prefix.
    const r = records[0]!;
    const probe = await collect(engine.generate([...r.prompt_token_ids, ...r.generated_token_ids], { maxTokens: 1 }));
    const fed = probe.done.usage.cachedPromptTokens - r.prompt_token_ids.length;
    // The abort came with the 6th token: the worker fed the model within one token of that (the 6th
    // itself is fed only when the 7th is computed).
    expect(fed).toBeGreaterThanOrEqual(6 - 1);
    expect(fed).toBeLessThanOrEqual(6 + 1);
    const { done } = await collect(engine.generate(records[0]!.prompt, { maxTokens: 8 }));
    expect(done.tokenIds).toEqual(records[0]!.generated_token_ids.slice(0, 8));
  });

  test('break cancels the run in the worker', async () => {
    for await (const e of engine.generate(records[1]!.prompt, { maxTokens: 200 })) if (e.type === 'text') break;
    const { done } = await collect(engine.generate(records[1]!.prompt, { maxTokens: 8 }));
    expect(done.tokenIds).toEqual(records[1]!.generated_token_ids.slice(0, 8));
  });

  test('errors keep their code', async () => {
    await expect(collect(engine.generate('x', { maxTokens: -1 }))).rejects.toSatisfy((e) => e instanceof LocalmError && e.code === 'invalid_argument');
    await expect(collect(engine.generate(new Array(600).fill(300)))).rejects.toMatchObject({ code: 'context_full' });
  });

  test('sampling, stop strings, chat KV reuse and JSON output work as in-process', async () => {
    const sampled = await collect(engine.generate(records[0]!.prompt, { maxTokens: 30, temperature: 0.9, topK: 40, seed: 3, stop: ['Lily'] }));
    expect(sampled.text).not.toContain('Lily');
    const turn1 = [{ role: 'user' as const, content: records[0]!.prompt }];
    const first = await collect(engine.chat(turn1, { maxTokens: 20 }));
    const second = await collect(engine.chat([...turn1, { role: 'assistant', content: first.text }, { role: 'user', content: ' Then Tom came.' }], { maxTokens: 20 }));
    expect(second.done.usage.cachedPromptTokens).toBeGreaterThanOrEqual(first.done.usage.promptTokens + first.done.usage.completionTokens - 2);
    const schema = { type: 'object', properties: { name: { type: 'string' }, mood: { enum: ['happy', 'sad'] }, toys: { type: 'array', items: { type: 'string' } } } } as const;
    const validate = new Ajv().compile({ ...schema, required: ['name', 'mood', 'toys'] });
    for (let seed = 0; seed < 10; seed++) {
      const run = await collect(engine.generate('Lily', { maxTokens: 80, temperature: 1, seed, responseFormat: { type: 'json_schema', schema } }));
      expect(validate(JSON.parse(run.text))).toBe(true);
    }
    const completion = await engine.chat.completions.create({ messages: turn1, max_tokens: 5 });
    expect(completion.choices[0]!.finish_reason).toBe('length');
  });
});

test('a missing model folder is not_found across the boundary', async () => {
  const worker = spawn();
  try {
    await expect(createWorkerEngine(worker, `${ROOT}models/no-such-model`)).rejects.toSatisfy((e) => e instanceof LocalmError && e.code === 'not_found');
  } finally {
    await worker.terminate();
  }
});

test('a crashed worker fails the open run with worker_crashed, and a new worker works', async () => {
  const worker = spawn({ workerData: { crashAfterMs: 1500 } });
  const engine = await createWorkerEngine(worker, MODEL, { device: 'wasm' });
  const endless = async (): Promise<void> => {
    for (;;) for await (const e of engine.generate(records[0]!.prompt, { maxTokens: 400 })) void e;
  };
  await expect(endless()).rejects.toMatchObject({ code: 'worker_crashed' });
  expect(() => engine.generate('x')).toThrow(expect.objectContaining({ code: 'worker_crashed' }));
  await engine.dispose();
  const fresh = spawn();
  try {
    const again = await createWorkerEngine(fresh, MODEL, { device: 'cpu' });
    const { done } = await collect(again.generate(records[0]!.prompt, { maxTokens: 4 }));
    expect(done.tokenIds).toEqual(records[0]!.generated_token_ids.slice(0, 4));
    await again.dispose();
  } finally {
    await fresh.terminate();
  }
});
