// The engine in a module Web Worker in headless Debian Chromium, on a cross-origin-isolated page
// served from 127.0.0.1: llama2.c's greedy ids on wasm, abort from the main thread, `break`, and
// error codes across the boundary. The webgpu run is in browser.webgpu.test.ts.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { hasChromium, openBrowserHarness, REPO_ROOT, type BrowserHarness } from './browser-harness.js';
import { callPage, type WorkerPage } from './browser/page-api.js';

const records = readFileSync(`${REPO_ROOT}models/stories260k-source/expected-greedy.jsonl`, 'utf8')
  .trim()
  .split('\n')
  .map((line) => JSON.parse(line) as { prompt: string; prompt_token_ids: number[]; generated_token_ids: number[] });

describe.skipIf(!hasChromium)('in a module Web Worker in Chromium (needs Debian chromium at /usr/bin/chromium)', () => {
  let browser: BrowserHarness;
  let call: WorkerPage;
  let model: string;

  beforeAll(async () => {
    browser = await openBrowserHarness({ pageRoot: fileURLToPath(new URL('./browser', import.meta.url)) });
    await browser.page.waitForFunction(() => 'localm' in window);
    call = callPage(browser.page);
    model = `${browser.origin}/models/stories260k/`;
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
  });

  test('the page is cross-origin isolated', async () => {
    expect(await browser.page.evaluate(() => crossOriginIsolated)).toBe(true);
  });

  // Last the default one ('auto': localm's kernels), which the tests after this one use.
  test.each([
    ['onnxruntime', 'onnxruntime-web'],
    ['auto', 'localm-wasm'],
  ] as const)('greedy ids equal llama2.c on wasm (wasmEngine %s → %s)', async (wasmEngine, engine) => {
    const loaded = await call('load', model, { device: 'wasm', wasmEngine });
    if (!loaded.ok) throw new Error(`${loaded.error.code}: ${loaded.error.message}\n${browser.console.join('\n')}`);
    expect(loaded.value.info).toMatchObject({ device: 'wasm', engine });
    expect(loaded.value.info.skippedDevices).not.toContainEqual(expect.objectContaining({ device: 'wasm' })); // threads started
    expect(loaded.value.progressCalls).toBeGreaterThan(0); // progress came back across the worker
    for (const r of records) {
      const run = await call('generate', r.prompt, r.generated_token_ids.length);
      if (!run.ok) throw new Error(`${run.error.code}: ${run.error.message}`);
      expect(run.value.promptTokenIds).toEqual(r.prompt_token_ids);
      expect(run.value.tokenIds).toEqual(r.generated_token_ids);
    }
  });

  test('an abort on the main thread ends the run with AbortError, no event after it; the next run works', async () => {
    const aborted = await call('abortAt', records[0]!.prompt, 5);
    if (!aborted.ok) throw new Error(aborted.error.message);
    expect(aborted.value.ids).toEqual(records[0]!.generated_token_ids.slice(0, 5));
    expect(aborted.value.afterAbort).toBe(0);
    expect(aborted.value.error).toMatchObject({ ok: false, error: { name: 'AbortError' } });
    // The worker stopped within one token of the abort: its KV cache holds the prompt and the tokens it
    // fed the model, within one of the 5 the page saw (the 5th is fed only when the 6th is computed).
    // Prompting with llama2.c's whole continuation reuses exactly that prefix.
    const r = records[0]!;
    const cached = await call('cachedFor', [...r.prompt_token_ids, ...r.generated_token_ids]);
    if (!cached.ok) throw new Error(cached.error.message);
    expect(cached.value - r.prompt_token_ids.length).toBeGreaterThanOrEqual(5 - 1);
    expect(cached.value - r.prompt_token_ids.length).toBeLessThanOrEqual(5 + 1);
    const next = await call('generate', records[0]!.prompt, 8);
    expect(next).toMatchObject({ ok: true, value: { tokenIds: records[0]!.generated_token_ids.slice(0, 8) } });
  });

  test('break cancels the run in the worker; the next run works', async () => {
    expect(await call('breakAt', records[1]!.prompt, 3)).toEqual({ ok: true, value: 3 });
    const next = await call('generate', records[1]!.prompt, 8);
    expect(next).toMatchObject({ ok: true, value: { tokenIds: records[1]!.generated_token_ids.slice(0, 8) } });
  });

  test('a picked folder (File objects) loads in the worker and gives the same ids', async () => {
    const paths = ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'onnx/model.onnx', 'onnx/model.onnx_data'];
    const loaded = await call('loadFiles', model, paths, { device: 'wasm' });
    if (!loaded.ok) throw new Error(`${loaded.error.code}: ${loaded.error.message}`);
    expect(loaded.value.info.source).toBe('picked files (picked)'); // the folder path crossed the clone (in the file names)
    const run = await call('generate', records[0]!.prompt, 16);
    expect(run).toMatchObject({ ok: true, value: { tokenIds: records[0]!.generated_token_ids.slice(0, 16) } });
  });

  test('a worker that fails while starting is worker_crashed, not a hang', async () => {
    expect(await call('loadBroken', model)).toMatchObject({ ok: false, error: { name: 'LocalmError', code: 'worker_crashed' } });
  });

  test('errors keep their code across the worker', async () => {
    expect(await call('generate', 'x', -1)).toMatchObject({ ok: false, error: { name: 'LocalmError', code: 'invalid_argument' } });
    const missing = await call('load', `${browser.origin}/models/no-such-model/`, { device: 'wasm' });
    expect(missing).toMatchObject({ ok: false, error: { name: 'LocalmError', code: 'not_found' } });
  });
});
