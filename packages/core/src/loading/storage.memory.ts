// A StorageBackend in memory: for `cache: false` downloads, which keep nothing after the model is read.

import { concatBytes, type BlobWriter, type StorageBackend } from './storage.js';

export class MemoryStorage implements StorageBackend {
  readonly kind = 'memory';
  readonly location = 'memory';
  readonly #blobs = new Map<string, Uint8Array>();

  async availableBytes(): Promise<undefined> {
    return undefined;
  }

  async write(key: string): Promise<BlobWriter> {
    const pieces: Uint8Array[] = [];
    return {
      write: async (chunk) => void pieces.push(chunk.slice()),
      close: async () => void this.#blobs.set(key, concatBytes(pieces)),
      abort: async () => void pieces.splice(0),
    };
  }

  async read(key: string): Promise<Uint8Array | undefined> {
    return this.#blobs.get(key);
  }

  async readChunks(key: string): Promise<AsyncIterable<Uint8Array> | undefined> {
    const blob = this.#blobs.get(key);
    return blob && (async function* () { yield blob; })();
  }

  async keys(prefix: string): Promise<string[]> {
    return [...this.#blobs.keys()].filter((k) => k.startsWith(prefix));
  }

  async remove(prefix: string): Promise<void> {
    for (const key of [...this.#blobs.keys()]) if (key === prefix || key.startsWith(`${prefix}/`)) this.#blobs.delete(key);
  }

  localPath(): undefined {
    return undefined;
  }
}
