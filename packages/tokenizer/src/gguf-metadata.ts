// Reads the header and key-value metadata of a GGUF file (llama.cpp's format, ggml/docs/gguf.md),
// never the tensor infos or data, from any source that can read byte ranges. Every count and length
// is checked against the bytes left in the file before anything is allocated: a damaged or hostile
// header ends in LocalmError 'corrupt_model', never in a huge allocation or a long loop.

import { LocalmError } from '@localm/errors';

/** Random access to the bytes of one file: a Node file handle, a Blob, a Uint8Array. */
export interface ByteSource {
  readonly sizeBytes: number;
  /** Up to `length` bytes at `offset`; fewer only at the end of the file. */
  read(offset: number, length: number): Promise<Uint8Array>;
}

/** A metadata value: numbers (u64/i64 past 2^53 as bigint), strings, booleans, arrays of them. */
export type GgufMetadataValue =
  | number
  | bigint
  | string
  | boolean
  | readonly string[]
  | readonly boolean[]
  | readonly GgufMetadataValue[]
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | Float32Array
  | Float64Array
  | BigInt64Array
  | BigUint64Array;

export interface GgufMetadata {
  version: number; // 2 or 3
  tensorCount: number;
  metadata: ReadonlyMap<string, GgufMetadataValue>;
  metadataEndOffset: number; // where the tensor infos begin
}

export interface GgufReadLimits {
  maxMetadataBytes?: number; // the header + key-values may not be larger (default 1 GiB)
  maxArrayDepth?: number; // arrays of arrays (default 3)
}

const MAGIC = 0x46554747; // 'GGUF' little-endian
const CHUNK_BYTES = 1 << 20;
const enum T {
  U8 = 0,
  I8 = 1,
  U16 = 2,
  I16 = 3,
  U32 = 4,
  I32 = 5,
  F32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  U64 = 10,
  I64 = 11,
  F64 = 12,
}
const SCALAR_BYTES: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };

function corrupt(what: string, message: string): LocalmError {
  return new LocalmError('corrupt_model', `${what}: ${message}`);
}

/** A forward cursor over a ByteSource that keeps one window of bytes. */
class Cursor {
  offset = 0;
  #window: Uint8Array = new Uint8Array(0);
  #windowStart = 0;
  readonly #decoder = new TextDecoder('utf-8', { fatal: true });

  constructor(
    readonly source: ByteSource,
    readonly what: string,
    readonly limit: number, // bytes past which nothing is read
  ) {}

  get remaining(): number {
    return this.limit - this.offset;
  }

