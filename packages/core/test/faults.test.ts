// Abort and dispose() at every stage of a model's life, on the bundled stories260K: while its session is
// being created, during prefill, during decode, and with runs queued. Each case checks what the caller
// gets (the signal's reason, or 'disposed'), that nothing stays open (onnxruntime sessions and localm
// WASM kernel instances are counted where they are opened and released; the process's OS threads are
// counted by the kernel, /proc/self/task), and that the engine, or a fresh load, still gives llama2.c's
// greedy ids.

import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { openRuntimeCount } from '@localm/backend';
import { loadModel, type GenerationEvent, type LoadModelOptions, type Model } from '@localm/core';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const MODEL = `${ROOT}models/stories260k`;
const records = readFileSync(`${ROOT}models/stories260k-source/expected-greedy.jsonl`, 'utf8')
  .trim()
  .split('\n')
  .map((line) => JSON.parse(line) as { prompt: string; prompt_token_ids: number[]; generated_token_ids: number[] });
const once = records[0]!;
// A 377-token prompt (3 prefill chunks) of llama2.c's own text: its records' prompts and continuations.
const LONG_PROMPT = records
  .flatMap((r) => [...r.prompt_token_ids.slice(1), ...r.generated_token_ids])
  .concat(records.flatMap((r) => r.generated_token_ids))
  .slice(0, 449);
LONG_PROMPT.unshift(1);

const osThreads = (): number => readdirSync('/proc/self/task').length;

async function collect(events: AsyncIterable<GenerationEvent>): Promise<Extract<GenerationEvent, { type: 'done' }>> {
  for await (const e of events) if (e.type === 'done') return e;
  throw new Error('no done event');
}

/** The model folder as picked File objects; reading `onnx/model.onnx_data` calls `onRead` first. */
function pickedFolder(onRead: () => void): File[] {
  const names = ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'onnx/model.onnx', 'onnx/model.onnx_data'];
  return names.map((name) => {
    const file = new File([readFileSync(`${MODEL}/${name}`)], name);
    if (name !== 'onnx/model.onnx_data') return file;
    // The external data is read inside session creation (the runtimes need its bytes when there is no path):
    // whole (onnxruntime) or in byte ranges (localm's kernels read a tensor at a time through slice()).
    let sliced = false;
    return Object.assign(file, {
      arrayBuffer: async () => {
        onRead();
        return File.prototype.arrayBuffer.call(file);
      },
      slice: (...args: Parameters<File['slice']>) => {
        if (!sliced) onRead();
        sliced = true;
        return File.prototype.slice.apply(file, args);
      },
    });
  });
}

const DEVICES = [
  { device: 'cpu', engine: 'onnxruntime-node', options: { device: 'cpu' } },
  { device: 'wasm', engine: 'localm-wasm', options: { device: 'wasm', wasmEngine: 'localm' } },
  { device: 'wasm', engine: 'onnxruntime-web', options: { device: 'wasm', wasmEngine: 'onnxruntime' } },
] as const satisfies readonly { device: string; engine: string; options: LoadModelOptions }[];

