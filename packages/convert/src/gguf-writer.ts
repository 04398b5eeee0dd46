// Writes GGUF v3 files (llama.cpp's model format): metadata, tensor infos, then tensor data at offsets
// fixed up front, so tensors can arrive one at a time and in any order. Knows nothing of Llama.
// Spec: ggml/docs/gguf.md (magic 'GGUF', little-endian, strings as u64 length + UTF-8 bytes).

import { LocalmError } from '@localm/errors';
import type { BinaryWriter } from './model-sink.js';

/** The ggml tensor types written here (ggml.h `enum ggml_type`). */
export const GgmlType = { F32: 0, F16: 1, Q4_0: 2, Q8_0: 8 } as const;
export type GgmlType = (typeof GgmlType)[keyof typeof GgmlType];

/** A metadata value with its GGUF type. */
export type GgufValue =
  | { type: 'uint32'; value: number }
  | { type: 'int32'; value: number }
  | { type: 'float32'; value: number }
  | { type: 'bool'; value: boolean }
  | { type: 'string'; value: string }
  | { type: 'string[]'; value: readonly string[] }
  | { type: 'int32[]'; value: ArrayLike<number> };

export interface GgufTensorInfo {
  name: string;
  type: GgmlType;
  dims: readonly number[]; // ggml order: dims[0] is the contiguous one (PyTorch [out, in] → [in, out])
}

export interface GgufWriter {
  /** Writes one planned tensor's encoded bytes at its place, whole or a slice starting `offsetInTensor` bytes in. */
  writeTensor(name: string, bytes: Uint8Array, offsetInTensor?: number): Promise<void>;
  /** Closes the file; fails with the names of planned tensors never (fully) written. */
  close(): Promise<void>;
  readonly sizeBytes: number;
}

const GGUF_MAGIC = 0x46554747; // 'GGUF' read as a little-endian u32
const GGUF_VERSION = 3;
const ALIGNMENT = 32; // general.alignment's default
const VALUE_TYPE = { uint32: 4, int32: 5, float32: 6, bool: 7, string: 8, array: 9, uint64: 10 } as const;
// Elements per block and bytes per block of each type.
const BLOCK: Record<GgmlType, [number, number]> = { 0: [1, 4], 1: [1, 2], 2: [32, 18], 8: [32, 34] };

/** Bytes a tensor of `type` and `dims` takes. */
export function ggmlTensorBytes(type: GgmlType, dims: readonly number[]): number {
  const [perBlock, blockBytes] = BLOCK[type];
  if ((dims[0] ?? 0) % perBlock !== 0) throw new RangeError(`ggml type ${type} needs dims[0] a multiple of ${perBlock}, got ${dims[0]}`);
  return (dims.reduce((a, b) => a * b, 1) / perBlock) * blockBytes;
}

/** Little-endian byte assembly for the header. */
class ByteSink {
  readonly chunks: Uint8Array[] = [];
  length = 0;
  #encoder = new TextEncoder();

  bytes(b: Uint8Array): void {
    this.chunks.push(b);
    this.length += b.byteLength;
  }
  u32(v: number): void {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v, true);
    this.bytes(b);
  }
  i32(v: number): void {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setInt32(0, v, true);
    this.bytes(b);
  }
  f32(v: number): void {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.bytes(b);
  }
  u64(v: number): void {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt(v), true);
    this.bytes(b);
  }
  string(s: string): void {
    const utf8 = this.#encoder.encode(s);
    this.u64(utf8.byteLength);
    this.bytes(utf8);
  }
}

function writeValue(out: ByteSink, v: GgufValue): void {
  switch (v.type) {
    case 'uint32':
      out.u32(VALUE_TYPE.uint32);
      return out.u32(v.value);
    case 'int32':
      out.u32(VALUE_TYPE.int32);
      return out.i32(v.value);
    case 'float32':
      out.u32(VALUE_TYPE.float32);
      return out.f32(v.value);
    case 'bool':
      out.u32(VALUE_TYPE.bool);
      return out.bytes(Uint8Array.of(v.value ? 1 : 0));
    case 'string':
      out.u32(VALUE_TYPE.string);
      return out.string(v.value);
    case 'string[]':
      out.u32(VALUE_TYPE.array);
      out.u32(VALUE_TYPE.string);
      out.u64(v.value.length);
      for (const s of v.value) out.string(s);
      return;
    case 'int32[]': {
      out.u32(VALUE_TYPE.array);
      out.u32(VALUE_TYPE.int32);
      out.u64(v.value.length);
      const b = new Uint8Array(v.value.length * 4);
      const view = new DataView(b.buffer);
      for (let i = 0; i < v.value.length; i++) view.setInt32(i * 4, v.value[i]!, true);
      return out.bytes(b);
    }
  }
}

