// The model cache: which models are stored, under which keys, and the commit that makes a download
// one of them. A model's files are written under a fresh download id; its record, written last,
// is what makes it cached, so a download that fails or stops leaves no cached model. Fetching is
// download.ts's job; bytes are the StorageBackend's.

import { detectCapabilities } from '@localm/backend';
import { LocalmError } from '@localm/errors';
import { sha256Hex } from './sha256.js';
import { putBlob, type StorageBackend, type StorageKind } from './storage.js';
import { MemoryStorage } from './storage.memory.js';

/** A file of a cached model. */
export interface CachedFile {
  path: string; // relative to the model folder, '/'-separated
  sizeBytes: number;
  sha256: string; // computed while downloading, checked against the manifest or pin when there was one
}

/** A model in the cache. */
export interface CachedModel {
  url: string; // the model folder's URL, ending in '/'
  files: CachedFile[];
  sizeBytes: number; // all files together
  cachedAt: string; // ISO 8601, when the download finished
}

/** What `check()` found wrong with one file. */
export interface CacheProblem {
  path: string;
  problem: 'missing' | 'size' | 'sha256';
  expected?: string | number;
  actual?: string | number;
}

/** The result of re-reading a cached model's files. */
export interface CacheCheck {
  url: string;
  ok: boolean; // no problems
  problems: CacheProblem[];
}

/** The models a cache holds. Get one with `openModelCache()`. */
export interface ModelCache {
  readonly storage: StorageKind;
  readonly location: string; // a folder, a Cache API cache name or an OPFS folder
  /** Every cached model, by URL. */
  list(): Promise<CachedModel[]>;
  /** Whether `url` is cached (complete: partial downloads never count). */
  isCached(url: string | URL): Promise<boolean>;
  /** Re-reads every file of a cached model and compares sizes and sha256 with its record. Throws `not_found` when it is not cached. */
  check(url: string | URL): Promise<CacheCheck>;
  /** Removes a cached model; false when there was none. */
  delete(url: string | URL): Promise<boolean>;
  /** Removes files of downloads that never finished (a closed tab, a killed process); returns how many. */
  prune(): Promise<number>;
}

export interface ModelCacheOptions {
  storage?: 'auto' | StorageKind; // default 'auto': the Cache API in a browser, a folder in Node, else memory
  directory?: string; // fs: default $LOCALM_CACHE_DIR, else $XDG_CACHE_HOME/localm, else ~/.cache/localm
  name?: string; // cache-api: the cache's name; opfs: the folder's; default 'localm-models'
  maxBytes?: number; // the most all cached models may take together; beyond it a download fails with out_of_memory
}

export const DEFAULT_CACHE_NAME = 'localm-models';

/** A cached model as its record stores it. */
export interface CacheRecord extends CachedModel {
  version: 1;
  id: string; // the model's key: the first 32 hex digits of sha256(url)
  download: string; // the files are under blobs/<id>/<download>/
}

