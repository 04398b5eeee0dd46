// The byte store under the model cache: named blobs, written in pieces and readable back. One
// implementation per place (a folder on disk, the Cache API, OPFS, memory), side by side in
// storage.*.ts. Knows nothing of models, URLs or hashes; model-cache.ts gives the keys meaning.

/** Where cached models are kept. */
export type StorageKind = 'fs' | 'cache-api' | 'opfs' | 'memory';

/** One blob being written. Nothing is readable under its key until `close()` resolves. */
export interface BlobWriter {
  write(chunk: Uint8Array): Promise<void>;
  /** Makes the blob complete and readable. */
  close(): Promise<void>;
  /** Drops everything written; never throws. */
  abort(): Promise<void>;
}

/**
 * Keys are '/'-separated relative paths that model-cache.ts builds from checked parts
 * (`records/<id>.json`, `blobs/<id>/<download>/onnx/model.onnx`).
 */
export interface StorageBackend {
  readonly kind: StorageKind;
  readonly location: string; // for messages: a folder, a Cache API cache name, an OPFS folder
  /** Bytes that may still be written here, or undefined where the platform cannot say. */
  availableBytes(): Promise<number | undefined>;
  /** Starts writing `key`, replacing any blob there when closed. */
  write(key: string): Promise<BlobWriter>;
  /** The whole blob, or undefined when there is none. */
  read(key: string): Promise<Uint8Array | undefined>;
  /** The blob in pieces (to hash a large file without holding it), or undefined when there is none. */
  readChunks(key: string): Promise<AsyncIterable<Uint8Array> | undefined>;
  /** Byte ranges of the blob without reading all of it, where the place allows; undefined when there is none. */
  readRanges?(key: string): Promise<BlobRanges | undefined>;
  /** Keys of the complete blobs whose key starts with `prefix`. */
  keys(prefix: string): Promise<string[]>;
  /** Removes the blob `prefix` and every blob under `prefix/`. */
  remove(prefix: string): Promise<void>;
  /** A filesystem path for the blob, where it has one (the native runtime reads files itself). */
  localPath(key: string): string | undefined;
}

/** Byte ranges of one stored blob; `close()` when done. */
export interface BlobRanges {
  readonly size: number;
  read(offset: number, target: Uint8Array): Promise<void>;
  close(): Promise<void>;
}

/**
 * Ranges over Blobs laid end to end (an OPFS File, the Cache API's parts): `slice()` reads only what is
 * asked, where a whole `arrayBuffer()` would hold the file in memory next to its copy in WASM.
 */
export function blobRanges(blobs: readonly Blob[], name: string): BlobRanges {
  const starts: number[] = [];
  let size = 0;
  for (const blob of blobs) {
    starts.push(size);
    size += blob.size;
  }
  return {
    size,
    async read(offset, target) {
      const end = offset + target.byteLength;
      if (offset < 0 || end > size) throw new RangeError(`${name}: bytes ${offset}-${end} are outside its ${size} bytes`);
      for (let i = 0, done = 0; i < blobs.length && done < target.byteLength; i++) {
        const from = Math.max(offset + done, starts[i]!);
        const to = Math.min(end, starts[i]! + blobs[i]!.size);
        if (from >= to) continue;
        target.set(new Uint8Array(await blobs[i]!.slice(from - starts[i]!, to - starts[i]!).arrayBuffer()), from - offset);
        done = to - offset;
      }
    },
    close: async () => undefined,
  };
}

/** Writes a whole small blob (a record) so that readers see the old bytes or the new, never a mix. */
export async function putBlob(storage: StorageBackend, key: string, bytes: Uint8Array): Promise<void> {
  const writer = await storage.write(key);
  try {
    await writer.write(bytes);
    await writer.close();
  } catch (err) {
    await writer.abort();
    throw err;
  }
}

/** Joins pieces into one array of `length` bytes (or of their total length). */
export function concatBytes(pieces: readonly Uint8Array[], length?: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(length ?? pieces.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const piece of pieces) {
    out.set(piece, at);
    at += piece.length;
  }
  return out;
}

/** The origin's free quota in a browser (`navigator.storage.estimate()`), or undefined without one. */
export async function estimateBrowserQuota(): Promise<number | undefined> {
  const storage = (globalThis as { navigator?: { storage?: { estimate?: () => Promise<{ quota?: number; usage?: number }> } } }).navigator?.storage;
  if (!storage?.estimate) return undefined;
  const { quota, usage } = await storage.estimate();
  return quota === undefined ? undefined : Math.max(0, quota - (usage ?? 0));
}
