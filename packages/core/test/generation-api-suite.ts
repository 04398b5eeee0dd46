// Issue 7's generation API on the bundled stories260K model, for any Engine (in process, or across a
// worker): seeded sampling across devices, stop strings across tokens, chat with KV reuse,
// JSON-schema output checked by ajv, the OpenAI shapes.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Engine, GenerationEvent, JsonSchema } from '@localm/core';
import { loadTokenizer, type Tokenizer } from '@localm/tokenizer';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const MODEL = `${ROOT}models/stories260k`;
const record = JSON.parse(readFileSync(`${ROOT}models/stories260k-source/expected-greedy.jsonl`, 'utf8').split('\n')[0]!) as {
  prompt: string;
  prompt_token_ids: number[];
  generated_token_ids: number[];
};
type Done = Extract<GenerationEvent, { type: 'done' }>;

async function collect(events: AsyncIterable<GenerationEvent>): Promise<{ text: string; done: Done }> {
  let text = '';
  for await (const e of events) {
    if (e.type === 'text') text += e.text;
    else return { text, done: e };
  }
  throw new Error('no done event');
}

const tokenizer: Tokenizer = loadTokenizer({
  tokenizerJson: JSON.parse(readFileSync(`${MODEL}/tokenizer.json`, 'utf8')),
  tokenizerConfigJson: JSON.parse(readFileSync(`${MODEL}/tokenizer_config.json`, 'utf8')),
});

/** Opens an engine on a device; `close` releases it (and its worker). */
export type OpenEngine = (device: 'cpu' | 'wasm') => Promise<{ engine: Engine; close(): Promise<void> }>;

export function generationApiSuite(open: OpenEngine): void {
let cpu: Engine;
let wasm: Engine;
const opened: { close(): Promise<void> }[] = [];
const fresh = async (): Promise<Engine> => {
  const handle = await open('cpu');
  opened.push(handle);
  return handle.engine;
};
beforeAll(async () => {
  const [a, b] = await Promise.all([open('cpu'), open('wasm')]);
  opened.push(a, b);
  [cpu, wasm] = [a.engine, b.engine];
});
afterAll(async () => {
  await Promise.all(opened.map((h) => h.close()));
});

test('the same seed samples the same ids on cpu and wasm', async () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    const options = { maxTokens: 40, temperature: 0.9, topK: 40, topP: 0.95, minP: 0.02, repetitionPenalty: 1.1, seed };
    const [a, b] = [await collect(cpu.generate(record.prompt, options)), await collect(wasm.generate(record.prompt, options))];
    expect(a.done.tokenIds).toEqual(b.done.tokenIds);
    expect(a.done.tokenIds).not.toEqual(record.generated_token_ids.slice(0, 40)); // it did sample
  }
});

describe('stop strings', () => {
  // llama2.c's greedy continuation, decoded, and where each generated token starts in it.
  const reference = (): { text: string; starts: number[] } => {
    const prompt = tokenizer.decode(record.prompt_token_ids);
    const starts = record.generated_token_ids.map((_, i) => tokenizer.decode([...record.prompt_token_ids, ...record.generated_token_ids.slice(0, i)]).length - prompt.length);
    return { text: tokenizer.decode([...record.prompt_token_ids, ...record.generated_token_ids]).slice(prompt.length), starts };
  };

  test.each([2, 3])('a stop string spanning %i tokens ends the text right before it', async (span) => {
    const { text, starts } = reference();
    // From inside token k to inside token k + span - 1: the first such string that occurs only there.
    const cut = (k: number): [number, string] => [starts[k]! + 1, text.slice(starts[k]! + 1, starts[k + span - 1]! + 1)];
    let k = 10;
    while (text.indexOf(cut(k)[1]) !== cut(k)[0] || starts[k + 1]! - starts[k]! < 2 || starts[k + span]! - starts[k + span - 1]! < 2) k++;
    const [from, stop] = cut(k);
    const run = await collect(cpu.generate(record.prompt, { maxTokens: 60, stop: [stop] }));
    expect(run.done.stopReason).toBe('stop');
    expect(run.text).toBe(text.slice(0, from));
  });
});

test('logit bias bans a token', async () => {
  const first = record.generated_token_ids[0]!;
  const run = await collect(cpu.generate(record.prompt, { maxTokens: 3, logitBias: { [first]: -Infinity } }));
  expect(run.done.tokenIds[0]).not.toBe(first);
});

