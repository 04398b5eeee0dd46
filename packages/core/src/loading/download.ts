// Downloads a model folder from a URL into a model cache: lists its files (localm.json, or HEAD on
// the Hugging Face ONNX layout), checks the storage quota, fetches each file with resume, hashes it
// while it streams, and commits the whole model or nothing.

import { LocalmError } from '@localm/errors';
import { applyPins, DEFAULT_MODEL_FILES, MANIFEST_FILE, MAX_MANIFEST_BYTES, parseManifest, type ModelFile } from './manifest.js';
import { normalizeModelUrl, openStoredModelCache, publicModel, StoredModelCache, type CachedFile, type CachedModel, type CacheRecord, type ModelCache } from './model-cache.js';
import { ProgressReporter, type LoadProgress } from './progress.js';
import { DEFAULT_RETRIES, DEFAULT_RETRY_DELAY_MS, fetchWithResume } from './range-fetch.js';
import { Sha256 } from './sha256.js';
import type { BlobWriter } from './storage.js';
import { MemoryStorage } from './storage.memory.js';

export interface DownloadOptions {
  cache?: ModelCache | false; // default: openModelCache(); false keeps the files in memory only
  onProgress?: (progress: LoadProgress) => void; // at most every ~100 ms, and once at the end
  signal?: AbortSignal; // stops the download; its reason is rethrown and nothing is cached
  sha256?: Readonly<Record<string, string>>; // file path → hex digest; wins over localm.json's
  retries?: number; // failures in a row before a file's download fails; default 5
  retryDelayMs?: number; // before the first retry, doubling; default 500
}

interface FileToFetch extends ModelFile {
  required: boolean; // false: a HEAD could not tell, skip the file if GET finds nothing
  sha256Source?: 'localm.json' | 'pinned';
  sizeFromManifest: boolean;
}

/**
 * Downloads a model folder into the cache, or finds it there (no network then), and returns what is cached.
 * @example
 * const model = await downloadModel('https://example.com/models/stories260k/', {
 *   onProgress: ({ loadedBytes, totalBytes }) => bar.value = loadedBytes / totalBytes,
 * });
 */
export async function downloadModel(source: string | URL, options: DownloadOptions = {}): Promise<CachedModel> {
  return publicModel((await downloadToCache(source, options)).record);
}

/** downloadModel, returning the cache it used (a memory one for `cache: false`) for model-store.ts. */
export async function downloadToCache(source: string | URL, options: DownloadOptions): Promise<{ cache: StoredModelCache; record: CacheRecord }> {
  const url = normalizeModelUrl(source);
  const { signal } = options;
  signal?.throwIfAborted();
  const cache = await resolveCache(options.cache);
  const progress = new ProgressReporter(options.onProgress);

  const cached = await cache.record(url);
  if (cached && matchesPins(cached.files, options.sha256)) {
    progress.done(cached.sizeBytes, cached.files.at(-1)?.path ?? '');
    return { cache, record: cached };
  }

  const files = await listFiles(url, options.sha256, signal);
  const totalBytes = files.reduce((n, f) => n + (f.sizeBytes ?? 0), 0);
  const availableBytes = await cache.availableBytes();
  if (availableBytes !== undefined && totalBytes > availableBytes) {
    throw new LocalmError(
      'out_of_memory',
      `${url} needs ${formatBytes(totalBytes)} but the model cache (${cache.storage}: ${cache.location}) has ${formatBytes(availableBytes)} free: ` +
        'delete cached models (openModelCache().delete) or free storage, then load again',
      { details: { neededBytes: totalBytes, availableBytes, storage: cache.storage } },
    );
  }

  progress.start(totalBytes, files[0]?.path ?? '');
  const pending = await cache.begin(url);
  let writer: BlobWriter | undefined;
  try {
    const stored: CachedFile[] = [];
    for (const file of files) {
      const key = pending.key(file.path);
      writer = await cache.backend.write(key);
      let hash = new Sha256();
      let sizeBytes = 0;
      const fileUrl = new URL(file.path.split('/').map(encodeURIComponent).join('/'), url).href;
      try {
        await fetchWithResume(fileUrl, file.path, {
          signal,
          expectedBytes: file.sizeBytes,
          retries: options.retries ?? DEFAULT_RETRIES,
          retryDelayMs: options.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS,
          onChunk: async (chunk) => {
            if (file.sizeFromManifest && sizeBytes + chunk.length > file.sizeBytes!) {
              throw new LocalmError('checksum_mismatch', `${file.path} from ${url} is larger than the ${file.sizeBytes} bytes ${MANIFEST_FILE} gives`, { details: { file: file.path } });
            }
            await writer!.write(chunk);
            hash.update(chunk);
            sizeBytes += chunk.length;
            progress.add(file.path, chunk.length);
          },
          onRestart: async (bytes) => {
            await writer!.abort();
            writer = await cache.backend.write(key);
            hash = new Sha256();
            sizeBytes = 0;
            progress.retract(bytes);
          },
        });
      } catch (err) {
        if (!file.required && !file.sizeFromManifest && (err as LocalmError).details?.['status'] === 404) {
          await writer.abort();
          writer = undefined;
          continue;
        }
        throw err;
      }
      const digest = hash.digestHex();
      if (file.sizeFromManifest && sizeBytes !== file.sizeBytes) {
        throw new LocalmError('checksum_mismatch', `${file.path} from ${url} has ${sizeBytes} bytes; ${MANIFEST_FILE} gives ${file.sizeBytes}`, { details: { file: file.path } });
      }
      if (file.sha256 !== undefined && digest !== file.sha256) {
        throw new LocalmError(
          'checksum_mismatch',
          `${file.path} from ${url} has sha256 ${digest}, not the ${file.sha256Source === 'pinned' ? 'pinned' : MANIFEST_FILE} ${file.sha256}: the file on the server is not the expected one`,
          { details: { file: file.path, expected: file.sha256, actual: digest } },
        );
      }
      await writer.close();
      writer = undefined;
      stored.push({ path: file.path, sizeBytes, sha256: digest });
    }
    const record = await pending.commit(url, stored);
    progress.finish();
    return { cache, record };
  } catch (err) {
    await writer?.abort();
    await pending.discard().catch(() => undefined);
    if (signal?.aborted) throw signal.reason;
    if (isOutOfSpace(err)) {
      throw new LocalmError('out_of_memory', `the model cache (${cache.storage}: ${cache.location}) ran out of space while downloading ${url}: delete cached models or free storage`, { cause: err });
    }
    throw err;
  }
}

