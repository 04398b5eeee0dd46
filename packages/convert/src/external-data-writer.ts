// Streams tensor bytes into an ONNX external data file (`model.onnx_data`) through a BinaryWriter, one
// tensor (or one slice of a tensor) at a time, and says where each landed. Knows nothing of graphs;
// graph-builder turns the placement into a TensorProto.

import type { BinaryWriter } from './model-sink.js';

/** Where one tensor's bytes lie in the external data file, as ONNX's `external_data` entries say it. */
export interface ExternalPlacement {
  offset: number; // bytes from the start of the file
  length: number; // bytes
}

export interface ExternalDataWriter {
  readonly fileName: string; // the file's name relative to model.onnx, written into each TensorProto
  /** Appends `bytes` (after alignment padding) and says where they went. */
  write(bytes: Uint8Array): Promise<ExternalPlacement>;
  /**
   * Places a tensor of `length` bytes (padding before it is written now); its bytes follow in slices
   * through `writeAt`, so a tensor larger than memory can be streamed. Same layout as `write`.
   */
  reserve(length: number): Promise<ExternalPlacement>;
  /** Writes `bytes` at `offsetInTensor` bytes into a reserved tensor. */
  writeAt(placement: ExternalPlacement, offsetInTensor: number, bytes: Uint8Array): Promise<void>;
  readonly sizeBytes: number; // bytes placed so far, padding included
  close(): Promise<void>;
}

// onnx's own writer (onnx.external_data_helper, 1.17+) starts tensors of 1 MiB and more on a 64 KiB
// boundary so that runtimes can memory-map them (64 KiB is Windows' allocation granularity, a multiple
// of every page size). Small tensors only get 64-byte alignment, to keep the file compact.
const LARGE_TENSOR_BYTES = 1 << 20;
const LARGE_ALIGN = 1 << 16;
const SMALL_ALIGN = 64;

/** Where a tensor of `length` bytes starts when the file so far ends at `end`. */
export function externalDataOffset(end: number, length: number): number {
  const align = length >= LARGE_TENSOR_BYTES ? LARGE_ALIGN : SMALL_ALIGN;
  return Math.ceil(end / align) * align;
}

/**
 * Writes an external data file named `fileName` through `out`, which it closes on `close()`.
 * @example
 * const data = createExternalDataWriter(await sink.openBinary('onnx/model.onnx_data'), 'model.onnx_data');
 * const at = await data.write(new Uint8Array(weights.buffer)); // { offset: 0, length: … }
 * await data.close();
 */
export function createExternalDataWriter(out: BinaryWriter, fileName: string): ExternalDataWriter {
  let end = 0;
  const reserve = async (length: number): Promise<ExternalPlacement> => {
    const offset = externalDataOffset(end, length);
    if (offset > end) await out.write(new Uint8Array(offset - end), end);
    end = offset + length;
    return { offset, length };
  };
  return {
    fileName,
    get sizeBytes() {
      return end;
    },
    reserve,
    async write(bytes) {
      const placement = await reserve(bytes.byteLength);
      await out.write(bytes, placement.offset);
      return placement;
    },
    async writeAt(placement, offsetInTensor, bytes) {
      if (offsetInTensor < 0 || offsetInTensor + bytes.byteLength > placement.length) {
        throw new RangeError(`${bytes.byteLength} bytes at ${offsetInTensor} overrun a tensor of ${placement.length}`);
      }
      await out.write(bytes, placement.offset + offsetInTensor);
    },
    close: () => out.close(),
  };
}
