// A ModelSink on the browser's Origin Private File System. In a dedicated worker it writes through
// FileSystemSyncAccessHandle (positional writes straight to the file, nothing buffered in JS); elsewhere
// through createWritable(), whose writes the browser keeps in a swap file until close(). No node: imports.

import type { BinaryWriter, ModelSink } from './model-sink.js';

// The parts of the File System Access API used here. TypeScript's DOM lib lacks the synchronous handle
// (it is in the worker lib only), so it is described structurally.
interface SyncAccessHandle {
  write(buffer: Uint8Array, options: { at: number }): number;
  truncate(size: number): void;
  flush(): void;
  close(): void;
}
type SyncCapableFileHandle = FileSystemFileHandle & { createSyncAccessHandle?: () => Promise<SyncAccessHandle> };

async function fileHandle(root: FileSystemDirectoryHandle, path: string): Promise<SyncCapableFileHandle> {
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  const name = parts.pop();
  if (name === undefined || parts.includes('..')) throw new TypeError(`opfsSink: '${path}' is not a file path inside the folder`);
  let dir = root;
  for (const part of parts) dir = await dir.getDirectoryHandle(part, { create: true });
  return dir.getFileHandle(name, { create: true });
}

async function openFile(root: FileSystemDirectoryHandle, path: string): Promise<BinaryWriter> {
  const file = await fileHandle(root, path);
  if (typeof file.createSyncAccessHandle === 'function') {
    const handle = await file.createSyncAccessHandle();
    handle.truncate(0);
    return {
      async write(bytes, position) {
        // write() may write fewer bytes than asked (a full disk shows up here as a short write).
        for (let done = 0; done < bytes.byteLength; ) {
          const count = handle.write(bytes.subarray(done), { at: position + done });
          if (count <= 0) throw new DOMException(`OPFS ${path}: wrote ${done} of ${bytes.byteLength} bytes`, 'QuotaExceededError');
          done += count;
        }
      },
      async close() {
        handle.flush();
        handle.close();
      },
    };
  }
  const stream = await file.createWritable({ keepExistingData: false });
  return {
    // The stream copies `bytes` before write() resolves, so the caller may reuse the buffer.
    write: (bytes, position) => stream.write({ type: 'write', position, data: bytes as Uint8Array<ArrayBuffer> }),
    close: () => stream.close(),
  };
}

/**
 * A sink writing under the OPFS folder `dir` (subfolders created as needed, files replaced). Use it in
 * a dedicated Web Worker, where the synchronous access handle makes multi-gigabyte writes cheap.
 * @example
 * const root = await navigator.storage.getDirectory();
 * const dir = await root.getDirectoryHandle('llama-3.2-1b-q4', { create: true });
 * await synthesizeModel({ preset: 'llama-3.2-1b', seed: 1, dtype: 'q4' }, opfsSink(dir));
 */
export function opfsSink(dir: FileSystemDirectoryHandle): ModelSink {
  return {
    async writeText(path, text) {
      const out = await openFile(dir, path);
      try {
        await out.write(new TextEncoder().encode(text), 0);
      } finally {
        await out.close();
      }
    },
    openBinary: (path) => openFile(dir, path),
  };
}
