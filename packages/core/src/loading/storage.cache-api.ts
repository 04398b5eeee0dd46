// A StorageBackend in the browser's Cache API. An entry cannot be appended to, so a blob is a run of
// parts (`<key>?write=W&part=N`, up to PART_BYTES each) and an index entry (`<key>?index`) put last,
// naming write W: a blob without its index is not there, replacing a blob swaps the index in one put,
// and abort deletes the parts it wrote.

import { blobRanges, concatBytes, estimateBrowserQuota, type BlobRanges, type BlobWriter, type StorageBackend } from './storage.js';

const PART_BYTES = 16 << 20; // a part is held in memory until it is put
const ORIGIN = 'https://localm.invalid/'; // entries are ours, not responses of that URL

interface BlobIndex {
  write: string;
  parts: number;
  sizeBytes: number;
}

const urlOf = (key: string, suffix: string): string => `${ORIGIN}${key.split('/').map(encodeURIComponent).join('/')}?${suffix}`;
const keyOf = (url: string): string => new URL(url).pathname.slice(1).split('/').map(decodeURIComponent).join('/');

export async function openCacheApiStorage(name: string): Promise<StorageBackend> {
  return new CacheApiStorage(await caches.open(name), name);
}

class CacheApiStorage implements StorageBackend {
  readonly kind = 'cache-api';

  constructor(
    private readonly cache: Cache,
    readonly location: string,
  ) {}

  availableBytes(): Promise<number | undefined> {
    return estimateBrowserQuota();
  }

  async write(key: string): Promise<BlobWriter> {
    const write = Math.random().toString(36).slice(2, 10);
    const partUrl = (i: number): string => urlOf(key, `write=${write}&part=${i}`);
    const pending: Uint8Array[] = [];
    let pendingBytes = 0;
    let parts = 0;
    let sizeBytes = 0;
    const flush = async (): Promise<void> => {
      const part = concatBytes(pending, pendingBytes);
      pending.length = 0;
      pendingBytes = 0;
      await this.cache.put(partUrl(parts), new Response(part, { headers: { 'content-type': 'application/octet-stream' } }));
      parts++;
    };
    return {
      write: async (chunk) => {
        pending.push(chunk.slice());
        pendingBytes += chunk.length;
        sizeBytes += chunk.length;
        if (pendingBytes >= PART_BYTES) await flush();
      },
      close: async () => {
        if (pendingBytes > 0 || parts === 0) await flush();
        const index: BlobIndex = { write, parts, sizeBytes };
        const previous = await this.#index(key);
        await this.cache.put(urlOf(key, 'index'), Response.json(index));
        if (previous) for (let i = 0; i < previous.parts; i++) await this.cache.delete(urlOf(key, `write=${previous.write}&part=${i}`));
      },
      abort: async () => {
        pending.length = 0;
        for (let i = 0; i < parts; i++) await this.cache.delete(partUrl(i)).catch(() => false);
      },
    };
  }

  async #index(key: string): Promise<BlobIndex | undefined> {
    const response = await this.cache.match(urlOf(key, 'index'));
    return response && ((await response.json()) as BlobIndex);
  }

  async read(key: string): Promise<Uint8Array | undefined> {
    const chunks = await this.readChunks(key);
    if (!chunks) return undefined;
    const index = (await this.#index(key))!;
    const pieces: Uint8Array[] = [];
    for await (const chunk of chunks) pieces.push(chunk);
    return pieces.length === 1 && pieces[0]!.length === index.sizeBytes ? pieces[0]! : concatBytes(pieces, index.sizeBytes);
  }

  async readRanges(key: string): Promise<BlobRanges | undefined> {
    const index = await this.#index(key);
    if (!index) return undefined;
    const blobs: Blob[] = [];
    for (let i = 0; i < index.parts; i++) {
      const part = await this.cache.match(urlOf(key, `write=${index.write}&part=${i}`));
      if (!part) throw new Error(`${key}: part ${i} of ${index.parts} is missing from the Cache API`);
      blobs.push(await part.blob()); // Chromium backs a cached response's Blob by the cache on disk
    }
    return blobRanges(blobs, key);
  }

  async readChunks(key: string): Promise<AsyncIterable<Uint8Array> | undefined> {
    const index = await this.#index(key);
    if (!index) return undefined;
    const cache = this.cache;
    return (async function* () {
      for (let i = 0; i < index.parts; i++) {
        const part = await cache.match(urlOf(key, `write=${index.write}&part=${i}`));
        if (!part) throw new Error(`${key}: part ${i} of ${index.parts} is missing from the Cache API`);
        yield new Uint8Array(await part.arrayBuffer());
      }
    })();
  }

  async keys(prefix: string): Promise<string[]> {
    const requests = await this.cache.keys();
    return requests
      .filter((r) => r.url.endsWith('?index'))
      .map((r) => keyOf(r.url))
      .filter((k) => k.startsWith(prefix))
      .sort();
  }

  async remove(prefix: string): Promise<void> {
    // Index entries first: a blob whose parts are going is already not there.
    const requests = await this.cache.keys();
    const ours = requests.filter((r) => {
      const key = keyOf(r.url);
      return key === prefix || key.startsWith(`${prefix}/`);
    });
    ours.sort((a, b) => Number(b.url.endsWith('?index')) - Number(a.url.endsWith('?index')));
    for (const request of ours) await this.cache.delete(request);
  }

  localPath(): undefined {
    return undefined;
  }
}
