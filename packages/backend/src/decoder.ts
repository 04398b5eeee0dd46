// A decoder session: picks a device, opens the graph, and runs one step at a time over a KV cache
// it keeps. Speaks token ids and logits, never text.

import type { InferenceSession, Tensor } from 'onnxruntime-common';
import { LocalmError, isLocalmError } from '@localm/errors';
import { detectCapabilities, detectWebGpu } from './capabilities.js';
import { planDevices, type Device, type DeviceRequest, type SkippedDevice } from './device.js';
import { KvCache, type KvDataType, type KvLayout } from './kv-cache.js';
import { DEFAULT_WEBGPU_ENGINE, externalDataOf, loadOrt, openSession, toLocalmError, type ModelFiles, type OrtModule, type OrtSession, type WebGpuEngine } from './ort-runtime.js';
import { watchGpuDevice, webGpuLostReason, type GpuWatch } from './gpu-device.js';
import { trackRuntime } from './open-runtimes.js';

export interface DecoderOptions {
  device?: DeviceRequest; // default 'auto'
  numThreads?: number; // default: the runtime's choice (localm's WASM kernels: every core in Node, 1 in browsers)
  contextLength?: number; // positions the KV cache must hold; sizes localm's WASM KV cache (default 4096)
  wasmEngine?: WasmEngineRequest; // which engine runs the 'wasm' device; default 'auto'
  webgpuEngine?: WebGpuEngine; // which onnxruntime-web WebGPU engine runs 'webgpu'; default DEFAULT_WEBGPU_ENGINE
  // Ends the load: its reason is rethrown once the running stage returns (a session being created
  // cannot be interrupted), and whatever was opened is released first. Not a device failure: no fallback.
  signal?: AbortSignal;
}

/** The code that runs a session: our kernels, or the onnxruntime module (by its import specifier). */
export type Engine = 'localm-wasm' | 'onnxruntime-web' | 'onnxruntime-web/webgpu' | 'onnxruntime-node';
/** 'auto': localm's own kernels when they support the graph, else onnxruntime-web. */
export type WasmEngineRequest = 'auto' | 'localm' | 'onnxruntime';

/** What was decided when the decoder was created. */
export interface DecoderInfo {
  device: Device; // the device in use, after 'auto'
  skipped: SkippedDevice[]; // devices (or a device's variants, e.g. wasm with threads) not used, each with its reason
  engine: Engine; // what runs it on that device
  engineNotes: string[]; // engines passed over on that device, with reasons
  kv: KvLayout;
  vocabSize: number;
  // The most tokens one runtime call computes correctly; step() splits longer inputs into calls of at
  // most this many (callers that check for aborts between calls may chunk to it). Absent: no limit.
  maxStepTokens?: number;
}

/** One model graph on one device, with its KV cache. */
export interface Decoder {
  readonly info: DecoderInfo;
  /** Tokens already in the KV cache. */
  readonly cachedTokens: number;
  /** Runs `ids` after the cached tokens and returns the logits of the last one. On failure the cache is unchanged. */
  step(ids: readonly number[]): Promise<Float32Array>;
  /** Keeps at most the first `length` cached tokens (a device may keep fewer: read cachedTokens after). */
  truncate(length: number): void;
  dispose(): Promise<void>;
}

/**
 * Opens a decoder on the first device that works, in the order `planDevices` gives: in browsers webgpu,
 * then wasm with threads, then wasm on one thread. Every device or variant passed over is in
 * `info.skipped` with its reason; when none works, `no_backend` lists them all.
 * @example
 * const decoder = await createDecoder(files, { device: 'auto' });
 * const logits = await decoder.step([1, 403, 407]);
 */