  /** Makes `n` bytes at the cursor available; fails past the limit. */
  async need(n: number): Promise<void> {
    if (n > this.remaining) throw corrupt(this.what, `needs ${n} bytes at offset ${this.offset}, the file has ${Math.max(0, this.remaining)} left`);
    const end = this.#windowStart + this.#window.byteLength;
    if (this.offset >= this.#windowStart && this.offset + n <= end) return;
    const length = Math.min(Math.max(n, CHUNK_BYTES), this.remaining);
    const bytes = await this.source.read(this.offset, length);
    if (bytes.byteLength < n) throw corrupt(this.what, `ends at offset ${this.offset + bytes.byteLength}, inside the metadata`);
    this.#window = bytes;
    this.#windowStart = this.offset;
  }

  #view(n: number): DataView {
    const at = this.offset - this.#windowStart;
    this.offset += n;
    return new DataView(this.#window.buffer, this.#window.byteOffset + at, n);
  }

  async u32(): Promise<number> {
    await this.need(4);
    return this.#view(4).getUint32(0, true);
  }

  async u64(): Promise<bigint> {
    await this.need(8);
    return this.#view(8).getBigUint64(0, true);
  }

  /** A u64 count or length, refused when `unitBytes` each would not fit in the rest of the file. */
  async count(unitBytes: number, label: string): Promise<number> {
    const value = await this.u64();
    if (value * BigInt(unitBytes) > BigInt(Math.max(0, this.remaining))) {
      throw corrupt(this.what, `${label} of ${value} needs at least ${value * BigInt(unitBytes)} bytes; ${this.remaining} are left`);
    }
    return Number(value);
  }

  async string(label: string): Promise<string> {
    const length = await this.count(1, `${label} length`);
    await this.need(length);
    const at = this.offset - this.#windowStart;
    this.offset += length;
    try {
      return this.#decoder.decode(this.#window.subarray(at, at + length));
    } catch (cause) {
      throw new LocalmError('corrupt_model', `${this.what}: ${label} at offset ${this.offset - length} is not UTF-8`, { cause });
    }
  }

  async scalar(type: number): Promise<number | bigint | boolean> {
    const size = SCALAR_BYTES[type] ?? 0;
    await this.need(size);
    const view = this.#view(size);
    switch (type) {
      case T.U8:
        return view.getUint8(0);
      case T.I8:
        return view.getInt8(0);
      case T.U16:
        return view.getUint16(0, true);
      case T.I16:
        return view.getInt16(0, true);
      case T.U32:
        return view.getUint32(0, true);
      case T.I32:
        return view.getInt32(0, true);
      case T.F32:
        return view.getFloat32(0, true);
      case T.BOOL: {
        const byte = view.getUint8(0);
        if (byte > 1) throw corrupt(this.what, `a bool of ${byte} at offset ${this.offset - 1}`);
        return byte === 1;
      }
      case T.U64:
        return smallest(view.getBigUint64(0, true));
      case T.I64:
        return smallest(view.getBigInt64(0, true));
      case T.F64:
        return view.getFloat64(0, true);
      default:
        throw corrupt(this.what, `unknown value type ${type}`);
    }
  }

  /** `count` little-endian scalars of one type, copied into a typed array. */
  async scalars(type: number, count: number): Promise<GgufMetadataValue> {
    const size = SCALAR_BYTES[type] ?? 0;
    const bytes = new Uint8Array(count * size);
    let filled = 0;
    while (filled < bytes.byteLength) {
      const n = Math.min(CHUNK_BYTES, bytes.byteLength - filled);
      await this.need(n);
      const at = this.offset - this.#windowStart;
      bytes.set(this.#window.subarray(at, at + n), filled);
      this.offset += n;
      filled += n;
    }
    // GGUF is little-endian, as are the platforms this runs on (typed arrays use the host's order).
    switch (type) {
      case T.U8:
        return bytes;
      case T.I8:
        return new Int8Array(bytes.buffer);
      case T.U16:
        return new Uint16Array(bytes.buffer);
      case T.I16:
        return new Int16Array(bytes.buffer);
      case T.U32:
        return new Uint32Array(bytes.buffer);
      case T.I32:
        return new Int32Array(bytes.buffer);
      case T.F32:
        return new Float32Array(bytes.buffer);
      case T.BOOL:
        return Array.from(bytes, (b) => b !== 0);
      case T.U64:
        return new BigUint64Array(bytes.buffer);
      case T.I64:
        return new BigInt64Array(bytes.buffer);
      default:
        return new Float64Array(bytes.buffer);
    }
  }
}

function smallest(value: bigint): number | bigint {
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
}

async function readValue(cursor: Cursor, type: number, key: string, depth: number, maxDepth: number): Promise<GgufMetadataValue> {
  if (type === T.STRING) return cursor.string(`the value of ${key}`);
  if (type !== T.ARRAY) {
    if (SCALAR_BYTES[type] === undefined) throw corrupt(cursor.what, `${key} has unknown value type ${type}`);
    return cursor.scalar(type);
  }
  if (depth >= maxDepth) throw corrupt(cursor.what, `${key} nests arrays more than ${maxDepth} deep`);
  const itemType = await cursor.u32();
  if (itemType === T.STRING) {
    const count = await cursor.count(8, `${key}'s string count`); // each string has a u64 length
    const out: string[] = new Array<string>(count);
    for (let i = 0; i < count; i++) out[i] = await cursor.string(`${key}[${i}]`);
    return out;
  }
  if (itemType === T.ARRAY) {
    const count = await cursor.count(12, `${key}'s array count`); // each array has a type and a count
    const out: GgufMetadataValue[] = [];
    for (let i = 0; i < count; i++) out.push(await readValue(cursor, T.ARRAY, `${key}[${i}]`, depth + 1, maxDepth));
    return out;
  }
  const size = SCALAR_BYTES[itemType];
  if (size === undefined) throw corrupt(cursor.what, `${key} is an array of unknown type ${itemType}`);
  return cursor.scalars(itemType, await cursor.count(size, `${key}'s item count`));
}

/**
 * Reads a GGUF file's version, tensor count and metadata, and stops before the tensor infos.
 * Throws LocalmError 'corrupt_model' for a damaged header and 'unsupported_model' for GGUF v1 or
 * a big-endian file.
 * @example
 * const { metadata } = await readGgufMetadata(bytesSource(await file.arrayBuffer()), 'model.gguf');
 * metadata.get('tokenizer.ggml.model'); // 'llama' | 'gpt2' | ...
 */
export async function readGgufMetadata(source: ByteSource, fileName = 'GGUF file', limits: GgufReadLimits = {}): Promise<GgufMetadata> {
  const maxBytes = limits.maxMetadataBytes ?? 1 << 30;
  const cursor = new Cursor(source, fileName, Math.min(source.sizeBytes, maxBytes));
  if (source.sizeBytes < 24) throw corrupt(fileName, `${source.sizeBytes} bytes is too short for a GGUF header`);
  const magic = await cursor.u32();
  if (magic !== MAGIC) throw corrupt(fileName, `not a GGUF file (magic 0x${magic.toString(16).padStart(8, '0')})`);
  const version = await cursor.u32();
  if (version === 1) throw new LocalmError('unsupported_model', `${fileName}: GGUF version 1 is not supported (2 and 3 are)`);
  if (version !== 2 && version !== 3) {
    const swapped = ((version & 0xff) << 24) | ((version & 0xff00) << 8) | ((version >>> 8) & 0xff00) | (version >>> 24);
    if (swapped === 2 || swapped === 3) throw new LocalmError('unsupported_model', `${fileName}: big-endian GGUF is not supported`);
    throw corrupt(fileName, `unknown GGUF version ${version}`);
  }
  const tensorCount = smallest(await cursor.u64());
  if (typeof tensorCount !== 'number' || tensorCount > source.sizeBytes) throw corrupt(fileName, `a tensor count of ${tensorCount}`);
  // Each key-value takes at least 13 bytes: key length (8) + key (≥1) + type (4).
  const kvCount = await cursor.count(13, 'the key-value count');
  const metadata = new Map<string, GgufMetadataValue>();
  for (let i = 0; i < kvCount; i++) {
    const key = await cursor.string(`key ${i}`);
    if (metadata.has(key)) throw corrupt(fileName, `key ${JSON.stringify(key)} appears twice`);
    const type = await cursor.u32();
    metadata.set(key, await readValue(cursor, type, key, 0, limits.maxArrayDepth ?? 3));
  }
  return { version, tensorCount, metadata, metadataEndOffset: cursor.offset };
}

/** A ByteSource over bytes in memory. */
export function bytesSource(bytes: Uint8Array | ArrayBuffer): ByteSource {
  const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  return {
    sizeBytes: view.byteLength,
    read: (offset, length) => Promise.resolve(view.subarray(offset, Math.min(view.byteLength, offset + length))),
  };
}

/** A ByteSource over a Blob or File (browsers, Node 20+), reading only the slices asked for. */
export function blobSource(blob: Blob): ByteSource {
  return {
    sizeBytes: blob.size,
    read: async (offset, length) => new Uint8Array(await blob.slice(offset, offset + length).arrayBuffer()),
  };
}