describe.each(DEVICES)('on $device with $engine', ({ engine, options }) => {
  let reference: Model; // loaded once, never faulted: the fresh engine the others are compared with
  let baselineThreads: number;
  beforeAll(async () => {
    reference = await loadModel(MODEL, options);
    expect(reference.info.engine).toBe(engine);
    // A warm-up load and dispose: runtimes keep their module-wide thread pools after the first session.
    await (await loadModel(MODEL, options)).dispose();
    baselineThreads = osThreads();
  });
  afterAll(() => reference.dispose());

  /** Nothing beyond the reference model is open: one runtime instance, and no extra OS thread. */
  function expectNothingLeft(): void {
    expect(openRuntimeCount()).toBe(1);
    expect(osThreads()).toBeLessThanOrEqual(baselineThreads);
  }

  test('abort while the session is created: the reason is rethrown, the session released, a later load works', async () => {
    const controller = new AbortController();
    const reason = new DOMException('stop loading', 'AbortError');
    let reads = 0;
    // Aborts right as session creation starts reading the weights: the session is created, then released.
    const load = loadModel(pickedFolder(() => (reads++, controller.abort(reason))), { ...options, signal: controller.signal });
    await expect(load).rejects.toBe(reason);
    expect(reads).toBe(1);
    expectNothingLeft();
    const model = await loadModel(pickedFolder(() => undefined), options);
    try {
      expect((await collect(model.generate(once.prompt, { maxTokens: once.generated_token_ids.length }))).tokenIds).toEqual(once.generated_token_ids);
    } finally {
      await model.dispose();
    }
    expectNothingLeft();
  });

  test('abort at timed points across the whole load: either loaded or the reason, never a leak', async () => {
    const outcomes: string[] = [];
    for (const delayMs of [0, 1, 2, 4, 8, 16, 32, 64, 128]) {
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), delayMs);
      try {
        const model = await loadModel(MODEL, { ...options, signal: controller.signal });
        outcomes.push('loaded');
        await model.dispose();
      } catch (err) {
        expect(err).toMatchObject({ name: 'AbortError' });
        outcomes.push('aborted');
      } finally {
        clearTimeout(timer);
      }
      expectNothingLeft();
    }
    console.log(`${engine}: load aborted at 0..128 ms: ${outcomes.join(' ')}`);
    expect(outcomes[0]).toBe('aborted');
  });

  test('abort during prefill: the reason is rethrown, the next run equals a fresh engine', async () => {
    const model = await loadModel(MODEL, options);
    try {
      const want = await collect(reference.generate(LONG_PROMPT, { maxTokens: 24 }));
      const controller = new AbortController();
      const reason = new DOMException('stop prefill', 'AbortError');
      const run = model.generate(LONG_PROMPT, { maxTokens: 24, signal: controller.signal })[Symbol.asyncIterator]();
      const first = run.next();
      setImmediate(() => controller.abort(reason)); // once the first prefill chunk is running
      await expect(first).rejects.toBe(reason);
      const next = await collect(model.generate(LONG_PROMPT, { maxTokens: 24 }));
      console.log(`${engine}: after an abort in prefill, ${next.usage.cachedPromptTokens} of ${LONG_PROMPT.length} prompt tokens were cached`);
      // The abort lands at the first check, after one chunk (PREFILL_CHUNK_TOKENS): the rest was never computed.
      expect(next.usage.cachedPromptTokens).toBe(128);
      expect(next.tokenIds).toEqual(want.tokenIds);
    } finally {
      await model.dispose();
    }
    expectNothingLeft();
  });

  test('dispose() during prefill ends the run with disposed and releases the session', async () => {
    const model = await loadModel(MODEL, options);
    const run = model.generate(LONG_PROMPT, { maxTokens: 24 })[Symbol.asyncIterator]();
    const first = run.next();
    const disposed = new Promise<void>((resolve, reject) => setImmediate(() => model.dispose().then(resolve, reject)));
    await expect(first).rejects.toMatchObject({ code: 'disposed' });
    await disposed;
    expectNothingLeft();
    expect(() => model.generate('x')).toThrow(expect.objectContaining({ code: 'disposed' }));
  });

  test('dispose() during decode ends the run and the queued one with disposed', async () => {
    const model = await loadModel(MODEL, options);
    let pieces = 0;
    let disposing: Promise<void> | undefined;
    const running = (async () => {
      for await (const e of model.generate(once.prompt, { maxTokens: 100 })) {
        if (e.type === 'text' && ++pieces === 3) disposing = model.dispose();
      }
    })();
    const queued = collect(model.generate(records[1]!.prompt, { maxTokens: 10 })); // waits for the lock
    await expect(running).rejects.toMatchObject({ code: 'disposed' });
    await expect(queued).rejects.toMatchObject({ code: 'disposed' });
    expect(pieces).toBe(3);
    await disposing;
    expectNothingLeft();
    expect(() => model.chat([{ role: 'user', content: 'Hi' }])).toThrow(expect.objectContaining({ code: 'disposed' }));
    await model.dispose(); // twice is fine
  });

  test('dispose() while the caller holds an unfinished run: it does not wait for the caller, the run ends with disposed', async () => {
    const model = await loadModel(MODEL, options);
    const run = model.generate(once.prompt, { maxTokens: 50 })[Symbol.asyncIterator]();
    expect((await run.next()).value).toMatchObject({ type: 'text' });
    await model.dispose(); // the run holds the model's queue, suspended at its first event
    expectNothingLeft();
    await expect(run.next()).rejects.toMatchObject({ code: 'disposed' });
  });

  test('the reference engine still gives llama2.c ids after all of the above', async () => {
    expect((await collect(reference.generate(once.prompt, { maxTokens: once.generated_token_ids.length }))).tokenIds).toEqual(once.generated_token_ids);
  });
});
