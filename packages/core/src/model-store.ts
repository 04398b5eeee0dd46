// Reads the files of a model folder from where the caller has it: a local path, an http(s) URL (through
// the model cache, see loading/), or files the user picked. Checks sizes and sha256 where a manifest or
// the caller gives them. Knows file names, not their contents.

import { LocalmError } from '@localm/errors';
import { downloadToCache } from './loading/download.js';
import { openPickedFiles } from './loading/file-source.js';
import { applyPins, MANIFEST_FILE, parseManifest, type ModelFile } from './loading/manifest.js';
import type { ModelCache } from './loading/model-cache.js';
import type { LoadProgress } from './loading/progress.js';
import { sha256Hex } from './loading/sha256.js';

/** A model folder: a path, an http(s) URL, or the files of a folder the user picked. */
export type ModelSource = string | URL | readonly File[] | FileList;

/** How openModelStore reaches the files. */
export interface ModelStoreOptions {
  onProgress?: ((progress: LoadProgress) => void) | undefined; // downloads (and cache hits: one call)
  signal?: AbortSignal | undefined;
  cache?: ModelCache | false | undefined; // URLs only; default openModelCache()
  sha256?: Readonly<Record<string, string>> | undefined; // file path → hex digest; checked for every source
}

/** Where a model folder's files come from. */
export interface ModelStore {
  readonly location: string; // for messages
  /** The file's bytes, or undefined when it does not exist. */
  read(name: string): Promise<Uint8Array | undefined>;
  /** A local filesystem path for the file, where there is one (the native runtime maps it itself). */
  localPath(name: string): string | undefined;
  /**
   * Reads parts of a file without holding all of it, where the source allows (a local path, a picked
   * File); undefined otherwise, or when the file must be checked whole against a digest first.
   */
  openRanges?(name: string): Promise<RangeReader | undefined>;
}

/** Byte ranges of one file; `close()` when done. */
export interface RangeReader {
  readonly size: number;
  read(offset: number, target: Uint8Array): Promise<void>;
  close(): Promise<void>;
}

