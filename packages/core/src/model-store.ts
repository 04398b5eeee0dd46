// Reads the files of a model folder from a local path or a URL. Knows file names, not their contents.

import { LocalmError } from '@localm/errors';

/** Where a model folder's files come from. */
export interface ModelStore {
  readonly location: string; // for messages
  /** The file's bytes, or undefined when it does not exist. */
  read(name: string): Promise<Uint8Array | undefined>;
  /** A local filesystem path for the file, where there is one (the native runtime maps it itself). */
  localPath(name: string): string | undefined;
}

/** Opens a folder path or an http(s) URL. Throws `not_found` for a missing local folder. */
export async function openModelStore(source: string): Promise<ModelStore> {
  if (/^https?:\/\//i.test(source)) return new HttpStore(source.endsWith('/') ? source : `${source}/`);
  return openLocalStore(source);
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
  };
}

class HttpStore implements ModelStore {
  constructor(readonly location: string) {}

  async read(name: string): Promise<Uint8Array | undefined> {
    const url = new URL(name, this.location);
    if (!url.href.startsWith(this.location)) throw new LocalmError('invalid_argument', `${name} points outside ${this.location}`);
    let response: Response;
    try {
      response = await fetch(url);
    } catch (cause) {
      throw new LocalmError('not_found', `cannot fetch ${url.href}: ${String(cause)}`, { cause });
    }
    if (response.status === 404) return undefined;
    if (!response.ok) throw new LocalmError('not_found', `${url.href}: HTTP ${response.status}`);
    return new Uint8Array(await response.arrayBuffer());
  }

  localPath(): undefined {
    return undefined;
  }
}