describe('chat', () => {
  test('the second turn computes only the new tokens and equals a fresh run', async () => {
    const turn1 = [{ role: 'user' as const, content: record.prompt }];
    const first = await collect(cpu.chat(turn1, { maxTokens: 30 }));
    const turn2 = [...turn1, { role: 'assistant' as const, content: first.text }, { role: 'user' as const, content: ' Then Tom came.' }];
    const second = await collect(cpu.chat(turn2, { maxTokens: 30 }));
    const u = second.done.usage;
    const history = first.done.usage.promptTokens + first.done.usage.completionTokens;
    // Re-tokenizing the rendered text may merge across the turn boundary: at most one token differs.
    expect(u.cachedPromptTokens).toBeGreaterThanOrEqual(history - 2);
    // What the backend was fed: the uncached prompt tokens, then each generated token but the last.
    expect(u.computedTokens).toBe(u.promptTokens - u.cachedPromptTokens + u.completionTokens - 1);
    const reference = await collect((await fresh()).chat(turn2, { maxTokens: 30 }));
    expect(reference.done.usage.cachedPromptTokens).toBe(0);
    expect(second.done.tokenIds).toEqual(reference.done.tokenIds);
  });

  test('a conversation longer than the context fails with context_full, or drops the oldest turns', async () => {
    const long = Array.from({ length: 40 }, (_, i) => ({ role: (i % 2 ? 'assistant' : 'user') as 'user' | 'assistant', content: 'Lily and Tom played in the park all day long.' }));
    const messages = [{ role: 'system' as const, content: 'Once upon a time' }, ...long, { role: 'user' as const, content: 'The end' }];
    await expect(collect(cpu.chat(messages, { maxTokens: 8 }))).rejects.toMatchObject({ code: 'context_full' });
    const run = await collect(cpu.chat(messages, { maxTokens: 8, contextOverflow: 'dropOldest' }));
    const prompt = tokenizer.decode(run.done.promptTokenIds, { skipSpecialTokens: true });
    expect(prompt.startsWith('Once upon a time')).toBe(true);
    expect(prompt.endsWith('The end')).toBe(true);
    expect(run.done.usage.promptTokens).toBeLessThan(512 - 8);
  });
});

test('chat.completions.create returns the OpenAI shapes, streamed and not', async () => {
  const request = { messages: [{ role: 'user' as const, content: record.prompt }], max_tokens: 12, temperature: 0.8, seed: 9 };
  const completion = await cpu.chat.completions.create(request);
  expect(completion).toMatchObject({ object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant' }, finish_reason: 'length' }] });
  expect(completion.usage).toEqual({ prompt_tokens: 5, completion_tokens: 12, total_tokens: 17 });
  const chunks = [];
  for await (const chunk of await cpu.chat.completions.create({ ...request, stream: true })) chunks.push(chunk);
  expect(chunks[0]!.choices[0]!.delta.role).toBe('assistant');
  expect(chunks.every((c) => c.object === 'chat.completion.chunk' && c.id === chunks[0]!.id)).toBe(true);
  expect(chunks.map((c) => c.choices[0]!.delta.content ?? '').join('')).toBe(completion.choices[0]!.message.content);
  expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe('length');
});

describe('JSON schema output', () => {
  const schema = {
    type: 'object',
    properties: {
      name: { type: 'string', maxLength: 12 },
      age: { type: 'integer' },
      mood: { enum: ['happy', 'sad', 'scared'] },
      friends: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' }, best: { type: 'boolean' } }, required: ['name', 'best'] }, maxItems: 3 },
      home: { type: 'object', properties: { town: { type: 'string' }, rooms: { type: 'number' } }, required: ['town', 'rooms'] },
    },
    required: ['name', 'age', 'mood', 'friends', 'home'],
  } satisfies JsonSchema & Record<string, unknown>;

  test('100 seeded runs all parse and validate; the mask costs little next to decoding', async () => {
    const validate = new Ajv().compile(schema);
    let constraintMs = 0;
    let decodeMs = 0;
    const stops = new Map<string, number>();
    for (let seed = 0; seed < 100; seed++) {
      const run = await collect(cpu.generate('Lily', { maxTokens: 120, temperature: 1, seed, responseFormat: { type: 'json_schema', schema } }));
      const parsed: unknown = JSON.parse(run.text);
      expect(validate(parsed), `seed ${seed}: ${run.text}`).toBe(true);
      constraintMs += run.done.timings.constraintMs;
      decodeMs += run.done.timings.decodeMs;
      stops.set(run.done.stopReason, (stops.get(run.done.stopReason) ?? 0) + 1);
    }
    console.log(`JSON schema: 100/100 valid; stop reasons ${JSON.stringify(Object.fromEntries(stops))}; mask ${constraintMs.toFixed(0)} ms of ${decodeMs.toFixed(0)} ms decoding (${((100 * constraintMs) / decodeMs).toFixed(1)}%)`);
  });
});
}
