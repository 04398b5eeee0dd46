// Streams tensor bytes into an ONNX external data file (`model.onnx_data`), one tensor at a time through
// a file handle, and returns where each landed. Knows nothing of graphs; graph-builder turns the
// placement into a TensorProto.

import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';

/** Where one tensor's bytes lie in the external data file, as ONNX's `external_data` entries say it. */
export interface ExternalPlacement {
  offset: number; // bytes from the start of the file
  length: number; // bytes
}

export interface ExternalDataWriter {
  readonly fileName: string; // the file's name relative to model.onnx, written into each TensorProto
  /** Appends `bytes` (after alignment padding) and says where they went. */
  write(bytes: Uint8Array): Promise<ExternalPlacement>;
  readonly sizeBytes: number; // bytes written so far, padding included
  close(): Promise<void>;
}

// onnx's own writer (onnx.external_data_helper, 1.17+) starts tensors of 1 MiB and more on a 64 KiB
// boundary so that runtimes can memory-map them (64 KiB is Windows' allocation granularity, a multiple
// of every page size). Small tensors only get 64-byte alignment, to keep the file compact.
const LARGE_TENSOR_BYTES = 1 << 20;
const LARGE_ALIGN = 1 << 16;
const SMALL_ALIGN = 64;
// fs write() rejects more than 2 GiB at once; an 8B model's embedding is larger than that.
const CHUNK_BYTES = 1 << 26;

/**
 * Opens (truncating) `path` for tensor-by-tensor writing.
 * @example
 * const data = await createExternalDataWriter('/out/onnx/model.onnx_data');
 * const at = await data.write(new Uint8Array(weights.buffer)); // { offset: 0, length: … }
 * await data.close();
 */
export async function createExternalDataWriter(path: string): Promise<ExternalDataWriter> {
  const handle: FileHandle = await open(path, 'w');
  const fileName = path.split(/[\\/]/).pop() ?? path;
  let end = 0;
  return {
    fileName,
    get sizeBytes() {
      return end;
    },
    async write(bytes) {
      const align = bytes.byteLength >= LARGE_TENSOR_BYTES ? LARGE_ALIGN : SMALL_ALIGN;
      const offset = Math.ceil(end / align) * align;
      if (offset > end) await handle.write(new Uint8Array(offset - end), 0, offset - end, end);
      for (let done = 0; done < bytes.byteLength; ) {
        const count = Math.min(CHUNK_BYTES, bytes.byteLength - done);
        const { bytesWritten } = await handle.write(bytes, done, count, offset + done);
        done += bytesWritten;
      }
      end = offset + bytes.byteLength;
      return { offset, length: bytes.byteLength };
    },
    async close() {
      await handle.close();
    },
  };
}
