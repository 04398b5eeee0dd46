// A ModelSink on the local file system (node:fs): the CLI's and the tests' way to write a model folder.
// The browser's counterpart is opfs-sink.ts.

import { mkdir, open, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { BinaryWriter, ModelSink } from './model-sink.js';

// fs write() rejects more than 2 GiB at once; an 8B model's embedding is larger than that.
const CHUNK_BYTES = 1 << 26;

/** Opens (truncating) the file at `path` for positional writes. */
export async function openNodeBinary(path: string): Promise<BinaryWriter> {
  await mkdir(dirname(path), { recursive: true });
  const handle = await open(path, 'w');
  return {
    async write(bytes, position) {
      for (let done = 0; done < bytes.byteLength; ) {
        const count = Math.min(CHUNK_BYTES, bytes.byteLength - done);
        const { bytesWritten } = await handle.write(bytes, done, count, position + done);
        done += bytesWritten;
      }
    },
    close: () => handle.close(),
  };
}

/**
 * A sink writing under the folder `dir` (created as needed).
 * @example
 * await synthesizeModel({ preset: 'tiny', seed: 1, dtype: 'q4' }, nodeSink('/tmp/tiny'));
 */
export function nodeSink(dir: string): ModelSink {
  return {
    async writeText(path, text) {
      const file = join(dir, path);
      await mkdir(dirname(file), { recursive: true });
      await writeFile(file, text);
    },
    openBinary: (path) => openNodeBinary(join(dir, path)),
  };
}
