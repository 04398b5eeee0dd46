// A decoder that runs a whole Llama step inside our WASM kernels: weights laid out once in linear
// memory, KV cache there too, one call per step. Same shape as @localm/backend's Decoder.

import { LocalmError } from '@localm/errors';
import { planDecoder, type DecoderPlan, type LinearRef, type TensorRef } from './onnx-plan.js';
import { startKernels, type KernelRuntime } from './wasm-runtime.js';

/** Reads byte ranges of an external data file straight into a target (no whole-file copy). */
export interface ExternalDataReader {
  read(offset: number, target: Uint8Array): Promise<void>;
}

/** model.onnx and its external data; `path` as the graph names it (e.g. 'model.onnx_data'). */
export interface WasmModelFiles {
  graph: Uint8Array;
  externalData: readonly { path: string; data: Uint8Array | ExternalDataReader }[];
}

export interface WasmDecoderOptions {
  numThreads?: number; // threads including the caller's; >1 needs SharedArrayBuffer
  contextLength?: number; // KV cache positions; default min(model's positions, 4096)
  prefillChunk?: number; // tokens per forward call while prefilling
  wasmBinary?: Uint8Array<ArrayBuffer>; // the decoder(.mt).wasm bytes, when the packaged file cannot be fetched
  signal?: AbortSignal; // checked between tensors while loading: a multi-second load stops within one tensor
}

export const DEFAULT_WASM_DECODER = { numThreads: 1, contextLength: 4096, prefillChunk: 16 } as const;

/** What was decided when the decoder was created; mirrors @localm/backend's DecoderInfo. */
export interface WasmDecoderInfo {
  device: 'wasm';
  skipped: { device: string; reason: string }[];
  kv: { numLayers: number; kvHeads: number; headDim: number };
  vocabSize: number;
  threads: number;
  contextLength: number;
  weightFormat: 'fp32' | 'q4';
  embedding: 'fp32' | 'q4' | 'q4, shared with lm_head'; // how the token table is held
  memoryBytes: number; // linear memory after loading: weights, KV cache, activations
}

export interface WasmDecoder {
  readonly info: WasmDecoderInfo;
  readonly cachedTokens: number;
  step(ids: readonly number[]): Promise<Float32Array>;
  truncate(length: number): void;
  dispose(): Promise<void>;
}

const enum Ptr { Embed = 0, AttnNorm = 1, FfnNorm = 2, FinalNorm = 3, Cos = 4, Sin = 5, Tokens = 6, QkvBias = 8 }
const enum Lin { Qkv = 0, O = 1, GateUp = 2, Down = 3, Head = 4, Embed = 5 }
const enum EmbedMode { F32 = 1, Q4 = 2 }
const enum HeadMode { F32 = 0, Q4 = 1, Embedding = 2 }
/** Rows of a q4 matrix moved through scratch memory at once: keeps load-time scratch (never returned to the OS) small. */
const SLAB_BYTES = 8 << 20;

type Sources = ReadonlyMap<string, Uint8Array | ExternalDataReader>;

function sourcesOf(files: WasmModelFiles): Sources {
  return new Map(files.externalData.map((f) => [f.path, f.data]));
}

/** Copies `target.length` bytes of a tensor, from `skip` bytes in, into target. */
async function readTensor(sources: Sources, ref: TensorRef, target: Uint8Array, skip = 0): Promise<void> {
  const length = target.byteLength;
  if (length > byteLength(ref) - skip) throw new LocalmError('corrupt_model', `${ref.name}: ${byteLength(ref)} bytes, needs ${length + skip}`);
  if (ref.bytes.kind === 'inline') {
    target.set(ref.bytes.bytes.subarray(skip, skip + length));
    return;
  }
  const source = sources.get(ref.bytes.file);
  if (!source) throw new LocalmError('not_found', `external data file ${ref.bytes.file} (for ${ref.name}) was not given`);
  const offset = ref.bytes.offset + skip;
  if (source instanceof Uint8Array) {
    if (offset + length > source.byteLength) {
      throw new LocalmError('corrupt_model', `${ref.bytes.file} is ${source.byteLength} bytes; ${ref.name} needs ${offset + length}`);
    }
    target.set(source.subarray(offset, offset + length));
  } else {
    await source.read(offset, target);
  }
}