/** Opens a folder path, an http(s) URL or picked files. Throws `not_found` for a missing local folder. */
export async function openModelStore(source: ModelSource, options: ModelStoreOptions = {}): Promise<ModelStore> {
  options.signal?.throwIfAborted();
  if (source instanceof URL && source.protocol === 'file:') return withChecks(await openLocalStore(decodeURIComponent(source.pathname)), options.sha256);
  if (source instanceof URL || (typeof source === 'string' && /^https?:\/\//i.test(source))) return openCachedStore(source, options);
  if (typeof source === 'string') return withChecks(await openLocalStore(source), options.sha256);
  if (typeof source === 'object' && source !== null && typeof (source as ArrayLike<File>).length === 'number') {
    const picked = openPickedFiles(source);
    return withChecks({ location: picked.location, read: (name) => picked.read(name), localPath: () => undefined, openRanges: (name) => picked.openRanges(name) }, options.sha256);
  }
  throw new LocalmError('invalid_argument', `a model source is a folder path, an http(s) URL or a list of File objects, not ${Object.prototype.toString.call(source)}`);
}

async function openCachedStore(source: string | URL, options: ModelStoreOptions): Promise<ModelStore> {
  const { cache, record } = await downloadToCache(source, {
    ...(options.cache === undefined ? {} : { cache: options.cache }),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.sha256 ? { sha256: options.sha256 } : {}),
  });
  options.signal?.throwIfAborted(); // aborted after the download committed: the model stays cached
  const files = new Map(record.files.map((f) => [f.path, f]));
  return {
    location: record.url,
    async read(name) {
      const file = files.get(name);
      if (!file) return undefined;
      const bytes = await cache.backend.read(cache.fileKey(record, name));
      if (bytes?.length !== file.sizeBytes) {
        throw new LocalmError(
          bytes ? 'checksum_mismatch' : 'not_found',
          `${name} of ${record.url} in the model cache (${cache.location}) is ${bytes ? `${bytes.length} bytes, not ${file.sizeBytes}` : 'missing'}: delete it from the cache and load again`,
        );
      }
      return bytes;
    },
    localPath: (name) => (files.has(name) ? cache.backend.localPath(cache.fileKey(record, name)) : undefined),
    // Checked against its sha256 when it was downloaded; here only its size is checked again.
    async openRanges(name) {
      const file = files.get(name);
      const ranges = file && (await cache.backend.readRanges?.(cache.fileKey(record, name)));
      if (!file || !ranges) return undefined;
      if (ranges.size !== file.sizeBytes) {
        await ranges.close();
        throw new LocalmError('checksum_mismatch', `${name} of ${record.url} in the model cache (${cache.location}) is ${ranges.size} bytes, not ${file.sizeBytes}: delete it from the cache and load again`);
      }
      return {
        size: ranges.size,
        read: (offset, target) =>
          ranges.read(offset, target).catch((cause: unknown) => {
            throw new LocalmError('not_found', `cannot read ${name} of ${record.url} from the model cache (${cache.location}): ${String(cause)}`, { cause });
          }),
        close: () => ranges.close(),
      };
    },
  };
}

/** Checks each file read against the folder's localm.json and the caller's pins, when there are any. */
async function withChecks(store: ModelStore, pins: Readonly<Record<string, string>> | undefined): Promise<ModelStore> {
  const manifestBytes = await store.read(MANIFEST_FILE);
  let expected: ModelFile[];
  if (manifestBytes) expected = applyPins(parseManifest(manifestBytes, store.location), pins);
  else if (pins) expected = Object.entries(pins).map(([path, sha256]) => applyPins([{ path }], { [path]: sha256 })[0]!);
  else return store;
  const byPath = new Map(expected.map((f) => [f.path, f]));
  const openRanges = store.openRanges?.bind(store);
  return {
    location: store.location,
    localPath: (name) => store.localPath(name),
    // A digest needs every byte read anyway: such files are read whole (and checked) instead.
    ...(openRanges ? { openRanges: async (name: string) => (byPath.has(name) ? undefined : openRanges(name)) } : {}),
    async read(name) {
      const bytes = await store.read(name);
      const want = byPath.get(name);
      if (!bytes || !want) return bytes;
      if (want.sizeBytes !== undefined && bytes.length !== want.sizeBytes) {
        throw new LocalmError('checksum_mismatch', `${store.location}: ${name} has ${bytes.length} bytes; ${MANIFEST_FILE} gives ${want.sizeBytes}`, { details: { file: name } });
      }
      if (want.sha256 !== undefined) {
        const digest = await sha256Hex(bytes);
        if (digest !== want.sha256) {
          throw new LocalmError('checksum_mismatch', `${store.location}: ${name} has sha256 ${digest}, expected ${want.sha256}`, { details: { file: name, expected: want.sha256, actual: digest } });
        }
      }
      return bytes;
    },
  };
}

async function openLocalStore(folder: string): Promise<ModelStore> {
  // Imported on use so that a web bundle never sees node:fs.
  const fsModule = 'node:fs/promises';
  const pathModule = 'node:path';
  const fs = (await import(/* @vite-ignore */ fsModule)) as typeof import('node:fs/promises');
  const path = (await import(/* @vite-ignore */ pathModule)) as typeof import('node:path');
  const root = path.resolve(folder);
  const stat = await fs.stat(root).catch(() => undefined);
  if (!stat) throw new LocalmError('not_found', `model folder ${root} does not exist`);
  if (!stat.isDirectory()) throw new LocalmError('invalid_argument', `${root} is a file; pass the model folder that holds config.json`);
  const resolveInside = (name: string): string => {
    const file = path.resolve(root, name);
    if (!file.startsWith(root + path.sep)) throw new LocalmError('invalid_argument', `${name} points outside the model folder`);
    return file;
  };
  return {
    location: root,
    async read(name) {
      try {
        return new Uint8Array(await fs.readFile(resolveInside(name)));
      } catch (cause) {
        if ((cause as { code?: string }).code === 'ENOENT') return undefined;
        throw new LocalmError('not_found', `cannot read ${resolveInside(name)}: ${String(cause)}`, { cause });
      }
    },
    localPath: resolveInside,
    async openRanges(name) {
      const { openFileRanges } = await import('./loading/storage.fs.js');
      const ranges = await openFileRanges(fs, resolveInside(name));
      return ranges && {
        size: ranges.size,
        read: (offset, target) =>
          ranges.read(offset, target).catch((cause: unknown) => {
            throw new LocalmError('corrupt_model', `${resolveInside(name)}: ${String(cause)}`, { cause });
          }),
        close: () => ranges.close(),
      };
    },
  };
}