export async function createDecoder(files: ModelFiles, options: DecoderOptions = {}): Promise<Decoder> {
  const request = options.device ?? 'auto';
  const { signal } = options;
  signal?.throwIfAborted();
  const caps = detectCapabilities();
  const { order, skipped } = planDevices(request, caps);
  const engineNotes: string[] = [];
  // A model the runtime cannot read, or files that fail their checks, fail the same way everywhere:
  // say so instead of falling back.
  const isModelError = (err: unknown): boolean =>
    isLocalmError(err, 'corrupt_model') || isLocalmError(err, 'unsupported_model') || isLocalmError(err, 'checksum_mismatch') || isLocalmError(err, 'not_found');
  const skip = (device: Device, err: unknown): void => {
    signal?.throwIfAborted();
    if (isModelError(err)) throw err;
    skipped.push({ device, reason: err instanceof Error ? err.message : String(err) });
  };
  for (const device of order) {
    if (device === 'webgpu') {
      const reason = await webGpuSkipReason(request);
      if (reason !== undefined) {
        skipped.push({ device, reason });
        continue;
      }
      try {
        return await openOrt('webgpu', files, { ...options, webgpuEngine: options.webgpuEngine ?? DEFAULT_WEBGPU_ENGINE }, skipped, engineNotes);
      } catch (err) {
        skip(device, err);
      }
      continue;
    }
    if (device === 'wasm') {
      // wasm with threads, then wasm on one thread: a thread pool can fail to start (no
      // SharedArrayBuffer, a blocked worker) where one thread still runs.
      const threads = options.numThreads;
      const wantsThreads = threads === undefined || threads > 1;
      if (wantsThreads && !caps.wasmThreads) {
        skipped.push({ device, reason: 'threads: SharedArrayBuffer needs cross-origin isolation (COOP/COEP); using one thread' });
      }
      const attempts: (number | undefined)[] = wantsThreads && caps.wasmThreads ? [threads, 1] : [1];
      for (const [i, numThreads] of attempts.entries()) {
        try {
          return await openWasm(files, { ...options, ...(numThreads === undefined ? {} : { numThreads }) }, skipped, engineNotes);
        } catch (err) {
          signal?.throwIfAborted();
          if (i < attempts.length - 1 && !isModelError(err)) {
            skipped.push({ device, reason: `with threads (${numThreads ?? 'default'}): ${err instanceof Error ? err.message : String(err)}` });
          } else skip(device, err);
        }
      }
      continue;
    }
    try {
      return await openOrt(device, files, options, skipped, engineNotes);
    } catch (err) {
      skip(device, err);
    }
  }
  const reasons = skipped.map((s) => `${s.device} (${s.reason})`).join(', ');
  throw new LocalmError('no_backend', `no device could run the model: ${reasons}`, { details: { skipped } });
}

/** Why webgpu is out before trying it, or undefined. Probes the adapter (once). */
async function webGpuSkipReason(request: DeviceRequest): Promise<string | undefined> {
  const lost = webGpuLostReason();
  if (lost !== undefined) return `the GPU device was lost earlier here (${lost}); a new page or worker gets a new one`;
  const gpu = await detectWebGpu();
  if (!gpu.available) return gpu.reason;
  // A software adapter computes correctly but ~10x slower than wasm (FACTS.md): only on request.
  if (request === 'auto' && gpu.isFallbackAdapter) return 'the adapter is a software fallback (e.g. SwiftShader), slower than wasm; request device "webgpu" to use it';
  return undefined;
}

async function openWasm(files: ModelFiles, options: DecoderOptions, skipped: SkippedDevice[], engineNotes: string[]): Promise<Decoder> {
  if ((options.wasmEngine ?? 'auto') !== 'onnxruntime') {
    try {
      return await openLocalmWasm(files, options, skipped);
    } catch (err) {
      if (options.wasmEngine === 'localm' || !isLocalmError(err, 'unsupported_model')) throw err;
      engineNotes.push(`localm-wasm: ${err.message}`);
    }
  }
  return openOrt('wasm', files, options, skipped, engineNotes);
}

/**
 * onnxruntime-web 1.30's native WebGPU engine computes some calls of more than 16 tokens wrongly (issue #8).
 * Measured on Chromium's SwiftShader adapter with stories260K (GroupQueryAttention after separate
 * RotaryEmbedding nodes), greedy ids against onnxruntime-node's, for a 377-token prompt and a 376-token
 * one (the same without its second token). Single calls from an empty cache: 16-40 tokens right for
 * both, 48, 64 and 96 wrong for one, 128 wrong for the other. The whole prompts in calls of 48, 64 or 128
 * (first call 0, 1 or 5 tokens): the second gives 391 where cpu gives 439. Calls of at most 32 passed
 * over whole prompts, but a 64-token prefix fed as 32 + 32 and a 128-token one as 4 x 32 were wrong
 * (the same ids as unsplit), and so was 226 tokens on 150 cached. Calls of at most 16 gave cpu's ids in
 * every case tried (prefixes of 48-128, 150 + 226, 100 + 60, whole prompts in 8/16-token calls from
 * offsets 0, 1, 5). Whether a size fails depends on the tokens: 16 is the size seen right every time,
 * not a proven bound. Per-call cost is one logits read-back.
 */
const NATIVE_WEBGPU_MAX_STEP_TOKENS = 16;