/** Whether the q4 embedding and the q4 lm_head hold the same codes and scales (tied weights written twice). */
async function sameQ4Table(plan: DecoderPlan, sources: Sources): Promise<boolean> {
  const head = plan.lmHead;
  if (!head.isQ4 || !head.scales || !plan.embeddingScales || head.n !== plan.vocabSize || head.k !== plan.hiddenSize) return false;
  const pairs: [TensorRef, TensorRef][] = [[plan.embedding, head.weight], [plan.embeddingScales, head.scales]];
  for (const [a, b] of pairs) {
    if (byteLength(a) !== byteLength(b)) return false;
    if (a.bytes.kind === 'external' && b.bytes.kind === 'external' && a.bytes.file === b.bytes.file && a.bytes.offset === b.bytes.offset) continue;
    const x = new Uint8Array(Math.min(SLAB_BYTES, byteLength(a)));
    const y = new Uint8Array(x.length);
    for (let at = 0; at < byteLength(a); at += x.length) {
      const n = Math.min(x.length, byteLength(a) - at);
      await readTensor(sources, a, x.subarray(0, n), at);
      await readTensor(sources, b, y.subarray(0, n), at);
      if (!bytesEqual(x.subarray(0, n), y.subarray(0, n))) return false;
    }
  }
  return true;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  const wa = new Uint32Array(a.buffer, a.byteOffset, a.byteLength >>> 2);
  const wb = new Uint32Array(b.buffer, b.byteOffset, b.byteLength >>> 2);
  for (let i = 0; i < wa.length; i++) if (wa[i] !== wb[i]) return false;
  for (let i = wa.length * 4; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Loads a model folder's graph and weights into the WASM kernels.
 * @example
 * const decoder = await createWasmDecoder({ graph, externalData: [{ path: 'model.onnx_data', data }] }, { numThreads: 2 });
 * const logits = await decoder.step([1, 403, 407]);
 */
export async function createWasmDecoder(files: WasmModelFiles, options: WasmDecoderOptions = {}): Promise<WasmDecoder> {
  const plan = planDecoder(files.graph);
  const threads = Math.max(1, Math.floor(options.numThreads ?? DEFAULT_WASM_DECODER.numThreads));
  const contextLength = Math.min(plan.maxPositions, options.contextLength ?? DEFAULT_WASM_DECODER.contextLength);
  const chunk = Math.max(1, Math.floor(options.prefillChunk ?? DEFAULT_WASM_DECODER.prefillChunk));
  const runtime = await startKernels(threads, options.wasmBinary);
  try {
    const { exports: k } = runtime;
    const sources = sourcesOf(files);
    // A q4 embedding stays q4 in memory (rows dequantized on lookup); tied to a q4 lm_head with the same
    // codes and scales, it is stored once for both.
    const embedMode = plan.embeddingScales ? EmbedMode.Q4 : EmbedMode.F32;
    const tied = embedMode === EmbedMode.Q4 && (await sameQ4Table(plan, sources));
    const headMode = tied ? HeadMode.Embedding : plan.lmHead.isQ4 ? HeadMode.Q4 : HeadMode.F32;
    const failed = k.lm_create(
      plan.hiddenSize, plan.intermediateSize, plan.numLayers, plan.numHeads, plan.numKvHeads, plan.headDim,
      plan.vocabSize, contextLength, chunk, plan.isQ4 ? 1 : 0, headMode, plan.ropeInterleaved ? 1 : 0,
      plan.rmsNormEps, plan.attentionScale, embedMode, threads,
    );
    if (failed) throw new LocalmError('out_of_memory', `wasm decoder: the model does not fit in 4 GiB of wasm32 memory (context ${contextLength}): load it with a smaller contextLength, or use webgpu/cpu`);
    await loadWeights(runtime, plan, sources, contextLength, headMode, options.signal);
    const info: WasmDecoderInfo = {
      device: 'wasm',
      skipped: [],
      kv: { numLayers: plan.numLayers, kvHeads: plan.numKvHeads, headDim: plan.headDim },
      vocabSize: plan.vocabSize,
      threads,
      contextLength,
      weightFormat: plan.isQ4 ? 'q4' : 'fp32',
      embedding: tied ? 'q4, shared with lm_head' : embedMode === EmbedMode.Q4 ? 'q4' : 'fp32',
      memoryBytes: runtime.memory.buffer.byteLength,
    };
    return new KernelDecoder(runtime, info, chunk);
  } catch (err) {
    await runtime.dispose();
    throw err;
  }
}

async function loadWeights(
  rt: KernelRuntime, plan: DecoderPlan, sources: Sources, contextLength: number, headMode: HeadMode, signal: AbortSignal | undefined,
): Promise<void> {
  const k = rt.exports;
  /** Fills `length` bytes at `ptr` from a tensor's bytes, starting `skip` bytes in. */
  const fill = (ref: TensorRef, ptr: number, length = byteLength(ref), skip = 0): Promise<void> => {
    signal?.throwIfAborted();
    return readTensor(sources, ref, rt.bytes().subarray(ptr >>> 0, (ptr >>> 0) + length), skip);
  };
  const expectBytes = (ref: TensorRef, want: number): void => {
    if (byteLength(ref) !== want) throw new LocalmError('corrupt_model', `${ref.name} has ${byteLength(ref)} bytes, expected ${want}`);
  };
  /** Scratch above the heap top for one load step; dropped afterwards. */
  const withScratch = async (bytes: number[], what: string, use: (ptrs: number[]) => Promise<void>): Promise<void> => {
    const mark = k.lm_heap_mark();
    try {
      const ptrs = bytes.map((b) => k.lm_alloc(b));
      if (ptrs.some((p) => p === 0)) throw new LocalmError('out_of_memory', `wasm decoder: no scratch memory to load ${what}`);
      await use(ptrs);
    } finally {
      k.lm_heap_reset(mark);
    }
  };
  /** A q4 [n, k] matrix (MatMulNBits / GatherBlockQuantized layout) into rows [row0, row0 + n) of a linear, a slab at a time. */
  const q4Rows = async (layer: number, which: Lin, row0: number, n: number, kk: number, weight: TensorRef, scales: TensorRef): Promise<void> => {
    const blocks = Math.ceil(kk / 32);
    expectBytes(weight, n * blocks * 16);
    expectBytes(scales, n * blocks * 4);
    const rows = Math.max(1, Math.min(n, Math.floor(SLAB_BYTES / (blocks * 16))));
    await withScratch([rows * blocks * 16, rows * blocks * 4], weight.name, async ([src, sc]) => {
      for (let r = 0; r < n; r += rows) {
        const count = Math.min(rows, n - r);
        await fill(weight, src!, count * blocks * 16, r * blocks * 16);
        await fill(scales, sc!, count * blocks * 4, r * blocks * 4);
        if (k.lm_load_linear(layer, which, row0 + r, count, kk, 1, src!, sc!) !== 0) {
          throw new LocalmError('unsupported_model', `wasm decoder: ${weight.name} does not fit its layer`);
        }
      }
    });
  };
  const h = plan.hiddenSize;

  if (plan.embeddingScales) {
    await q4Rows(0, Lin.Embed, 0, plan.vocabSize, h, plan.embedding, plan.embeddingScales);
  } else {
    expectBytes(plan.embedding, plan.vocabSize * h * 4);
    await fill(plan.embedding, k.lm_ptr(Ptr.Embed, 0));
  }
  const half = plan.headDim / 2;
  await fill(plan.rotaryCos, k.lm_ptr(Ptr.Cos, 0), contextLength * half * 4);
  await fill(plan.rotarySin, k.lm_ptr(Ptr.Sin, 0), contextLength * half * 4);
  expectBytes(plan.finalNorm, h * 4);
  await fill(plan.finalNorm, k.lm_ptr(Ptr.FinalNorm, 0));

  const linear = async (layer: number, which: Lin, row0: number, ref: LinearRef): Promise<void> => {
    if (ref.isQ4) {
      if (!ref.scales) throw new LocalmError('corrupt_model', `${ref.weight.name}: a 4-bit weight without scales`);
      await q4Rows(layer, which, row0, ref.n, ref.k, ref.weight, ref.scales);
      return;
    }
    // fp32 MatMul weights are [k, n]: rows of the kernel's layout are columns here, so the whole tensor passes at once.
    expectBytes(ref.weight, ref.n * ref.k * 4);
    await withScratch([ref.n * ref.k * 4], ref.weight.name, async ([src]) => {
      await fill(ref.weight, src!);
      if (k.lm_load_linear(layer, which, row0, ref.n, ref.k, 0, src!, 0) !== 0) {
        throw new LocalmError('unsupported_model', `wasm decoder: ${ref.weight.name} does not fit its layer`);
      }
    });
  };
  for (const [l, L] of plan.layers.entries()) {
    expectBytes(L.attnNorm, h * 4);
    expectBytes(L.ffnNorm, h * 4);
    await fill(L.attnNorm, k.lm_ptr(Ptr.AttnNorm, l));
    await fill(L.ffnNorm, k.lm_ptr(Ptr.FfnNorm, l));
    let row = 0;
    for (const ref of [L.q, L.k, L.v]) {
      if (ref.bias) await fill(ref.bias, (k.lm_ptr(Ptr.QkvBias, l) >>> 0) + row * 4, ref.n * 4);
      row += ref.n;
    }
    await linear(l, Lin.Qkv, 0, L.q);
    await linear(l, Lin.Qkv, L.q.n, L.k);
    await linear(l, Lin.Qkv, L.q.n + L.k.n, L.v);
    await linear(l, Lin.O, 0, L.o);
    await linear(l, Lin.GateUp, 0, L.gate);
    await linear(l, Lin.GateUp, L.gate.n, L.up);
    await linear(l, Lin.Down, 0, L.down);
  }
  if (headMode !== HeadMode.Embedding) await linear(0, Lin.Head, 0, plan.lmHead);
}

function byteLength(ref: TensorRef): number {
  return ref.bytes.kind === 'inline' ? ref.bytes.bytes.byteLength : ref.bytes.length;
}

class KernelDecoder implements WasmDecoder {
  #length = 0;
  #busy = false;
  #disposed = false;

  constructor(
    private readonly runtime: KernelRuntime,
    readonly info: WasmDecoderInfo,
    private readonly chunk: number,
  ) {}

  get cachedTokens(): number {
    return this.#length;
  }

  async step(ids: readonly number[]): Promise<Float32Array> {
    this.#check();
    if (ids.length === 0) throw new LocalmError('invalid_argument', 'step() needs at least one token id');
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= this.info.vocabSize) {
        throw new LocalmError('invalid_argument', `token id ${id} is outside the vocabulary [0, ${this.info.vocabSize})`);
      }
    }
    if (this.#busy) throw new LocalmError('busy', 'a step is already running on this decoder');
    const total = this.#length + ids.length;
    if (total > this.info.contextLength) {
      throw new LocalmError('context_full', `${total} tokens do not fit the ${this.info.contextLength}-position KV cache`);
    }
    this.#busy = true;
    try {
      const k = this.runtime.exports;
      const tokensPtr = k.lm_ptr(Ptr.Tokens, 0) >>> 0;
      let logitsPtr = 0;
      // Positions past #length may be overwritten here; they hold nothing until #length moves, so a
      // failure leaves the cache as it was.
      for (let start = 0; start < ids.length; start += this.chunk) {
        const part = ids.slice(start, start + this.chunk);
        this.runtime.write(tokensPtr, Int32Array.from(part));
        logitsPtr = k.lm_forward(part.length, this.#length + start) >>> 0;
      }
      const logits = new Float32Array(this.runtime.memory.buffer, logitsPtr, this.info.vocabSize).slice();
      this.#length = total;
      return logits;
    } catch (cause) {
      if (cause instanceof LocalmError) throw cause;
      throw new LocalmError('out_of_memory', `wasm decoder step failed: ${String(cause)}`, { cause });
    } finally {
      this.#busy = false;
    }
  }

  truncate(length: number): void {
    this.#check();
    if (this.#busy) throw new LocalmError('busy', 'cannot truncate the KV cache while a step runs');
    if (!Number.isInteger(length) || length < 0) throw new LocalmError('invalid_argument', `truncate(${length}): not a length`);
    this.#length = Math.min(this.#length, length);
  }

  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    await this.runtime.dispose();
  }

  #check(): void {
    if (this.#disposed) throw new LocalmError('disposed', 'this decoder was disposed');
  }
}