/** The model folder URL every cache key and record uses: http(s), ending in '/', no fragment. */
export function normalizeModelUrl(source: string | URL): string {
  let url: URL;
  try {
    url = new URL(source);
  } catch (cause) {
    throw new LocalmError('invalid_argument', `${String(source)} is not a URL`, { cause });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new LocalmError('invalid_argument', `${url.href}: only http(s) model URLs can be downloaded`);
  url.hash = '';
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  return url.href;
}

const modelId = async (url: string): Promise<string> => (await sha256Hex(new TextEncoder().encode(url))).slice(0, 32);
const recordKey = (id: string): string => `records/${id}.json`;
const activeDownloads = new Set<string>(); // `${location} ${blob prefix}` of downloads running in this realm

/** One download being written into the cache; `commit` makes it the cached model, `discard` removes it. */
export interface PendingDownload {
  key(path: string): string;
  commit(url: string, files: CachedFile[]): Promise<CacheRecord>;
  discard(): Promise<void>;
}

/** The cache behind the ModelCache interface, with what download.ts and model-store.ts need. */
export class StoredModelCache implements ModelCache {
  constructor(
    readonly backend: StorageBackend,
    private readonly maxBytes: number | undefined,
  ) {}

  get storage(): StorageKind {
    return this.backend.kind;
  }

  get location(): string {
    return this.backend.location;
  }

  async list(): Promise<CachedModel[]> {
    const models: CachedModel[] = [];
    for (const key of await this.backend.keys('records/')) {
      const record = await this.#readRecord(key);
      if (record) models.push(publicModel(record));
    }
    return models.sort((a, b) => a.url.localeCompare(b.url));
  }

  async isCached(url: string | URL): Promise<boolean> {
    return (await this.record(url)) !== undefined;
  }

  async check(url: string | URL): Promise<CacheCheck> {
    const record = await this.record(url);
    if (!record) throw new LocalmError('not_found', `${normalizeModelUrl(url)} is not in the model cache (${this.location})`);
    const problems: CacheProblem[] = [];
    for (const file of record.files) {
      const chunks = await this.backend.readChunks(this.fileKey(record, file.path));
      if (!chunks) {
        problems.push({ path: file.path, problem: 'missing' });
        continue;
      }
      let sizeBytes = 0;
      const counted = (async function* () {
        for await (const chunk of chunks) {
          sizeBytes += chunk.length;
          yield chunk;
        }
      })();
      const digest = await sha256Hex(counted);
      if (sizeBytes !== file.sizeBytes) problems.push({ path: file.path, problem: 'size', expected: file.sizeBytes, actual: sizeBytes });
      else if (digest !== file.sha256) problems.push({ path: file.path, problem: 'sha256', expected: file.sha256, actual: digest });
    }
    return { url: record.url, ok: problems.length === 0, problems };
  }

  async delete(url: string | URL): Promise<boolean> {
    const id = await modelId(normalizeModelUrl(url));
    const had = (await this.backend.keys(recordKey(id))).length > 0 || (await this.backend.keys(`blobs/${id}/`)).length > 0;
    // The record goes first: from then on the model is not cached, whatever happens to its files.
    await this.backend.remove(recordKey(id));
    await this.backend.remove(`blobs/${id}`);
    return had;
  }

  async prune(): Promise<number> {
    const kept = new Set<string>();
    for (const key of await this.backend.keys('records/')) {
      const record = await this.#readRecord(key);
      if (record) kept.add(`blobs/${record.id}/${record.download}`);
    }
    const stale = new Set<string>();
    for (const key of await this.backend.keys('blobs/')) {
      const prefix = key.split('/').slice(0, 3).join('/');
      if (!kept.has(prefix) && !activeDownloads.has(`${this.location} ${prefix}`)) stale.add(prefix);
    }
    for (const prefix of stale) await this.backend.remove(prefix);
    return stale.size;
  }

  /** The record of a cached model, or undefined. */
  async record(url: string | URL): Promise<CacheRecord | undefined> {
    const normalized = normalizeModelUrl(url);
    const record = await this.#readRecord(recordKey(await modelId(normalized)));
    return record?.url === normalized ? record : undefined;
  }

  fileKey(record: CacheRecord, path: string): string {
    return `blobs/${record.id}/${record.download}/${path}`;
  }

  /** Bytes a download may still write: the storage's free space, within `maxBytes`. */
  async availableBytes(): Promise<number | undefined> {
    const free = await this.backend.availableBytes();
    if (this.maxBytes === undefined) return free;
    const used = (await this.list()).reduce((n, m) => n + m.sizeBytes, 0);
    return Math.min(free ?? Infinity, Math.max(0, this.maxBytes - used));
  }

  /** Starts a download of `url` under a fresh id. */
  async begin(url: string): Promise<PendingDownload> {
    const id = await modelId(url);
    const download = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
    const prefix = `blobs/${id}/${download}`;
    const marker = `${this.location} ${prefix}`;
    activeDownloads.add(marker);
    const before = (await this.record(url))?.download;
    return {
      key: (path) => `${prefix}/${path}`,
      commit: (normalizedUrl, files) => withLock(`localm-commit ${this.location} ${id}`, async () => {
        const previous = await this.record(normalizedUrl);
        // Another load of the same model (this page, another tab) committed the same files while this one
        // ran: keep theirs, whose files a model may be reading now, and drop ours.
        if (previous && previous.download !== before && sameFiles(previous.files, files)) {
          await this.backend.remove(prefix);
          activeDownloads.delete(marker);
          return previous;
        }
        const record: CacheRecord = {
          version: 1,
          url: normalizedUrl,
          id,
          download,
          files,
          sizeBytes: files.reduce((n, f) => n + f.sizeBytes, 0),
          cachedAt: new Date().toISOString(),
        };
        await putBlob(this.backend, recordKey(id), new TextEncoder().encode(JSON.stringify(record)));
        activeDownloads.delete(marker);
        if (previous && previous.download !== download) await this.backend.remove(`blobs/${id}/${previous.download}`).catch(() => undefined);
        return record;
      }),
      discard: async () => {
        try {
          await this.backend.remove(prefix);
        } finally {
          activeDownloads.delete(marker);
        }
      },
    };
  }

  async #readRecord(key: string): Promise<CacheRecord | undefined> {
    const bytes = await this.backend.read(key);
    if (!bytes) return undefined;
    try {
      const record = JSON.parse(new TextDecoder().decode(bytes)) as CacheRecord;
      return record.version === 1 && typeof record.url === 'string' && /^[0-9a-f]{32}$/.test(record.id) && /^[0-9a-z-]+$/.test(record.download) && Array.isArray(record.files) ? record : undefined;
    } catch {
      return undefined; // a record being written (OPFS shows the file at once) or damaged: not cached
    }
  }
}