/** An onnxruntime session (native, WASM or WebGPU) with a KV cache of its own tensors. */
async function openOrt(device: Device, files: ModelFiles, options: DecoderOptions, skipped: SkippedDevice[], engineNotes: string[]): Promise<Decoder> {
  const webgpuEngine = options.webgpuEngine ?? DEFAULT_WEBGPU_ENGINE;
  let session: OrtSession | undefined;
  let untrack: (() => void) | undefined;
  let gpu: GpuWatch | undefined;
  try {
    session = await openSession(device, files, {
      ...(options.numThreads === undefined ? {} : { numThreads: options.numThreads }),
      ...(device === 'webgpu' ? { webgpuEngine } : {}),
    });
    untrack = trackRuntime();
    options.signal?.throwIfAborted();
    const ort = await loadOrt(device, webgpuEngine);
    const { kv, kvDataType, vocabSize } = readLayout(session);
    if (device === 'webgpu') {
      if (kvDataType === 'float16' && !(await detectWebGpu()).shaderF16) {
        throw new LocalmError('no_backend', "the model computes in float16 and this adapter lacks 'shader-f16': use the model's f32 variant");
      }
      gpu = await watchGpuDevice(ort);
      options.signal?.throwIfAborted();
    }
    const engine: Engine = device === 'cpu' ? 'onnxruntime-node' : device === 'webgpu' && webgpuEngine === 'native' ? 'onnxruntime-web/webgpu' : 'onnxruntime-web';
    const limit = engine === 'onnxruntime-web/webgpu' ? { maxStepTokens: NATIVE_WEBGPU_MAX_STEP_TOKENS } : {};
    return new OrtDecoder(ort, session, { device, skipped: [...skipped], engine, engineNotes, kv, vocabSize, ...limit }, kvDataType, gpu, untrack);
  } catch (err) {
    gpu?.release();
    await session?.release().then(untrack, () => undefined);
    throw err;
  }
}

/** localm's own WASM SIMD decoder (packages/wasm-kernels): one call into WASM per step. */
async function openLocalmWasm(files: ModelFiles, options: DecoderOptions, skipped: SkippedDevice[]): Promise<Decoder> {
  const { createWasmDecoder, canWaitOnThisThread } = await import('@localm/wasm-kernels');
  const caps = detectCapabilities();
  // Threads in Node (worker_threads) and in a cross-origin-isolated Web Worker (nested workers; at most
  // 4 by default, so a tab leaves cores to the page and the rest of the device). One on a window's main
  // thread: the calling thread blocks in Atomics.wait for the others' shares, which a page may not do.
  const threads = options.numThreads ?? (!caps.wasmThreads || !canWaitOnThisThread() ? 1 : caps.node ? await nodeCores() : Math.min(4, caps.hardwareConcurrency));
  const ranged = await files.openExternalData?.();
  let decoder: Awaited<ReturnType<typeof createWasmDecoder>>;
  try {
    decoder = await createWasmDecoder(
      { graph: files.graph, externalData: ranged ? ranged.files : await externalDataOf(files) },
      {
        numThreads: threads,
        ...(options.contextLength === undefined ? {} : { contextLength: options.contextLength }),
        ...(options.signal ? { signal: options.signal } : {}),
      },
    );
  } finally {
    await ranged?.close();
  }
  const untrack = trackRuntime();
  const dispose = async (): Promise<void> => {
    await decoder.dispose(); // stops and terminates its worker threads
    untrack();
  };
  if (options.signal?.aborted) {
    await dispose();
    options.signal.throwIfAborted();
  }
  const { kv, vocabSize } = decoder.info;
  const info: DecoderInfo = { device: 'wasm', skipped: [...skipped], engine: 'localm-wasm', engineNotes: [], kv, vocabSize };
  return {
    info,
    get cachedTokens() {
      return decoder.cachedTokens;
    },
    step: (ids) => decoder.step(ids),
    truncate: (length) => decoder.truncate(length),
    dispose,
  };
}

async function nodeCores(): Promise<number> {
  const osModule = 'node:os';
  const os = (await import(/* @vite-ignore */ osModule)) as typeof import('node:os');
  return Math.max(1, os.availableParallelism());
}

function readLayout(session: InferenceSession): { kv: KvLayout; kvDataType: KvDataType; vocabSize: number } {
  const need = ['input_ids', 'attention_mask'];
  for (const name of need) {
    if (!session.inputNames.includes(name)) {
      throw new LocalmError('unsupported_model', `the graph has no input '${name}' (expected the onnxruntime-genai decoder layout)`);
    }
  }
  const numLayers = session.inputNames.filter((n) => /^past_key_values\.\d+\.key$/.test(n)).length;
  const past = session.inputMetadata.find((m) => m.name === 'past_key_values.0.key');
  const logits = session.outputMetadata.find((m) => m.name === 'logits');
  const kvHeads = past?.isTensor ? past.shape[1] : undefined;
  const headDim = past?.isTensor ? past.shape[3] : undefined;
  const vocabSize = logits?.isTensor ? logits.shape[2] : undefined;
  if (numLayers === 0 || typeof kvHeads !== 'number' || typeof headDim !== 'number' || typeof vocabSize !== 'number') {
    throw new LocalmError('unsupported_model', 'the graph needs past_key_values.{i}.key/.value inputs with fixed head counts and a logits output with a fixed vocabulary size');
  }
  const kvDataType: KvDataType = past?.isTensor && past.type === 'float16' ? 'float16' : 'float32';
  return { kv: { numLayers, kvHeads, headDim }, kvDataType, vocabSize };
}

