// The browser test's page: the loading code, bundled by vite, driven from Playwright through
// window.localm. Runs in Chromium only; nothing here runs in Node.

import { downloadModel } from '../../../src/loading/download.js';
import { openModelCache, openStoredModelCache, type ModelCacheOptions } from '../../../src/loading/model-cache.js';
import type { LoadProgress } from '../../../src/loading/progress.js';

interface Outcome {
  ok: boolean;
  error?: { name: string; code?: string; message: string };
  events: LoadProgress[];
}

async function download(url: string, cacheOptions: ModelCacheOptions, options: { abortAtBytes?: number; sha256?: Record<string, string> } = {}): Promise<Outcome> {
  const cache = await openModelCache(cacheOptions);
  const controller = new AbortController();
  const events: LoadProgress[] = [];
  try {
    await downloadModel(url, {
      cache,
      signal: controller.signal,
      retryDelayMs: 50,
      ...(options.sha256 ? { sha256: options.sha256 } : {}),
      onProgress: (p) => {
        events.push(p);
        if (options.abortAtBytes !== undefined && p.loadedBytes >= options.abortAtBytes) controller.abort();
      },
    });
    return { ok: true, events };
  } catch (err) {
    const e = err as { name: string; code?: string; message: string };
    return { ok: false, error: { name: e.name, ...(e.code ? { code: e.code } : {}), message: e.message }, events };
  }
}

/** Every entry of the Cache API cache, and every file under the OPFS folder: what a failed download must not leave. */
async function storedEntries(name: string): Promise<string[]> {
  const entries = (await (await caches.open(name)).keys()).map((r) => `cache-api:${r.url}`);
  const walk = async (dir: FileSystemDirectoryHandle, path: string): Promise<void> => {
    for await (const entry of (dir as unknown as { values(): AsyncIterable<FileSystemHandle> }).values()) {
      if (entry.kind === 'directory') await walk(entry as FileSystemDirectoryHandle, `${path}${entry.name}/`);
      else entries.push(`opfs:${path}${entry.name}`);
    }
  };
  const root = await navigator.storage.getDirectory();
  const folder = await root.getDirectoryHandle(name).catch(() => undefined);
  if (folder) await walk(folder, '');
  return entries;
}

/** sha256 of each cached file, read back through the cache (WebCrypto, one shot). */
async function cachedDigests(url: string, cacheOptions: ModelCacheOptions): Promise<Record<string, string>> {
  const cache = await openStoredModelCache(cacheOptions);
  const record = (await cache.record(url))!;
  const out: Record<string, string> = {};
  for (const file of record.files) {
    const bytes = (await cache.backend.read(cache.fileKey(record, file.path)))!;
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
    out[file.path] = [...digest].map((b) => b.toString(16).padStart(2, '0')).join('');
  }
  return out;
}

async function cacheState(cacheOptions: ModelCacheOptions, url: string): Promise<{ list: unknown[]; check?: unknown }> {
  const cache = await openModelCache(cacheOptions);
  const list = await cache.list();
  return list.length ? { list, check: await cache.check(url) } : { list };
}

async function remove(cacheOptions: ModelCacheOptions, url: string): Promise<boolean> {
  return (await openModelCache(cacheOptions)).delete(url);
}

/** Empties both stores (between tests, so one failure does not cascade). */
async function clear(name: string): Promise<void> {
  await caches.delete(name);
  await (await navigator.storage.getDirectory()).removeEntry(name, { recursive: true }).catch(() => undefined);
}

Object.assign(globalThis, { localm: { download, storedEntries, cachedDigests, cacheState, remove, clear, crossOriginIsolated: globalThis.crossOriginIsolated } });
