// Abort and dispose() on webgpu, in headless Chromium on its software adapter (SwiftShader, with
// --enable-unsafe-webgpu): a load aborted while its session is created releases it, a 377-token prompt
// prefilled in chunks (keys and values kept on the GPU between them) gives the greedy ids of an
// unchunked onnxruntime-node run, an abort lands in prefill and the same prompt again gives
// onnxruntime-node's ids, dispose() ends a run in prefill, and long decoder steps (a whole prompt, a
// chat turn on top of a cache) give onnxruntime-node's ids on the default (native) engine.
// Skips without Debian chromium, or when the browser grants no adapter.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createDecoder } from '@localm/backend';
import { hasChromium, openBrowserHarness, REPO_ROOT, type BrowserHarness } from '../../worker/test/browser-harness.js';

const MODEL = `${REPO_ROOT}models/stories260k`;
const STEPS = 12; // SwiftShader runs each kernel on the CPU: ~0.3 s a token
const records = readFileSync(`${REPO_ROOT}models/stories260k-source/expected-greedy.jsonl`, 'utf8')
  .trim()
  .split('\n')
  .map((line) => JSON.parse(line) as { prompt_token_ids: number[]; generated_token_ids: number[] });
const LONG_PROMPT = [1, ...records.flatMap((r) => [...r.prompt_token_ids.slice(1), ...r.generated_token_ids]).concat(records.flatMap((r) => r.generated_token_ids)).slice(0, 376)];
const OTHER_PROMPT = [LONG_PROMPT[0]!, ...LONG_PROMPT.slice(2)]; // what the page runs second

/** Greedy ids from onnxruntime-node with the whole prompt in one step: no chunking, no core. */
async function referenceIds(prompt: number[]): Promise<number[]> {
  const decoder = await createDecoder(
    { graph: new Uint8Array(readFileSync(`${MODEL}/onnx/model.onnx`)), graphPath: `${MODEL}/onnx/model.onnx`, externalData: [] },
    { device: 'cpu' },
  );
  try {
    const argmax = (l: Float32Array): number => l.reduce((best, v, i, a) => (v > a[best]! ? i : best), 0);
    const ids = [argmax(await decoder.step(prompt))];
    while (ids.length < STEPS) ids.push(argmax(await decoder.step([ids[ids.length - 1]!])));
    return ids;
  } finally {
    await decoder.dispose();
  }
}

type Outcome<T> = { ok: true; value: T } | { ok: false; error: { name: string; code?: string; message: string } };
interface Page {
  script(folder: string, options: object, ops: ({ step: number[] } | { truncate: number } | { greedy: number })[]): Promise<Outcome<{ ids?: number[]; cached: number }[]>>;
  abortLoad(folder: string, options: object, prompt: number[], steps: number): Promise<Outcome<{ aborted: Outcome<unknown>; openAfterAbort: number; device: string; ids: number[]; openAfterDispose: number }>>;
  prefill(
    folder: string,
    options: object,
    prompt: number[],
    steps: number,
  ): Promise<Outcome<{ device: string; first: number[]; aborted: Outcome<unknown>; again: number[]; cachedAfterAbort: number; disposed: Outcome<unknown>; openAfterDispose: number }>>;
}

