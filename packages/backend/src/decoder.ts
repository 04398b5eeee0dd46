// A decoder session: picks a device, opens the graph, and runs one step at a time over a KV cache
// it keeps. Speaks token ids and logits, never text.

import type { InferenceSession, Tensor } from 'onnxruntime-common';
import { LocalmError, isLocalmError } from '@localm/errors';
import { detectCapabilities } from './capabilities.js';
import { planDevices, type Device, type DeviceRequest, type SkippedDevice } from './device.js';
import { KvCache, type KvLayout } from './kv-cache.js';
import { loadOrt, openSession, toLocalmError, type ModelFiles, type OrtModule, type OrtSession } from './ort-runtime.js';

export interface DecoderOptions {
  device?: DeviceRequest; // default 'auto'
  numThreads?: number; // default: the runtime's choice (localm's WASM kernels: every core in Node, 1 in browsers)
  contextLength?: number; // positions the KV cache must hold; sizes localm's WASM KV cache (default 4096)
  wasmEngine?: WasmEngineRequest; // which engine runs the 'wasm' device; default 'auto'
}

/** The code that runs a session. */
export type Engine = 'localm-wasm' | 'onnxruntime-web' | 'onnxruntime-node';
/** 'auto': localm's own kernels when they support the graph, else onnxruntime-web. */
export type WasmEngineRequest = 'auto' | 'localm' | 'onnxruntime';

/** What was decided when the decoder was created. */
export interface DecoderInfo {
  device: Device; // the device in use, after 'auto'
  skipped: SkippedDevice[]; // devices not used, each with its reason
  engine: Engine; // what runs it on that device
  engineNotes: string[]; // engines passed over on that device, with reasons
  kv: KvLayout;
  vocabSize: number;
}

/** One model graph on one device, with its KV cache. */
export interface Decoder {
  readonly info: DecoderInfo;
  /** Tokens already in the KV cache. */
  readonly cachedTokens: number;
  /** Runs `ids` after the cached tokens and returns the logits of the last one. On failure the cache is unchanged. */
  step(ids: readonly number[]): Promise<Float32Array>;
  /** Keeps the first `length` cached tokens. `truncate(0)` starts over. */
  truncate(length: number): void;
  dispose(): Promise<void>;
}

/**
 * Opens a decoder on the first device that works, in the order `planDevices` gives.
 * @example
 * const decoder = await createDecoder(files, { device: 'auto' });
 * const logits = await decoder.step([1, 403, 407]);
 */
export async function createDecoder(files: ModelFiles, options: DecoderOptions = {}): Promise<Decoder> {
  const { order, skipped } = planDevices(options.device ?? 'auto', detectCapabilities());
  const engineNotes: string[] = [];
  for (const device of order) {
    if (device === 'wasm' && (options.wasmEngine ?? 'auto') !== 'onnxruntime') {
      try {
        return await openLocalmWasm(files, options, skipped);
      } catch (err) {
        if (options.wasmEngine === 'localm' || !isLocalmError(err, 'unsupported_model')) throw err;
        engineNotes.push(`localm-wasm: ${err.message}`);
      }
    }
    let session: OrtSession | undefined;
    try {
      session = await openSession(device, files, options.numThreads === undefined ? {} : { numThreads: options.numThreads });
      const ort = await loadOrt(device);
      const { kv, vocabSize } = readLayout(session);
      const engine: Engine = device === 'cpu' ? 'onnxruntime-node' : 'onnxruntime-web';
      return new OrtDecoder(ort, session, { device, skipped: [...skipped], engine, engineNotes, kv, vocabSize });
    } catch (err) {
      await session?.release().catch(() => undefined);
      // A model the runtime cannot read fails the same way everywhere: say so instead of falling back.
      if (isLocalmError(err, 'corrupt_model') || isLocalmError(err, 'unsupported_model')) throw err;
      skipped.push({ device, reason: err instanceof Error ? err.message : String(err) });
    }
  }
  const reasons = skipped.map((s) => `${s.device} (${s.reason})`).join(', ');
  throw new LocalmError('no_backend', `no device could run the model: ${reasons}`, { details: { skipped } });
}

/** localm's own WASM SIMD decoder (packages/wasm-kernels): one call into WASM per step. */
async function openLocalmWasm(files: ModelFiles, options: DecoderOptions, skipped: SkippedDevice[]): Promise<Decoder> {
  const { createWasmDecoder } = await import('@localm/wasm-kernels');
  const caps = detectCapabilities();
  // Threads are tested in Node (worker_threads); in browsers they wait on the main thread, so one.
  const threads = options.numThreads ?? (caps.node && caps.wasmThreads ? await nodeCores() : 1);
  const decoder = await createWasmDecoder(
    { graph: files.graph, externalData: files.externalData },
    { numThreads: threads, ...(options.contextLength === undefined ? {} : { contextLength: options.contextLength }) },
  );
  const { kv, vocabSize } = decoder.info;
  const info: DecoderInfo = { device: 'wasm', skipped: [...skipped], engine: 'localm-wasm', engineNotes: [], kv, vocabSize };
  return {
    info,
    get cachedTokens() {
      return decoder.cachedTokens;
    },
    step: (ids) => decoder.step(ids),
    truncate: (length) => decoder.truncate(length),
    dispose: () => decoder.dispose(),
  };
}

async function nodeCores(): Promise<number> {
  const osModule = 'node:os';
  const os = (await import(/* @vite-ignore */ osModule)) as typeof import('node:os');
  return Math.max(1, os.availableParallelism());
}

function readLayout(session: InferenceSession): { kv: KvLayout; vocabSize: number } {
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
  return { kv: { numLayers, kvHeads, headDim }, vocabSize };
}

class OrtDecoder implements Decoder {
  readonly #cache: KvCache;
  #busy = false;
  #disposed = false;

  constructor(
    private readonly ort: OrtModule,
    private readonly session: OrtSession,
    readonly info: DecoderInfo,
  ) {
    this.#cache = new KvCache(ort, info.kv);
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
    try {
      const total = this.#cache.length + ids.length;
      const feeds: Record<string, Tensor> = {
        ...this.#cache.feeds(),
        input_ids: new this.ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [1, ids.length]),
        attention_mask: new this.ort.Tensor('int64', new BigInt64Array(total).fill(1n), [1, total]),
      };
      let outputs: InferenceSession.ReturnType;
      try {
        outputs = await this.session.run(feeds);
      } catch (cause) {
        throw toLocalmError(cause, this.info.device);
      }
      const logits = outputs['logits']!;
      const vocab = this.info.vocabSize;
      const last = (logits.data as Float32Array).slice((ids.length - 1) * vocab, ids.length * vocab);
      logits.dispose();
      this.#cache.replace(outputs, total);
      return last;
    } finally {
      this.#busy = false;
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
    await this.session.release();
  }

  #check(): void {
    if (this.#disposed) throw new LocalmError('disposed', 'this decoder was disposed');
  }
}