const locks = new Map<string, Promise<unknown>>();

/** Runs `fn` alone among commits of one model: across tabs with Web Locks where there are some, else in this realm. */
function withLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const webLocks = (globalThis as { navigator?: { locks?: { request(name: string, fn: () => Promise<T>): Promise<T> } } }).navigator?.locks;
  if (webLocks) return webLocks.request(name, fn);
  const run = (locks.get(name) ?? Promise.resolve()).then(fn, fn);
  const settled = run.catch(() => undefined);
  locks.set(name, settled);
  void settled.then(() => locks.get(name) === settled && locks.delete(name));
  return run;
}

function sameFiles(a: readonly CachedFile[], b: readonly CachedFile[]): boolean {
  return a.length === b.length && a.every((f, i) => f.path === b[i]!.path && f.sha256 === b[i]!.sha256 && f.sizeBytes === b[i]!.sizeBytes);
}

export function publicModel(record: CacheRecord): CachedModel {
  return { url: record.url, files: record.files, sizeBytes: record.sizeBytes, cachedAt: record.cachedAt };
}

let defaultCache: Promise<StoredModelCache> | undefined;

/**
 * Opens a model cache: the Cache API (or OPFS) in a browser, a folder on disk in Node.
 * @example
 * const cache = await openModelCache();
 * for (const m of await cache.list()) console.log(m.url, m.sizeBytes);
 * await cache.delete('https://example.com/models/stories260k/');
 */
export function openModelCache(options: ModelCacheOptions = {}): Promise<ModelCache> {
  return openStoredModelCache(options);
}

/** openModelCache for the loaders in this folder; the one without options is opened once. */
export function openStoredModelCache(options: ModelCacheOptions = {}): Promise<StoredModelCache> {
  if (options.maxBytes !== undefined && !(options.maxBytes >= 0)) throw new LocalmError('invalid_argument', `maxBytes must be a number of bytes >= 0, got ${options.maxBytes}`);
  const isDefault = Object.values(options).every((v) => v === undefined);
  if (isDefault && defaultCache) return defaultCache;
  const opening = openBackend(options).then((backend) => new StoredModelCache(backend, options.maxBytes));
  if (isDefault) defaultCache = opening.catch((err: unknown) => {
    defaultCache = undefined;
    throw err;
  });
  return opening;
}

async function openBackend(options: ModelCacheOptions): Promise<StorageBackend> {
  const name = options.name ?? DEFAULT_CACHE_NAME;
  const g = globalThis as { caches?: unknown; navigator?: { storage?: { getDirectory?: unknown } } };
  let kind = options.storage ?? 'auto';
  if (kind === 'auto') {
    if (options.directory !== undefined || detectCapabilities().node) kind = 'fs';
    else if (g.caches !== undefined) kind = 'cache-api';
    else if (g.navigator?.storage?.getDirectory !== undefined) kind = 'opfs';
    else kind = 'memory'; // e.g. a page served over plain http, which has neither
  }
  switch (kind) {
    case 'fs': {
      const { defaultCacheDirectory, openFsStorage } = await import('./storage.fs.js');
      return openFsStorage(options.directory ?? (await defaultCacheDirectory()));
    }
    case 'cache-api': {
      if (g.caches === undefined) throw new LocalmError('invalid_argument', 'the Cache API is not available here (it needs a secure context: https or localhost)');
      return (await import('./storage.cache-api.js')).openCacheApiStorage(name);
    }
    case 'opfs': {
      if (g.navigator?.storage?.getDirectory === undefined) throw new LocalmError('invalid_argument', 'OPFS (navigator.storage.getDirectory) is not available here');
      return (await import('./storage.opfs.js')).openOpfsStorage(name);
    }
    case 'memory':
      return new MemoryStorage();
    default:
      throw new LocalmError('invalid_argument', `unknown cache storage '${String(kind)}' (use 'auto', 'fs', 'cache-api', 'opfs' or 'memory')`);
  }
}
