// The web chat example in headless Debian Chromium: built with vite, served by `vite preview` with
// COOP/COEP, the model loaded into a Web Worker, llama2.c's greedy ids streamed, stop, a screenshot.

import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { build, preview, type PreviewServer } from 'vite';
import { afterAll, beforeAll, expect, test } from 'vitest';

const APP = fileURLToPath(new URL('..', import.meta.url));
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const record = JSON.parse(readFileSync(`${ROOT}models/stories260k-source/expected-greedy.jsonl`, 'utf8').split('\n')[0]!) as { prompt: string; generated_token_ids: number[] };
/** Where the screenshot goes: LOCALM_ARTIFACTS, else a temp folder (printed). */
const ARTIFACTS = process.env['LOCALM_ARTIFACTS'] ?? join(tmpdir(), 'localm-artifacts');

const work = mkdtempSync(join(tmpdir(), 'localm-web-chat-'));
let server: PreviewServer;
let context: BrowserContext;
let page: Page;
let base: string;

beforeAll(async () => {
  const outDir = join(work, 'dist');
  await build({ root: APP, logLevel: 'warn', build: { outDir, emptyOutDir: true } });
  server = await preview({ root: APP, logLevel: 'warn', build: { outDir }, preview: { host: '127.0.0.1', port: 0, strictPort: false } });
  base = server.resolvedUrls!.local[0]!;
  context = await chromium.launchPersistentContext(join(work, 'profile'), {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--enable-unsafe-webgpu'],
  });
  page = context.pages()[0] ?? (await context.newPage());
}, 180_000);

afterAll(async () => {
  await context?.close();
  await server?.close();
  rmSync(work, { recursive: true, force: true });
});

test('loads the bundled model in a worker and streams llama2.c greedy ids', async () => {
  await page.goto(`${base}?maxTokens=${record.generated_token_ids.length}`);
  await page.waitForSelector('#status[data-device]', { timeout: 120_000 });
  expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
  expect(await page.getAttribute('#status', 'data-device')).toBe('wasm');
  expect(await page.textContent('#status')).toContain('localm-wasm');
  expect(await page.getAttribute('#progress', 'value')).toBe('1');
  expect(Number(await page.getAttribute('#progress', 'data-updates'))).toBeGreaterThanOrEqual(1); // progress came across the worker
  await page.fill('#prompt', record.prompt);
  await page.click('#generate');
  await page.waitForFunction(() => document.querySelector('#output')?.getAttribute('data-state') === 'maxTokens', undefined, { timeout: 60_000 });
  const ids = JSON.parse((await page.getAttribute('#output', 'data-token-ids'))!) as number[];
  expect(ids).toEqual(record.generated_token_ids);
  expect(await page.textContent('#output')).toContain('Once upon a time, there was a little girl named Lily.');
  mkdirSync(ARTIFACTS, { recursive: true });
  const shot = join(ARTIFACTS, 'web-chat.png');
  await page.screenshot({ path: shot, fullPage: true });
  console.log(`screenshot: ${shot}`);
});

test('stop ends a long generation and the next one works', async () => {
  await page.goto(`${base}?maxTokens=100000`);
  await page.waitForSelector('#status[data-device]', { timeout: 120_000 });
  await page.click('#generate');
  await page.waitForFunction(() => (document.querySelector('#output')?.textContent?.length ?? 0) > 40);
  await page.click('#stop');
  await page.waitForFunction(() => document.querySelector('#output')?.getAttribute('data-state') !== 'running');
  const state = await page.getAttribute('#output', 'data-state');
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, 'web-chat-stopped.png'), fullPage: true });
  // The stop landed, or on a fast machine the story ended (BOS) or the 512-token context ran out first.
  expect(['stopped', 'eos', 'contextFull']).toContain(state);
  await page.click('#generate');
  await page.waitForFunction(() => !['running', 'stopped'].includes(document.querySelector('#output')?.getAttribute('data-state') ?? 'running'), undefined, { timeout: 60_000 });
  expect(['eos', 'contextFull']).toContain(await page.getAttribute('#output', 'data-state'));
});

test('on webgpu (the software adapter here) the ids equal llama2.c too, with the KV cache on the GPU', async () => {
  await page.goto(`${base}?device=webgpu&maxTokens=${record.generated_token_ids.length}`);
  await page.waitForSelector('#status[data-device]', { timeout: 120_000 });
  expect(await page.getAttribute('#status', 'data-device')).toBe('webgpu');
  await page.fill('#prompt', record.prompt);
  await page.click('#generate');
  await page.waitForFunction(() => document.querySelector('#output')?.getAttribute('data-state') === 'maxTokens', undefined, { timeout: 120_000 });
  expect(JSON.parse((await page.getAttribute('#output', 'data-token-ids'))!)).toEqual(record.generated_token_ids);
}, 300_000);
