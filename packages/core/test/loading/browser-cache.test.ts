// The loading code in headless Chromium, against the same local server: downloads into the Cache API
// and into OPFS with progress, abort leaving no entry, resume after a dropped connection, and the
// quota check against a quota shrunk through the DevTools protocol. The page is bundled by vite.

import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { startModelServer, WEIGHTS, type ModelServer } from './model-server.js';

const CHROMIUM = '/usr/bin/chromium';
const CACHE_NAME = 'localm-test';

type Window = { localm: Record<string, (...args: never[]) => Promise<unknown>> & { crossOriginIsolated: boolean } };

describe.skipIf(!existsSync(CHROMIUM))('in Chromium (needs Debian chromium at /usr/bin/chromium)', () => {
  let server: ModelServer;
  let context: BrowserContext;
  let page: Page;
  const temp: string[] = [];
  const digests = new Map<string, string>();
  const total = (): number => [...server.files.values()].reduce((n, b) => n + b.length, 0);
  const call = <T>(fn: string, ...args: unknown[]): Promise<T> =>
    page.evaluate(([name, rest]) => (window as unknown as Window).localm[name as string]!(...(rest as never[])), [fn, args] as const) as Promise<T>;

  beforeAll(async () => {
    const out = mkdtempSync(join(tmpdir(), 'localm-page-'));
    temp.push(out);
    await build({
      configFile: false,
      logLevel: 'warn',
      resolve: { conditions: ['source'] },
      build: {
        outDir: out,
        emptyOutDir: true,
        minify: false,
        lib: { entry: fileURLToPath(new URL('./browser/page.ts', import.meta.url)), formats: ['es'], fileName: 'page' },
      },
    });
    writeFileSync(join(out, 'index.html'), '<!doctype html><meta charset="utf-8"><script type="module" src="/app/page.js"></script>');
    server = await startModelServer();
    server.serveApp(out);
    for (const [path, bytes] of server.files) digests.set(path, createHash('sha256').update(bytes).digest('hex'));
    const profile = mkdtempSync(join(tmpdir(), 'localm-chromium-'));
    temp.push(profile);
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = context.pages()[0] ?? (await context.newPage());
    await page.goto(`${server.origin}/app/index.html`);
    await page.waitForFunction(() => 'localm' in window);
  });

  afterAll(async () => {
    await context?.close();
    await server?.close();
    for (const dir of temp) rmSync(dir, { recursive: true, force: true });
  });

  beforeEach(async () => {
    await call('clear', CACHE_NAME);
    server.faults = { manifest: true };
    server.log = [];
    server.sentBytes = new Map();
  });

  test('the page is cross-origin isolated (COOP/COEP)', async () => {
    expect(await page.evaluate(() => (window as unknown as Window).localm.crossOriginIsolated)).toBe(true);
  });

  describe.each(['cache-api', 'opfs'] as const)('%s', (storage) => {
    const options = { storage, name: CACHE_NAME };

    test('download with progress; the cached bytes equal the served ones; list, check, delete', async () => {
      server.faults = { manifest: true, trickle: { path: WEIGHTS, bytesPerTick: 64 << 10, tickMs: 25 } };
      const result = await call<{ ok: boolean; events: { loadedBytes: number; totalBytes: number }[] }>('download', server.modelUrl, options);
      expect(result).toMatchObject({ ok: true });
      expect(result.events.length).toBeGreaterThan(2);
      expect(result.events[0]).toMatchObject({ loadedBytes: 0, totalBytes: total() });
      for (let i = 1; i < result.events.length; i++) expect(result.events[i]!.loadedBytes).toBeGreaterThanOrEqual(result.events[i - 1]!.loadedBytes);
      expect(result.events.at(-1)).toMatchObject({ loadedBytes: total(), totalBytes: total() });
      expect(await call('cachedDigests', server.modelUrl, options)).toEqual(Object.fromEntries(digests));
      const state = await call<{ list: { url: string; sizeBytes: number }[]; check: unknown }>('cacheState', options, server.modelUrl);
      expect(state.list).toMatchObject([{ url: server.modelUrl, sizeBytes: total() }]);
      expect(state.check).toEqual({ url: server.modelUrl, ok: true, problems: [] });
      // A second download is a cache hit: no request at all.
      server.log = [];
      expect(await call('download', server.modelUrl, options)).toMatchObject({ ok: true, events: [{ loadedBytes: total(), totalBytes: total() }] });
      expect(server.log).toEqual([]);
      expect(await call('remove', options, server.modelUrl)).toBe(true);
      expect(await call('storedEntries', CACHE_NAME)).toEqual([]);
    });

    test('abort mid-download is an AbortError and leaves no entry', async () => {
      server.faults = { manifest: true, trickle: { path: WEIGHTS, bytesPerTick: 16 << 10, tickMs: 20 } };
      const result = await call<{ ok: boolean; error: { name: string } }>('download', server.modelUrl, options, { abortAtBytes: 300_000 });
      expect(result).toMatchObject({ ok: false, error: { name: 'AbortError' } });
      expect(server.sentBytes.get(WEIGHTS)).toBeLessThan(server.files.get(WEIGHTS)!.length);
      expect(await call('cacheState', options, server.modelUrl)).toEqual({ list: [] });
      expect(await call('storedEntries', CACHE_NAME)).toEqual([]);
    });

    test('a dropped connection resumes with Range from the dropped byte; the files are whole', async () => {
      const half = server.files.get(WEIGHTS)!.length >> 1;
      server.faults = { manifest: true, dropOnce: { path: WEIGHTS, atByte: half } };
      expect(await call('download', server.modelUrl, options)).toMatchObject({ ok: true });
      // Chromium may drop bytes it had received but the page had not read when the connection failed
      // (the error overtakes them), so the resume starts at or before the dropped byte, never after.
      const ranges = server.log.filter((r) => r.method === 'GET' && r.path === WEIGHTS).map((r) => r.range);
      expect(ranges).toEqual([undefined, expect.stringMatching(/^bytes=\d+-$/)]);
      const resumedAt = Number(/\d+/.exec(ranges[1]!)![0]);
      expect(resumedAt).toBeGreaterThan(0);
      expect(resumedAt).toBeLessThanOrEqual(half);
      expect(server.sentBytes.get(WEIGHTS)).toBe(server.files.get(WEIGHTS)!.length + half - resumedAt);
      expect(await call('cachedDigests', server.modelUrl, options)).toEqual(Object.fromEntries(digests));
      expect(await call('remove', options, server.modelUrl)).toBe(true);
    });

    test('a wrong pinned sha256 is checksum_mismatch and leaves no entry', async () => {
      const result = await call('download', server.modelUrl, options, { sha256: { [WEIGHTS]: '0'.repeat(64) } });
      expect(result).toMatchObject({ ok: false, error: { name: 'LocalmError', code: 'checksum_mismatch' } });
      expect(await call('storedEntries', CACHE_NAME)).toEqual([]);
    });
  });

  test('a cache limit smaller than the model is out_of_memory before any model file is fetched', async () => {
    const result = await call('download', server.modelUrl, { storage: 'cache-api', name: CACHE_NAME, maxBytes: total() - 1 });
    expect(result).toMatchObject({ ok: false, error: { name: 'LocalmError', code: 'out_of_memory' } });
    expect(server.log.filter((r) => r.method === 'GET' && r.path !== 'localm.json')).toEqual([]);
    expect(await call('storedEntries', CACHE_NAME)).toEqual([]);
  });

  test('an origin quota that runs out mid-download is out_of_memory and leaves no entry', async () => {
    // Chromium 156 enforces Storage.overrideQuotaForOrigin on writes, but navigator.storage.estimate()
    // still reports the unshrunk quota, so this exercises the QuotaExceededError path, not the pre-check.
    const cdp = await context.newCDPSession(page);
    await cdp.send('Storage.overrideQuotaForOrigin', { origin: server.origin, quotaSize: 100_000 });
    try {
      for (const storage of ['cache-api', 'opfs']) {
        const result = await call('download', server.modelUrl, { storage, name: CACHE_NAME });
        expect(result, storage).toMatchObject({ ok: false, error: { name: 'LocalmError', code: 'out_of_memory' } });
        expect(await call('storedEntries', CACHE_NAME)).toEqual([]);
      }
    } finally {
      await cdp.send('Storage.overrideQuotaForOrigin', { origin: server.origin });
      await cdp.detach();
    }
  });
});