async function resolveCache(cache: ModelCache | false | undefined): Promise<StoredModelCache> {
  if (cache === false) return new StoredModelCache(new MemoryStorage(), undefined);
  if (cache === undefined) return openStoredModelCache();
  if (cache instanceof StoredModelCache) return cache;
  throw new LocalmError('invalid_argument', 'options.cache must come from openModelCache(), or be false');
}

function matchesPins(files: readonly CachedFile[], pins: Readonly<Record<string, string>> | undefined): boolean {
  const pinned = applyPins(files.map((f) => ({ ...f })), pins); // throws invalid_argument for a pin of no file
  return pinned.every((f, i) => f.sha256 === files[i]!.sha256);
}

/** The model's files with sizes (and digests where known), before any of them is fetched. */
async function listFiles(url: string, pins: Readonly<Record<string, string>> | undefined, signal: AbortSignal | undefined): Promise<FileToFetch[]> {
  const manifestUrl = new URL(MANIFEST_FILE, url).href;
  const response = await request(manifestUrl, 'GET', signal);
  if (response.ok) {
    const manifest = parseManifest(await readManifestBody(response, manifestUrl), manifestUrl);
    return applyPins(manifest, pins).map((f) => ({
      ...f,
      required: true,
      sizeFromManifest: true,
      ...(f.sha256 === undefined ? {} : { sha256Source: pins?.[f.path] === undefined ? ('localm.json' as const) : ('pinned' as const) }),
    }));
  }
  await response.body?.cancel();
  if (response.status !== 404 && response.status !== 410) {
    throw new LocalmError('not_found', `cannot read ${manifestUrl}: HTTP ${response.status} ${response.statusText}`, { details: { url: manifestUrl, status: response.status } });
  }
  // No manifest: the Hugging Face ONNX layout, sized by HEAD.
  const heads = await Promise.all(
    DEFAULT_MODEL_FILES.map(async ({ path, required }) => {
      const head = await request(new URL(path, url).href, 'HEAD', signal);
      await head.body?.cancel();
      if (head.status === 404 || head.status === 410) {
        if (required) throw new LocalmError('not_found', `${url} has no ${path} (and no ${MANIFEST_FILE}): is it a model folder in the Hugging Face ONNX layout?`, { details: { url, file: path } });
        return undefined;
      }
      // 405/501: a server without HEAD; the size is learned from the GET, and a missing optional file skipped then.
      const known = head.ok && !head.headers.get('content-encoding') ? head.headers.get('content-length') : null;
      if (!head.ok && head.status !== 405 && head.status !== 501) {
        throw new LocalmError('not_found', `cannot read ${new URL(path, url).href}: HTTP ${head.status} ${head.statusText}`, { details: { url, file: path, status: head.status } });
      }
      const file: FileToFetch = { path, required: required || head.ok, sizeFromManifest: false };
      if (known !== null && /^\d+$/.test(known)) file.sizeBytes = Number(known);
      return file;
    }),
  );
  const files = heads.filter((f): f is FileToFetch => f !== undefined);
  return applyPins(files, pins).map((f, i) => ({
    ...files[i]!,
    ...f,
    ...(f.sha256 === undefined ? {} : { sha256Source: 'pinned' as const }),
  }));
}

/** The manifest's bytes, read no further than MAX_MANIFEST_BYTES: a hostile server may send gigabytes. */
async function readManifestBody(response: Response, url: string): Promise<Uint8Array> {
  const tooBig = (): LocalmError => new LocalmError('corrupt_model', `${url} is over ${MAX_MANIFEST_BYTES} bytes: not a model manifest`, { details: { url } });
  if (Number(response.headers.get('content-length')) > MAX_MANIFEST_BYTES) {
    await response.body?.cancel();
    throw tooBig();
  }
  if (!response.body) return new Uint8Array(await response.arrayBuffer());
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let length = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    length += value.length;
    if (length > MAX_MANIFEST_BYTES) {
      await reader.cancel();
      throw tooBig();
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(length);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.length;
  }
  return bytes;
}

async function request(url: string, method: 'GET' | 'HEAD', signal: AbortSignal | undefined): Promise<Response> {
  try {
    return await fetch(url, { method, cache: 'no-store', ...(signal ? { signal } : {}) });
  } catch (cause) {
    if (signal?.aborted) throw signal.reason;
    throw new LocalmError('not_found', `cannot fetch ${url}: ${String(cause)}`, { cause, details: { url } });
  }
}

function isOutOfSpace(err: unknown): boolean {
  const e = err as { name?: string; code?: string } | null;
  return e?.name === 'QuotaExceededError' || e?.code === 'ENOSPC' || e?.code === 'EDQUOT';
}

function formatBytes(bytes: number): string {
  return bytes >= 1 << 20 ? `${(bytes / (1 << 20)).toFixed(1)} MiB` : `${bytes} bytes`;
}