interface GgufLayout {
  header: Uint8Array;
  dataStart: number; // where tensor data begins, aligned
  placed: Map<string, { offset: number; length: number }>; // offset from dataStart
  sizeBytes: number;
}

function layoutGguf(metadata: readonly (readonly [string, GgufValue])[], tensors: readonly GgufTensorInfo[]): GgufLayout {
  const header = new ByteSink();
  header.u32(GGUF_MAGIC);
  header.u32(GGUF_VERSION);
  header.u64(tensors.length);
  header.u64(metadata.length);
  for (const [key, value] of metadata) {
    header.string(key);
    writeValue(header, value);
  }
  const placed = new Map<string, { offset: number; length: number }>();
  let dataBytes = 0;
  for (const t of tensors) {
    if (placed.has(t.name)) throw new LocalmError('invalid_argument', `GGUF tensor ${t.name} is listed twice`);
    const length = ggmlTensorBytes(t.type, t.dims);
    header.string(t.name);
    header.u32(t.dims.length);
    for (const d of t.dims) header.u64(d);
    header.u32(t.type);
    header.u64(dataBytes);
    placed.set(t.name, { offset: dataBytes, length });
    dataBytes += Math.ceil(length / ALIGNMENT) * ALIGNMENT;
  }
  // One buffer, one write: a vocabulary is ~10^5 small strings.
  const headerBytes = new Uint8Array(header.length);
  let position = 0;
  for (const chunk of header.chunks) {
    headerBytes.set(chunk, position);
    position += chunk.byteLength;
  }
  const dataStart = Math.ceil(header.length / ALIGNMENT) * ALIGNMENT;
  return { header: headerBytes, dataStart, placed, sizeBytes: dataStart + dataBytes };
}

/** The size in bytes of the GGUF file that `createGgufWriter` would write for `metadata` and `tensors`. */
export function ggufFileBytes(metadata: readonly (readonly [string, GgufValue])[], tensors: readonly GgufTensorInfo[]): number {
  return layoutGguf(metadata, tensors).sizeBytes;
}

/**
 * Writes the header for `metadata` and `tensors` through `out` (which `close()` closes); tensor data
 * follows through `writeTensor`. `fileName` only names the file in errors.
 * @example
 * const gguf = await createGgufWriter(await sink.openBinary('model.gguf'), 'model.gguf',
 *   [['general.architecture', { type: 'string', value: 'llama' }]],
 *   [{ name: 'token_embd.weight', type: GgmlType.F32, dims: [64, 256] }]);
 * await gguf.writeTensor('token_embd.weight', bytes);
 * await gguf.close();
 */
export async function createGgufWriter(
  out: BinaryWriter,
  fileName: string,
  metadata: readonly (readonly [string, GgufValue])[],
  tensors: readonly GgufTensorInfo[],
): Promise<GgufWriter> {
  const { header, dataStart, placed, sizeBytes } = layoutGguf(metadata, tensors);
  // Every byte is written, padding included, so a sink need not zero-fill gaps.
  await out.write(header, 0);
  if (dataStart > header.byteLength) await out.write(new Uint8Array(dataStart - header.byteLength), header.byteLength);
  for (const { offset, length } of placed.values()) {
    const padding = Math.ceil(length / ALIGNMENT) * ALIGNMENT - length;
    if (padding > 0) await out.write(new Uint8Array(padding), dataStart + offset + length);
  }
  const bytesWritten = new Map<string, number>();
  return {
    sizeBytes,
    async writeTensor(name, bytes, offsetInTensor = 0) {
      const at = placed.get(name);
      if (!at) throw new LocalmError('invalid_argument', `GGUF tensor ${name} was not planned`);
      if (offsetInTensor < 0 || offsetInTensor + bytes.byteLength > at.length) {
        throw new LocalmError('invalid_argument', `GGUF tensor ${name}: ${bytes.byteLength} bytes at ${offsetInTensor}, planned ${at.length}`);
      }
      await out.write(bytes, dataStart + at.offset + offsetInTensor);
      bytesWritten.set(name, (bytesWritten.get(name) ?? 0) + bytes.byteLength);
    },
    async close() {
      await out.close();
      const missing = [...placed].filter(([name, p]) => (bytesWritten.get(name) ?? 0) < p.length).map(([name]) => name);
      if (missing.length > 0) throw new LocalmError('invalid_argument', `GGUF ${fileName}: tensors never written: ${missing.join(', ')}`);
    },
  };
}
