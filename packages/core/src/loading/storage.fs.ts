// A StorageBackend in a folder on disk (Node). Blobs are files at their key's path; a blob is written
// under a temporary name and renamed into place on close, so a reader never sees half a file.
// node: modules are imported on use, so a web bundle that reaches this file never loads them.

import { LocalmError } from '@localm/errors';
import type { BlobRanges, BlobWriter, StorageBackend } from './storage.js';

type Fs = typeof import('node:fs/promises');
type Path = typeof import('node:path');

const TEMP_SUFFIX = '.localm-partial';

/** Byte ranges of a file through one open handle; undefined when the file does not exist. */
export async function openFileRanges(fs: Fs, path: string): Promise<BlobRanges | undefined> {
  let handle: import('node:fs/promises').FileHandle;
  try {
    handle = await fs.open(path, 'r');
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') return undefined;
    throw err;
  }
  const { size } = await handle.stat();
  return {
    size,
    async read(offset, target) {
      for (let done = 0; done < target.byteLength; ) {
        const { bytesRead } = await handle.read(target, done, target.byteLength - done, offset + done);
        if (bytesRead === 0) throw new RangeError(`${path}: bytes ${offset}-${offset + target.byteLength} are outside its ${size} bytes`);
        done += bytesRead;
      }
    },
    close: () => handle.close(),
  };
}

async function nodeModules(): Promise<{ fs: Fs; path: Path; os: typeof import('node:os') }> {
  const names = ['node:fs/promises', 'node:path', 'node:os'];
  const [fs, path, os] = await Promise.all(names.map((name) => import(/* @vite-ignore */ name)));
  return { fs: fs as Fs, path: path as Path, os: os as typeof import('node:os') };
}

/** `$LOCALM_CACHE_DIR`, else `$XDG_CACHE_HOME/localm`, else `~/.cache/localm`. */
export async function defaultCacheDirectory(): Promise<string> {
  const { path, os } = await nodeModules();
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env ?? {};
  if (env['LOCALM_CACHE_DIR']) return path.resolve(env['LOCALM_CACHE_DIR']);
  return path.join(env['XDG_CACHE_HOME'] ? path.resolve(env['XDG_CACHE_HOME']) : path.join(os.homedir(), '.cache'), 'localm');
}

export async function openFsStorage(directory: string): Promise<StorageBackend> {
  const { fs, path } = await nodeModules();
  const root = path.resolve(directory);
  await fs.mkdir(root, { recursive: true }).catch((cause: unknown) => {
    throw new LocalmError('invalid_argument', `cannot create the model cache folder ${root}: ${String(cause)}`, { cause });
  });
  return new FsStorage(fs, path, root);
}

class FsStorage implements StorageBackend {
  readonly kind = 'fs';

  constructor(
    private readonly fs: Fs,
    private readonly path: Path,
    readonly location: string,
  ) {}

  async availableBytes(): Promise<number> {
    const stats = await this.fs.statfs(this.location);
    return Number(stats.bavail) * Number(stats.bsize);
  }

  async write(key: string): Promise<BlobWriter> {
    const file = this.localPath(key);
    const temp = `${file}.${Math.random().toString(36).slice(2, 10)}${TEMP_SUFFIX}`;
    await this.fs.mkdir(this.path.dirname(file), { recursive: true });
    const handle = await this.fs.open(temp, 'wx');
    let open = true;
    const closeHandle = async (): Promise<void> => {
      if (open) {
        open = false;
        await handle.close();
      }
    };
    return {
      write: async (chunk) => {
        for (let at = 0; at < chunk.length; ) at += (await handle.write(chunk, at, chunk.length - at)).bytesWritten;
      },
      close: async () => {
        await handle.datasync();
        await closeHandle();
        await this.fs.rename(temp, file);
      },
      abort: async () => {
        await closeHandle().catch(() => undefined);
        await this.fs.rm(temp, { force: true }).catch(() => undefined);
      },
    };
  }

  async read(key: string): Promise<Uint8Array | undefined> {
    try {
      return new Uint8Array(await this.fs.readFile(this.localPath(key)));
    } catch (err) {
      if ((err as { code?: string }).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  readRanges(key: string): Promise<BlobRanges | undefined> {
    return openFileRanges(this.fs, this.localPath(key));
  }

  async readChunks(key: string): Promise<AsyncIterable<Uint8Array> | undefined> {
    let handle: import('node:fs/promises').FileHandle;
    try {
      handle = await this.fs.open(this.localPath(key), 'r');
    } catch (err) {
      if ((err as { code?: string }).code === 'ENOENT') return undefined;
      throw err;
    }
    return (async function* () {
      try {
        const buffer = new Uint8Array(1 << 20);
        for (;;) {
          const { bytesRead } = await handle.read(buffer, 0, buffer.length);
          if (bytesRead === 0) return;
          yield buffer.subarray(0, bytesRead);
        }
      } finally {
        await handle.close();
      }
    })();
  }

  async keys(prefix: string): Promise<string[]> {
    // The prefix may end inside a name ('records/'), so list its folder and filter.
    const folder = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
    const entries = await this.fs.readdir(this.path.join(this.location, folder), { recursive: true, withFileTypes: true }).catch((err: { code?: string }) => {
      if (err.code === 'ENOENT') return [];
      throw err;
    });
    const keys: string[] = [];
    for (const entry of entries) {
      if (!entry.isFile() || entry.name.endsWith(TEMP_SUFFIX)) continue;
      // `parentPath` is Node 20.12+; `path` is its older name.
      const parent = (entry as { parentPath?: string }).parentPath ?? (entry as unknown as { path: string }).path;
      const key = this.path.relative(this.location, this.path.join(parent, entry.name)).split(this.path.sep).join('/');
      if (key.startsWith(prefix)) keys.push(key);
    }
    return keys.sort();
  }

  async remove(prefix: string): Promise<void> {
    await this.fs.rm(this.localPath(prefix), { recursive: true, force: true });
    // Leave no empty folders behind: the cache folder lists only what is cached.
    for (let dir = this.path.dirname(this.localPath(prefix)); dir.startsWith(this.location + this.path.sep); dir = this.path.dirname(dir)) {
      if (!(await this.fs.rmdir(dir).then(() => true, () => false))) break;
    }
  }

  localPath(key: string): string {
    const file = this.path.resolve(this.location, ...key.split('/'));
    if (!file.startsWith(this.location + this.path.sep)) throw new LocalmError('invalid_argument', `${key} points outside the cache folder ${this.location}`);
    return file;
  }
}