describe.skipIf(!hasChromium)('faults on webgpu in Chromium (needs Debian chromium at /usr/bin/chromium)', () => {
  let browser: BrowserHarness;
  let folder: string;
  let gpu: { available: boolean; reason?: string };
  const call = <K extends keyof Page>(name: K, ...args: Parameters<Page[K]>): ReturnType<Page[K]> =>
    browser.page.evaluate(([n, a]) => (window as unknown as { localm: Record<string, (...x: unknown[]) => unknown> }).localm[n as string]!(...(a as unknown[])), [name, args] as const) as ReturnType<Page[K]>;

  beforeAll(async () => {
    browser = await openBrowserHarness({ pageRoot: fileURLToPath(new URL('./browser-faults', import.meta.url)) });
    await browser.page.waitForFunction(() => 'localm' in window);
    folder = `${browser.origin}/models/stories260k/`;
    gpu = await browser.page.evaluate(async () => {
      const adapter = await (navigator as unknown as { gpu?: { requestAdapter(): Promise<unknown> } }).gpu?.requestAdapter();
      return adapter ? { available: true } : { available: false, reason: 'no adapter' };
    });
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
  });

  test('abort while the webgpu session is created: the reason, the session released, a later load gives llama2.c ids', { timeout: 300_000 }, async (ctx) => {
    if (!gpu.available) ctx.skip(`no WebGPU adapter: ${gpu.reason}`);
    const result = await call('abortLoad', folder, { device: 'webgpu' }, records[0]!.prompt_token_ids, STEPS);
    if (!result.ok) throw new Error(`${result.error.code}: ${result.error.message}\n${browser.console.slice(-20).join('\n')}`);
    const r = result.value;
    expect(r.aborted).toMatchObject({ ok: false, error: { name: 'AbortError' } });
    expect(r.openAfterAbort).toBe(0);
    expect(r.device).toBe('webgpu');
    expect(r.ids).toEqual(records[0]!.generated_token_ids.slice(0, STEPS));
    expect(r.openAfterDispose).toBe(0);
  });

  // onnxruntime-web 1.30's native WebGPU engine (the default) computes some calls of more than 16 tokens
  // wrongly here (issue #8: OTHER_PROMPT in 48-, 64- or 128-token calls gives first id 391 where
  // onnxruntime-node gives 439; its first 64 tokens as 32 + 32 too); the backend splits steps into
  // 16-token calls on it (DecoderInfo.maxStepTokens) and core prefills in chunks of that size.
  // Every id below is compared with onnxruntime-node's.
  test('abort and dispose() in a 377-token prefill: the reason, then cpu\'s ids; disposed; nothing left open', { timeout: 600_000 }, async (ctx) => {
    if (!gpu.available) ctx.skip(`no WebGPU adapter: ${gpu.reason}`);
    const want = await referenceIds(LONG_PROMPT);
    const wantOther = await referenceIds(OTHER_PROMPT);
    const result = await call('prefill', folder, { device: 'webgpu' }, LONG_PROMPT, STEPS);
    if (!result.ok) throw new Error(`${result.error.code}: ${result.error.message}\n${browser.console.slice(-20).join('\n')}`);
    const r = result.value;
    console.log(`webgpu: after an abort in prefill, ${r.cachedAfterAbort} of ${OTHER_PROMPT.length} prompt tokens were cached`);
    expect(r.device).toBe('webgpu');
    expect(r.first).toEqual(want); // keys and values on the GPU between chunks
    expect(r.aborted).toMatchObject({ ok: false, error: { name: 'AbortError', message: 'stop prefill' } });
    // One token reused from the first run, then one 16-token chunk before the abort landed.
    expect(r.cachedAfterAbort).toBe(17);
    expect(r.again).toEqual(wantOther);
    expect(r.disposed).toMatchObject({ ok: false, error: { code: 'disposed' } });
    expect(r.openAfterDispose).toBe(0);
  });

  // Decoder level, no core: one step of the whole prompt, and a chat turn's many tokens on top of a
  // cache, which the backend splits for the native engine.
  test('long steps on the default engine: the whole prompt in one step, 226 tokens on top of 150 cached; cpu\'s ids', { timeout: 600_000 }, async (ctx) => {
    if (!gpu.available) ctx.skip(`no WebGPU adapter: ${gpu.reason}`);
    const want = await referenceIds(OTHER_PROMPT);
    const result = await call('script', folder, { device: 'webgpu' }, [
      { step: OTHER_PROMPT },
      { greedy: STEPS },
      { truncate: 0 },
      { step: OTHER_PROMPT.slice(0, 150) },
      { step: OTHER_PROMPT.slice(150) },
      { greedy: STEPS },
    ]);
    if (!result.ok) throw new Error(`${result.error.code}: ${result.error.message}`);
    const runs = result.value.filter((o) => o.ids);
    expect(runs.map((o) => o.ids)).toEqual([want, want]);
  });
});
