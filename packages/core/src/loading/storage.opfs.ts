// A StorageBackend in the origin private file system (OPFS), one file per blob under a folder of the
// OPFS root. A writable stream writes to a swap file that replaces the blob only on close(), so a
// reader never sees half a file. Needs FileSystemFileHandle.createWritable (Chromium 86+, Firefox 111+,
// Safari 26+); TODO(#4): Safari before 26 has only sync access handles, inside workers.

import { blobRanges, estimateBrowserQuota, type BlobRanges, type BlobWriter, type StorageBackend } from './storage.js';

// The async-iterable parts of the OPFS API are not in TypeScript's DOM lib without DOM.AsyncIterable.
type Directory = FileSystemDirectoryHandle & { values(): AsyncIterable<FileSystemDirectoryHandle | FileSystemFileHandle> };

export async function openOpfsStorage(name: string): Promise<StorageBackend> {
  const root = await navigator.storage.getDirectory();
  return new OpfsStorage((await root.getDirectoryHandle(name, { create: true })) as Directory, name);
}

class OpfsStorage implements StorageBackend {
  readonly kind = 'opfs';

  constructor(
    private readonly root: Directory,
    readonly location: string,
  ) {}

  availableBytes(): Promise<number | undefined> {
    return estimateBrowserQuota();
  }

  async #folder(parts: readonly string[], create: boolean): Promise<Directory | undefined> {
    let dir = this.root;
    for (const part of parts) {
      try {
        dir = (await dir.getDirectoryHandle(part, { create })) as Directory;
      } catch (err) {
        if ((err as DOMException).name === 'NotFoundError' || (err as DOMException).name === 'TypeMismatchError') return undefined;
        throw err;
      }
    }
    return dir;
  }

  async #file(key: string): Promise<File | undefined> {
    const parts = key.split('/');
    const dir = await this.#folder(parts.slice(0, -1), false);
    try {
      return await (await dir?.getFileHandle(parts.at(-1)!))?.getFile();
    } catch (err) {
      if ((err as DOMException).name === 'NotFoundError' || (err as DOMException).name === 'TypeMismatchError') return undefined;
      throw err;
    }
  }

  async write(key: string): Promise<BlobWriter> {
    const parts = key.split('/');
    const dir = (await this.#folder(parts.slice(0, -1), true))!;
    const name = parts.at(-1)!;
    const existed = await dir.getFileHandle(name).then(() => true, () => false);
    // Creating the handle makes an empty file at once: model-cache.ts never reads a blob its record
    // does not name, and skips a record it cannot parse.
    const handle = await dir.getFileHandle(name, { create: true });
    const stream = await handle.createWritable({ keepExistingData: false });
    return {
      write: (chunk) => stream.write(chunk as Uint8Array<ArrayBuffer>),
      close: () => stream.close(),
      abort: async () => {
        await stream.abort().catch(() => undefined);
        // The handle created an empty file; a blob that was not there before must not appear.
        if (!existed) await dir.removeEntry(name).catch(() => undefined);
      },
    };
  }

  async read(key: string): Promise<Uint8Array | undefined> {
    const file = await this.#file(key);
    return file && new Uint8Array(await file.arrayBuffer());
  }

  async readRanges(key: string): Promise<BlobRanges | undefined> {
    const file = await this.#file(key);
    return file && blobRanges([file], key);
  }

  async readChunks(key: string): Promise<AsyncIterable<Uint8Array> | undefined> {
    const file = await this.#file(key);
    if (!file) return undefined;
    return (async function* () {
      const reader = file.stream().getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        yield value;
      }
    })();
  }

  async keys(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    const walk = async (dir: Directory, path: string): Promise<void> => {
      for await (const entry of dir.values()) {
        const key = path ? `${path}/${entry.name}` : entry.name;
        if (entry.kind === 'directory') await walk(entry as Directory, key);
        else if (key.startsWith(prefix)) keys.push(key);
      }
    };
    await walk(this.root, '');
    return keys.sort();
  }

  async remove(prefix: string): Promise<void> {
    const parts = prefix.split('/');
    const dir = await this.#folder(parts.slice(0, -1), false);
    await dir?.removeEntry(parts.at(-1)!, { recursive: true }).catch((err: DOMException) => {
      if (err.name !== 'NotFoundError') throw err;
    });
  }

  localPath(): undefined {
    return undefined;
  }
}
