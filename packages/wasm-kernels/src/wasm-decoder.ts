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
const enum Lin { Qkv = 0, O = 1, GateUp = 2, Down = 3, Head = 4 }

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
    const failed = k.lm_create(
      plan.hiddenSize, plan.intermediateSize, plan.numLayers, plan.numHeads, plan.numKvHeads, plan.headDim,
      plan.vocabSize, contextLength, chunk, plan.isQ4 ? 1 : 0, plan.lmHead.isQ4 ? 1 : 0, plan.ropeInterleaved ? 1 : 0,
      plan.rmsNormEps, plan.attentionScale, 1, threads,
    );
    if (failed) throw new LocalmError('out_of_memory', `wasm decoder: the model does not fit in 4 GiB of wasm32 memory (context ${contextLength})`);
    await loadWeights(runtime, plan, files, contextLength);
    const info: WasmDecoderInfo = {
      device: 'wasm',
      skipped: [],
      kv: { numLayers: plan.numLayers, kvHeads: plan.numKvHeads, headDim: plan.headDim },
      vocabSize: plan.vocabSize,
      threads,
      contextLength,
      weightFormat: plan.isQ4 ? 'q4' : 'fp32',
      memoryBytes: runtime.memory.buffer.byteLength,
    };
    return new KernelDecoder(runtime, info, chunk);
  } catch (err) {
    await runtime.dispose();
    throw err;
  }
}

async function loadWeights(rt: KernelRuntime, plan: DecoderPlan, files: WasmModelFiles, contextLength: number): Promise<void> {
  const k = rt.exports;
  const sources = new Map(files.externalData.map((f) => [f.path, f.data]));
  /** Fills `length` bytes at `ptr` from a tensor's bytes, starting `skip` bytes in. */
  const fill = async (ref: TensorRef, ptr: number, length = byteLength(ref), skip = 0): Promise<void> => {
    if (length > byteLength(ref) - skip) throw new LocalmError('corrupt_model', `${ref.name}: ${byteLength(ref)} bytes, needs ${length + skip}`);
    const target = rt.bytes().subarray(ptr >>> 0, (ptr >>> 0) + length);
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
  };
  const expectBytes = (ref: TensorRef, want: number): void => {
    if (byteLength(ref) !== want) throw new LocalmError('corrupt_model', `${ref.name} has ${byteLength(ref)} bytes, expected ${want}`);
  };
  const h = plan.hiddenSize;

  if (plan.embeddingScales) {
    // A 4-bit table (GatherBlockQuantized) is expanded to fp32 rows in place, a slab of rows at a time
    // through scratch memory; the kernels read fp32 embedding rows.
    const blocks = h / 32;
    expectBytes(plan.embedding, plan.vocabSize * (h / 2));
    expectBytes(plan.embeddingScales, plan.vocabSize * blocks * 4);
    const rowsPerSlab = 1024;
    const mark = k.lm_heap_mark();
    const codes = k.lm_alloc(rowsPerSlab * (h / 2));
    const scales = k.lm_alloc(rowsPerSlab * blocks * 4);
    if (codes === 0 || scales === 0) throw new LocalmError('out_of_memory', 'wasm decoder: no scratch memory to expand the embedding');
    try {
      const embed = k.lm_ptr(Ptr.Embed, 0) >>> 0;
      for (let row0 = 0; row0 < plan.vocabSize; row0 += rowsPerSlab) {
        const rows = Math.min(rowsPerSlab, plan.vocabSize - row0);
        await fill(plan.embedding, codes, rows * (h / 2), row0 * (h / 2));
        await fill(plan.embeddingScales, scales, rows * blocks * 4, row0 * blocks * 4);
        const bytes = rt.bytes();
        const scale = new Float32Array(bytes.buffer, scales >>> 0, rows * blocks);
        const out = new Float32Array(bytes.buffer, embed + row0 * h * 4, rows * h);
        for (let r = 0; r < rows; r++) {
          for (let j = 0; j < h; j++) {
            const byte = bytes[(codes >>> 0) + r * (h / 2) + (j >> 1)]!;
            out[r * h + j] = (((j & 1) === 0 ? byte & 15 : byte >> 4) - 8) * scale[r * blocks + (j >> 5)]!;
          }
        }
      }
    } finally {
      k.lm_heap_reset(mark);
    }
  } else {
    expectBytes(plan.embedding, plan.vocabSize * h * 4);
    await fill(plan.embedding, k.lm_ptr(Ptr.Embed, 0));
  }
  const half = plan.headDim / 2;
  await fill(plan.rotaryCos, k.lm_ptr(Ptr.Cos, 0), contextLength * half * 4);
  await fill(plan.rotarySin, k.lm_ptr(Ptr.Sin, 0), contextLength * half * 4);
  expectBytes(plan.finalNorm, h * 4);
  await fill(plan.finalNorm, k.lm_ptr(Ptr.FinalNorm, 0));

  // Linear weights pass through scratch above the heap top, are repacked into place, and the scratch is dropped.
  const linear = async (layer: number, which: Lin, row0: number, ref: LinearRef): Promise<void> => {
    const mark = k.lm_heap_mark();
    try {
      const weightBytes = ref.isQ4 ? ref.n * Math.ceil(ref.k / 32) * 16 : ref.n * ref.k * 4;
      expectBytes(ref.weight, weightBytes);
      const src = k.lm_alloc(weightBytes);
      const scaleBytes = ref.scales ? ref.n * Math.ceil(ref.k / 32) * 4 : 0;
      const scales = ref.scales ? k.lm_alloc(scaleBytes) : 0;
      if (src === 0 || (ref.scales && scales === 0)) throw new LocalmError('out_of_memory', `wasm decoder: no scratch memory to load ${ref.weight.name}`);
      await fill(ref.weight, src);
      if (ref.scales) {
        expectBytes(ref.scales, scaleBytes);
        await fill(ref.scales, scales);
      }
      if (k.lm_load_linear(layer, which, row0, ref.n, ref.k, ref.isQ4 ? 1 : 0, src, scales) !== 0) {
        throw new LocalmError('unsupported_model', `wasm decoder: ${ref.weight.name} does not fit its layer`);
      }
    } finally {
      k.lm_heap_reset(mark);
    }
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
  await linear(0, Lin.Head, 0, plan.lmHead);
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