class OrtDecoder implements Decoder {
  readonly #cache: KvCache;
  #busy = false;
  #disposed = false;

  constructor(
    private readonly ort: OrtModule,
    private readonly session: OrtSession,
    readonly info: DecoderInfo,
    kvDataType: KvDataType,
    private readonly gpu: GpuWatch | undefined, // webgpu: the device ORT runs on, watched for loss
    private readonly untrack: () => void, // counts the session as released (open-runtimes.ts)
  ) {
    this.#cache = new KvCache(ort, info.kv, kvDataType, gpu?.device);
  }

  get cachedTokens(): number {
    return this.#cache.length;
  }

  async step(ids: readonly number[]): Promise<Float32Array> {
    this.#check();
    if (ids.length === 0) throw new LocalmError('invalid_argument', 'step() needs at least one token id');
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= this.info.vocabSize) {
        throw new LocalmError('invalid_argument', `token id ${id} is outside the vocabulary [0, ${this.info.vocabSize})`);
      }
    }
    // onnxruntime rejects a second run() on a session until the first settles, and two runs would
    // interleave in one KV cache: refuse instead.
    if (this.#busy) throw new LocalmError('busy', 'a step is already running on this decoder');
    this.#busy = true;
    const start = this.#cache.length;
    const size = this.info.maxStepTokens ?? ids.length;
    try {
      let last: Float32Array | undefined;
      for (let at = 0; at < ids.length; at += size) last = await this.#run(ids.slice(at, at + size));
      return last!;
    } catch (err) {
      // The calls that succeeded advanced the cache: cut it back so a failed step leaves it as it was.
      this.#cache.truncate(start);
      throw err;
    } finally {
      this.#busy = false;
    }
  }

  /** One runtime call: `ids` after the cached tokens; returns the last one's logits. */
  async #run(ids: readonly number[]): Promise<Float32Array> {
    const outputs: Tensor[] = [];
    try {
      const total = this.#cache.length + ids.length;
      const feeds: Record<string, Tensor> = {
        ...(await this.#guard(this.#cache.feeds())),
        input_ids: new this.ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [1, ids.length]),
        attention_mask: new this.ort.Tensor('int64', new BigInt64Array(total).fill(1n), [1, total]),
      };
      const result = await this.#guard(this.session.run(feeds));
      outputs.push(...Object.values(result));
      const logits = result['logits']!;
      const vocab = this.info.vocabSize;
      // On webgpu the logits are a GPU buffer too: one read-back per call, the only one.
      const all = (logits.location === 'cpu' ? logits.data : await this.#guard(logits.getData())) as Float32Array;
      const last = all.slice((ids.length - 1) * vocab, ids.length * vocab);
      logits.dispose();
      this.#cache.replace(result, total);
      outputs.length = 0; // the cache owns present.* now
      return last;
    } catch (err) {
      // Free what this call made; the cache still holds what it had before it.
      for (const t of outputs) t.dispose();
      throw err;
    }
  }

  truncate(length: number): void {
    this.#check();
    if (this.#busy) throw new LocalmError('busy', 'cannot truncate the KV cache while a step runs');
    this.#cache.truncate(length);
  }

  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#cache.clear();
    this.gpu?.release();
    await this.session.release().catch((err: unknown) => {
      if (this.gpu?.lost === undefined) throw err; // a lost device cannot free its buffers: nothing is left to free
    });
    this.untrack();
  }

  #check(): void {
    if (this.#disposed) throw new LocalmError('disposed', 'this decoder was disposed');
    if (this.gpu?.lost !== undefined) throw this.gpu.lostError();
  }

  /** Runs a runtime call; on webgpu a lost device ends it with a typed error instead of a hang or a vague one. */
  async #guard<T>(call: Promise<T>): Promise<T> {
    if (!this.gpu) {
      try {
        return await call;
      } catch (cause) {
        throw isLocalmError(cause) ? cause : toLocalmError(cause, this.info.device);
      }
    }
    const gpu = this.gpu;
    try {
      return await Promise.race([call, gpu.whenLost.then(() => Promise.reject(gpu.lostError()))]);
    } catch (cause) {
      if (gpu.lost !== undefined) {
        call.catch(() => undefined);
        throw gpu.lostError(cause);
      }
      throw isLocalmError(cause) ? cause : toLocalmError(cause, this.info.device);
    }
  }
}
