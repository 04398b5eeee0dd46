// The webgpu device in headless Chromium on its software adapter (SwiftShader: every machine has one
// with --enable-unsafe-webgpu): stories260K's greedy ids against llama2.c's on both onnxruntime-web
// WebGPU engines, the KV cache kept on the GPU (and cut for a prefix reuse), a lost device, and the
// fallback that 'auto' makes. Skips without Debian chromium, or when the browser grants no adapter.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { hasChromium, MODELS_DIR, openBrowserHarness, REPO_ROOT, startStaticServer, type BrowserHarness } from '../../worker/test/browser-harness.js';

const records = readFileSync(`${REPO_ROOT}models/stories260k-source/expected-greedy.jsonl`, 'utf8')
  .trim()
  .split('\n')
  .map((line) => JSON.parse(line) as { prompt: string; prompt_token_ids: number[]; generated_token_ids: number[] });
const STEPS = 24; // of llama2.c's 64: SwiftShader runs each kernel on the CPU
const expected = records.map((r) => r.generated_token_ids.slice(0, STEPS));
const prompts = records.map((r) => r.prompt_token_ids);

type Outcome<T> = { ok: true; value: T } | { ok: false; error: { name: string; code?: string; message: string; details?: Record<string, unknown> } };
interface GreedyResult {
  info: { device: string; engine: string; skipped: { device: string; reason: string }[] };
  runs: number[][];
  reused: number[];
  kept: number;
  loadMs: number;
  decodeMs: number;
}
type Localm = {
  caps(): Promise<{ crossOriginIsolated: boolean; gpu: { available: boolean; reason?: string; isFallbackAdapter: boolean; shaderF16: boolean } }>;
  greedy(folder: string, options: object, prompts: number[][], steps: number): Promise<Outcome<GreedyResult>>;
  loseDevice(folder: string, prompt: number[]): Promise<Outcome<{ destroyed: number; failed: Outcome<unknown>; disposed: Outcome<unknown>; info: GreedyResult['info']; ids: number[] }>>;
};

