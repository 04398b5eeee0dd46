// The engine in a module Web Worker on webgpu, in headless Debian Chromium: on a machine without a
// GPU the adapter is SwiftShader (--enable-unsafe-webgpu), which runs onnxruntime-web's WebGPU
// kernels on the CPU. Skips without Debian chromium, or when the browser grants no adapter.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { hasChromium, openBrowserHarness, REPO_ROOT, type BrowserHarness } from './browser-harness.js';
import { callPage, type WorkerPage } from './browser/page-api.js';

const records = readFileSync(`${REPO_ROOT}models/stories260k-source/expected-greedy.jsonl`, 'utf8')
  .trim()
  .split('\n')
  .map((line) => JSON.parse(line) as { prompt: string; prompt_token_ids: number[]; generated_token_ids: number[] });

describe.skipIf(!hasChromium)('on webgpu in a module Web Worker in Chromium (needs Debian chromium at /usr/bin/chromium)', () => {
  let browser: BrowserHarness;
  let call: WorkerPage;

  beforeAll(async () => {
    browser = await openBrowserHarness({ pageRoot: fileURLToPath(new URL('./browser', import.meta.url)) });
    await browser.page.waitForFunction(() => 'localm' in window);
    call = callPage(browser.page);
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
  });

  test('greedy ids equal llama2.c on webgpu, cross-origin isolated; abort stops it', async (ctx) => {
    const hasAdapter = await browser.page.evaluate(async () => (await (navigator as unknown as { gpu?: { requestAdapter(): Promise<unknown> } }).gpu?.requestAdapter()) != null);
    if (!hasAdapter) ctx.skip('the browser grants no WebGPU adapter here');
    expect(await browser.page.evaluate(() => crossOriginIsolated)).toBe(true);
    const loaded = await call('load', `${browser.origin}/models/stories260k/`, { device: 'webgpu' });
    if (!loaded.ok) throw new Error(`${loaded.error.code}: ${loaded.error.message}\n${browser.console.join('\n')}`);
    expect(loaded.value.info).toMatchObject({ device: 'webgpu', engine: 'onnxruntime-web/webgpu' });
    // All of llama2.c's 64 tokens for the first prompt (SwiftShader: ~0.3 s a token), 16 for the others.
    for (const [i, r] of records.entries()) {
      const n = i === 0 ? r.generated_token_ids.length : 16;
      const run = await call('generate', r.prompt, n);
      if (!run.ok) throw new Error(`${run.error.code}: ${run.error.message}`);
      expect(run.value.promptTokenIds).toEqual(r.prompt_token_ids);
      expect(run.value.tokenIds).toEqual(r.generated_token_ids.slice(0, n));
    }
    const aborted = await call('abortAt', records[0]!.prompt, 3);
    expect(aborted).toMatchObject({ ok: true, value: { afterAbort: 0, error: { ok: false, error: { name: 'AbortError' } } } });
    const next = await call('generate', records[0]!.prompt, 4);
    expect(next).toMatchObject({ ok: true, value: { tokenIds: records[0]!.generated_token_ids.slice(0, 4) } });
  }, 600_000);
});
