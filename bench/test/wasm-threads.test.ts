// localm's WASM kernels on threads in headless Chromium: in a module Web Worker of a cross-origin-
// isolated page, 2 threads (and the default) give llama2.c's greedy ids for stories260K, as 1 thread
// does, and a second thread really ran (a nested worker started, and the step waited on it). On the
// window's main thread, where Atomics.wait is forbidden, threads are refused and one thread runs.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { CHROMIUM_ARGS } from '../src/browser/browser-bench.js';
import { startStaticServer, type StaticServer } from '../src/browser/static-server.js';
import type { ThreadsRequest, ThreadsResult } from './threads-page/run-model.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const records = readFileSync(join(REPO, 'models/stories260k-source/expected-greedy.jsonl'), 'utf8')
  .trim()
  .split('\n')
  .map((line) => JSON.parse(line) as { prompt_token_ids: number[]; generated_token_ids: number[] });

const work = mkdtempSync(join(tmpdir(), 'localm-wasm-threads-'));
let server: StaticServer;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  const { build } = await import('vite');
  await build({ root: fileURLToPath(new URL('./threads-page/', import.meta.url)), logLevel: 'error', worker: { format: 'es' }, build: { outDir: join(work, 'page'), emptyOutDir: true, target: 'es2022' } });
  server = await startStaticServer([
    { prefix: '/model/', path: join(REPO, 'models/stories260k') },
    { prefix: '/', path: join(work, 'page') },
  ]);
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
  page = await browser.newPage();
  await page.goto(server.base);
  await page.waitForFunction(() => document.body.dataset['ready'] === '1');
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  rmSync(work, { recursive: true, force: true });
});

type Where = 'inWorker' | 'onMainThread';
async function run(where: Where, numThreads: number | undefined, record = records[0]!): Promise<ThreadsResult> {
  const request: ThreadsRequest = { model: `${server.base}model/`, prompt: record.prompt_token_ids, maxTokens: record.generated_token_ids.length, ...(numThreads === undefined ? {} : { numThreads }) };
  const answer = await page.evaluate(
    ([w, r]) => (globalThis as unknown as { threadsTest: Record<Where, (r: ThreadsRequest) => Promise<{ ok: true; value: ThreadsResult } | { ok: false; message: string }>> }).threadsTest[w](r),
    [where, request] as const,
  );
  if (!answer.ok) throw new Error(answer.message);
  return answer.value;
}

test('the page is cross-origin isolated (SharedArrayBuffer for the threads)', async () => {
  expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
});

test('in a Web Worker: 2 threads give llama2.c greedy ids, as 1 thread does, and the second thread ran', async () => {
  for (const record of records) {
    const one = await run('inWorker', 1, record);
    const two = await run('inWorker', 2, record);
    expect(one).toMatchObject({ engine: 'localm-wasm', isWorker: true, threads: 1, tokenIds: record.generated_token_ids });
    expect(two).toMatchObject({ engine: 'localm-wasm', isWorker: true, threads: 2, tokenIds: record.generated_token_ids });
    expect(two.skipped).toEqual([]); // no fallback to one thread
  }
}, 120_000);

test('in a Web Worker the default is threads: navigator.hardwareConcurrency, at most 4', async () => {
  const cores = await page.evaluate(() => navigator.hardwareConcurrency);
  const r = await run('inWorker', undefined);
  expect(r.threads).toBe(Math.min(4, cores));
  expect(r.tokenIds).toEqual(records[0]!.generated_token_ids);
}, 60_000);

test("on the window's main thread: one thread by default, and 2 asked fall back to one with the reason", async () => {
  const byDefault = await run('onMainThread', undefined);
  expect(byDefault).toMatchObject({ isWorker: false, threads: 1, tokenIds: records[0]!.generated_token_ids, skipped: [] });
  const asked = await run('onMainThread', 2);
  expect(asked).toMatchObject({ isWorker: false, threads: 1, tokenIds: records[0]!.generated_token_ids });
  expect(asked.skipped).toContainEqual({ device: 'wasm', reason: expect.stringMatching(/with threads \(2\): .*may not block/) });
}, 60_000);