describe.skipIf(!hasChromium)('webgpu in Chromium (needs Debian chromium at /usr/bin/chromium)', () => {
  let browser: BrowserHarness;
  let folder: string;
  let gpu: Awaited<ReturnType<Localm['caps']>>['gpu'];
  const call = <K extends keyof Localm>(name: K, ...args: Parameters<Localm[K]>): ReturnType<Localm[K]> =>
    browser.page.evaluate(([n, a]) => ((window as unknown as { localm: Record<string, (...x: unknown[]) => unknown> }).localm[n as string]!(...(a as unknown[]))), [name, args] as const) as ReturnType<Localm[K]>;

  beforeAll(async () => {
    browser = await openBrowserHarness({ pageRoot: fileURLToPath(new URL('./browser', import.meta.url)) });
    await browser.page.waitForFunction(() => 'localm' in window);
    folder = `${browser.origin}/models/stories260k/`;
    const caps = await call('caps');
    expect(caps.crossOriginIsolated).toBe(true);
    gpu = caps.gpu;
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
  });

  // test.for, not test.each: it passes the test context (for skip) after the case.
  test.for(['jsep', 'native'] as const)('greedy ids equal llama2.c on webgpu with the %s engine, KV cache on the GPU', { timeout: 600_000 }, async (webgpuEngine, ctx) => {
    if (!gpu.available) ctx.skip(`no WebGPU adapter: ${gpu.reason}`);
    const result = await call('greedy', folder, { device: 'webgpu', webgpuEngine }, prompts, STEPS);
    if (!result.ok) throw new Error(`${result.error.code}: ${result.error.message}\n${browser.console.slice(-20).join('\n')}`);
    const { info, runs, reused, kept } = result.value;
    expect(info.device).toBe('webgpu');
    expect(info.engine).toBe(webgpuEngine === 'native' ? 'onnxruntime-web/webgpu' : 'onnxruntime-web');
    expect(runs).toEqual(expected);
    expect(kept).toBe(prompts[0]!.length - 1);
    expect(reused).toEqual(expected[0]);
  });

  test("'auto' passes over the software adapter for wasm and says why", async (ctx) => {
    if (!gpu.available) ctx.skip(`no WebGPU adapter: ${gpu.reason}`);
    if (!gpu.isFallbackAdapter) ctx.skip('a hardware adapter: auto rightly picks webgpu here');
    const result = await call('greedy', folder, { device: 'auto' }, prompts.slice(0, 1), 8);
    if (!result.ok) throw new Error(`${result.error.code}: ${result.error.message}`);
    expect(result.value.info.device).toBe('wasm');
    expect(result.value.info.skipped).toContainEqual({ device: 'webgpu', reason: expect.stringContaining('software fallback') });
    expect(result.value.runs[0]).toEqual(expected[0]!.slice(0, 8));
  }, 300_000);

  test("without cross-origin isolation 'auto' runs wasm on one thread and lists what it passed over", async () => {
    const plain = await startStaticServer({ '/': browser.dist, '/models/': MODELS_DIR }, { isolated: false });
    const page = await browser.context.newPage();
    try {
      await page.goto(`${plain.origin}/`);
      await page.waitForFunction(() => 'localm' in window);
      expect(await page.evaluate(() => crossOriginIsolated)).toBe(false);
      for (const wasmEngine of ['auto', 'onnxruntime'] as const) {
        const result = (await page.evaluate(
          ([f, o, p]) => (window as unknown as { localm: Localm }).localm.greedy(f, o, p, 8),
          [`${plain.origin}/models/stories260k/`, { device: 'auto', wasmEngine }, prompts.slice(0, 1)] as const,
        )) as Outcome<GreedyResult>;
        if (!result.ok) throw new Error(`${result.error.code}: ${result.error.message}`);
        expect(result.value.info.device).toBe('wasm');
        expect(result.value.info.skipped.map((s) => s.device)).toEqual(gpu.available && gpu.isFallbackAdapter ? ['cpu', 'webgpu', 'wasm'] : expect.arrayContaining(['cpu', 'wasm']));
        expect(result.value.info.skipped).toContainEqual({ device: 'wasm', reason: expect.stringContaining('cross-origin isolation') });
        expect(result.value.runs[0]).toEqual(expected[0]!.slice(0, 8));
      }
    } finally {
      await page.close();
      await plain.close();
    }
  }, 300_000);

  // Last: a lost device keeps webgpu out of this page (onnxruntime-web cannot start a second device).
  test('a lost GPU device fails the next step with a typed error; the next load works, and a new page uses WebGPU again', async (ctx) => {
    if (!gpu.available) ctx.skip(`no WebGPU adapter: ${gpu.reason}`);
    const result = await call('loseDevice', folder, prompts[0]!);
    if (!result.ok) throw new Error(`${result.error.code}: ${result.error.message}\n${browser.console.slice(-20).join('\n')}`);
    const { destroyed, failed, disposed, info, ids } = result.value;
    expect(destroyed).toBeGreaterThan(0);
    expect(failed).toMatchObject({ ok: false, error: { name: 'LocalmError', code: 'no_backend', details: { deviceLost: true } } });
    expect(disposed.ok).toBe(true);
    expect(info.device).toBe('wasm');
    expect(info.skipped).toContainEqual({ device: 'webgpu', reason: expect.stringContaining('lost') });
    expect(ids).toEqual(expected[0]!.slice(0, 8));

    await browser.page.reload();
    await browser.page.waitForFunction(() => 'localm' in window);
    const again = await call('greedy', folder, { device: 'webgpu' }, prompts.slice(0, 1), 4);
    if (!again.ok) throw new Error(`${again.error.code}: ${again.error.message}`);
    expect(again.value.runs[0]).toEqual(expected[0]!.slice(0, 4));
  }, 600_000);
});
