// Aborting createWorkerEngine's load from the main thread: the signal's reason comes back, the worker
// holds no model and stays up, and after loads aborted at any point a new load in the same worker
// gives llama2.c's greedy ids.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { GenerationEvent } from '@localm/core';
import { createWorkerEngine } from '@localm/worker';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const MODEL = `${ROOT}models/stories260k`;
const ENTRY = new URL('./node-worker.mjs', import.meta.url);
const once = JSON.parse(readFileSync(`${ROOT}models/stories260k-source/expected-greedy.jsonl`, 'utf8').split('\n')[0]!) as {
  prompt: string;
  generated_token_ids: number[];
};

async function greedyIds(events: AsyncIterable<GenerationEvent>): Promise<number[]> {
  for await (const e of events) if (e.type === 'done') return e.tokenIds;
  throw new Error('no done event');
}

describe.each(['cpu', 'wasm'] as const)('load aborted in a worker thread on %s', (device) => {
  let worker: Worker;
  beforeAll(() => {
    worker = new Worker(ENTRY, { execArgv: [] });
  });
  afterAll(() => worker.terminate());

  test('an already aborted signal is refused before anything is sent', async () => {
    const reason = new DOMException('no', 'AbortError');
    await expect(createWorkerEngine(worker, MODEL, { device, signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
  });

  test('aborted at 0-1000 ms into the load: the reason or a loaded engine, and the worker loads again', async () => {
    const outcomes: string[] = [];
    for (const delayMs of [0, 2, 8, 32, 128, 256, 512, 1000]) {
      const controller = new AbortController();
      const reason = new DOMException(`stop at ${delayMs} ms`, 'AbortError');
      const timer = setTimeout(() => controller.abort(reason), delayMs);
      try {
        const engine = await createWorkerEngine(worker, MODEL, { device, signal: controller.signal });
        outcomes.push('loaded');
        await engine.dispose(); // ends the worker (comlink releases its endpoint): the next load needs a new one
        await worker.terminate();
        worker = new Worker(ENTRY, { execArgv: [] });
      } catch (err) {
        expect(err).toBe(reason);
        outcomes.push('aborted');
      } finally {
        clearTimeout(timer);
      }
    }
    console.log(`worker on ${device}: load aborted at 0..1000 ms: ${outcomes.join(' ')}`);
    expect(outcomes[0]).toBe('aborted');
    // The worker holds no half-loaded model: a plain load works and computes llama2.c's ids.
    const engine = await createWorkerEngine(worker, MODEL, { device });
    try {
      expect(await greedyIds(engine.generate(once.prompt, { maxTokens: once.generated_token_ids.length }))).toEqual(once.generated_token_ids);
    } finally {
      await engine.dispose();
    }
  });
});
