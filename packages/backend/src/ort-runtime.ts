// Loads the onnxruntime build behind each device and opens sessions on it. The only module that
// imports onnxruntime; everything above it sees `OrtSession` and plain tensors.

import type { InferenceSession, Tensor } from 'onnxruntime-common';
import { LocalmError } from '@localm/errors';
import type { Device } from './device.js';

/** The onnxruntime API surface we use; onnxruntime-node and onnxruntime-web both provide it. */
export interface OrtModule {
  InferenceSession: { create(model: string | Uint8Array, options?: InferenceSession.SessionOptions): Promise<InferenceSession> };
  Tensor: {
    new (type: 'int64' | 'float32' | 'float16', data: BigInt64Array | Float32Array | Uint16Array, dims: readonly number[]): Tensor;
    fromGpuBuffer(buffer: unknown, options: { dataType: 'float32' | 'float16'; dims: readonly number[]; dispose?: () => void }): Tensor;
  };
  env: { wasm: { numThreads?: number }; webgpu?: { readonly device: Promise<unknown> } };
}

export type OrtSession = InferenceSession;

/** A model graph and the external data files it references, as bytes (and a path where there is one). */
export interface ModelFiles {
  graph: Uint8Array; // onnx/model.onnx
  graphPath?: string; // a local path: the native runtime then maps external data from disk itself
  externalData: readonly { path: string; data: Uint8Array }[]; // path as written in the graph, e.g. 'model.onnx_data'
  /** Reads the external data only when a runtime needs the bytes (native cpu maps them from graphPath). */
  loadExternalData?: () => Promise<readonly { path: string; data: Uint8Array }[]>;
  /**
   * The external data as byte ranges, where the source can read parts (a local file, a picked File):
   * localm's WASM kernels then copy each tensor straight into their memory, with no whole-file buffer.
   */
  openExternalData?: () => Promise<OpenedExternalData | undefined>;
}

/** Reads byte ranges of one external data file. */
export interface ByteRangeReader {
  read(offset: number, target: Uint8Array): Promise<void>;
}

export interface OpenedExternalData {
  files: readonly { path: string; data: ByteRangeReader }[];
  close(): Promise<void>;
}

/** The external data files, read now if they were left for later. */
export async function externalDataOf(files: ModelFiles): Promise<readonly { path: string; data: Uint8Array }[]> {
  return files.externalData.length > 0 || !files.loadExternalData ? files.externalData : files.loadExternalData();
}

export interface SessionOptions {
  numThreads?: number; // 0 or absent: the runtime's default
  webgpuEngine?: WebGpuEngine; // default DEFAULT_WEBGPU_ENGINE
}

/**
 * The native engine, on purpose. Both give llama2.c's greedy ids for stories260K on SwiftShader, at
 * about the same speed there (0.25-0.4 s per token either way, CPU-bound; load 7-9 s). What decides:
 * - JSEP rejects GroupQueryAttention with rotary_interleaved, which our converter writes for llama2.c
 *   checkpoints whose head size is a multiple of 16 (FACTS.md); stories260K's 8-wide heads rotate in
 *   separate RotaryEmbedding nodes, so it runs on both.
 * - On a real GPU (H100 through Dawn, 1B shape, KV cache on the GPU) the native engine decoded 2.5x
 *   faster than JSEP with f16 and somewhat faster in f32 (FACTS.md).
 * The cost: web bundles carry its 27 MB asyncify .wasm beside the JSEP one when onnxruntime's wasm
 * device can also be used. `webgpuEngine: 'jsep'` picks the other one.
 */
export const DEFAULT_WEBGPU_ENGINE: WebGpuEngine = 'native';

/**
 * onnxruntime-web 1.30 has two WebGPU engines: `onnxruntime-web` (JSEP: kernels written in JS/WGSL,
 * the same module as onnxruntime's 'wasm' device) and `onnxruntime-web/webgpu` (the native C++ WebGPU
 * EP compiled to WASM, with asyncify). packages/backend/test/webgpu.webgpu.test.ts runs both.
 */
export type WebGpuEngine = 'jsep' | 'native';

const loaded = new Map<string, Promise<OrtModule>>();

/** Imports the runtime for a device once. Throws `no_backend` when it cannot be loaded here. */
export function loadOrt(device: Device, webgpuEngine: WebGpuEngine = DEFAULT_WEBGPU_ENGINE): Promise<OrtModule> {
  // A variable specifier keeps bundlers from pulling onnxruntime-node into web builds; the literal
  // ones let them bundle onnxruntime-web's builds (its Node entry loads here too).
  const nativeModule = 'onnxruntime-node';
  const specifier = device === 'cpu' ? nativeModule : device === 'webgpu' && webgpuEngine === 'native' ? 'onnxruntime-web/webgpu' : 'onnxruntime-web';
  let runtime = loaded.get(specifier);
  if (!runtime) {
    const imported =
      specifier === nativeModule ? import(/* @vite-ignore */ nativeModule) : specifier === 'onnxruntime-web/webgpu' ? import('onnxruntime-web/webgpu') : import('onnxruntime-web');
    runtime = (imported as Promise<OrtModule>).catch((cause: unknown) => {
      loaded.delete(specifier);
      throw new LocalmError('no_backend', `${device}: cannot load ${specifier}: ${String(cause)}`, { cause });
    });
    loaded.set(specifier, runtime);
  }
  return runtime;
}

/** Opens one session on one device, turning onnxruntime's failures into typed errors. */
export async function openSession(device: Device, files: ModelFiles, options: SessionOptions): Promise<OrtSession> {
  const ort = await loadOrt(device, options.webgpuEngine);
  const threads = options.numThreads && options.numThreads > 0 ? options.numThreads : undefined;
  const sessionOptions: InferenceSession.SessionOptions = {
    executionProviders: [device],
    graphOptimizationLevel: 'all',
  };
  if (device === 'webgpu') {
    // Keys and values stay on the GPU between steps: present.* come back as GPU buffers and go straight
    // in as the next step's past_key_values (kv-cache.ts). Logits come back as a GPU buffer too and
    // are read with getData(): the output names, needed for a per-output choice, are known only after
    // the session exists.
    sessionOptions.preferredOutputLocation = 'gpu-buffer';
  }
  if (device === 'cpu') {
    if (threads !== undefined) sessionOptions.intraOpNumThreads = threads;
  } else if (threads !== undefined) {
    // onnxruntime-web reads its thread count from the global env when its WASM starts (once per module).
    ort.env.wasm.numThreads = threads;
  }
  const fromPath = device === 'cpu' && files.graphPath !== undefined;
  const externalData = fromPath ? [] : await externalDataOf(files);
  if (externalData.length > 0) sessionOptions.externalData = externalData.map((f) => ({ path: f.path, data: f.data }));
  try {
    return await ort.InferenceSession.create(fromPath ? files.graphPath! : files.graph, sessionOptions);
  } catch (cause) {
    throw toLocalmError(cause, device);
  }
}

/** Maps an onnxruntime exception to the closest `LocalmError` code. */
export function toLocalmError(cause: unknown, device: Device): LocalmError {
  const message = cause instanceof Error ? cause.message : String(cause);
  const say = (what: string): string => `${device}: ${what}: ${message.trim().slice(0, 500)}`;
  if (/not a registered function\/op|Could not find an implementation|unknown operator|Unsupported (op|operator)/i.test(message)) {
    return new LocalmError('unsupported_operator', say('the model uses an operator this runtime lacks'), { cause });
  }
  if (/bad_alloc|out of memory|Out of memory|memory access out of bounds|allocation failed/i.test(message)) {
    return new LocalmError('out_of_memory', say('not enough memory'), { cause });
  }
  if (/protobuf|parsing failed|Load model.*failed|model_path|external data|ModelProto|INVALID_GRAPH|INVALID_PROTOBUF|NO_MODEL|Type Error|ShapeInferenceError|Invalid model|not a valid|out of bounds|exceeds|GetExtDataFromTensorProto/i.test(message)) {
    return new LocalmError('corrupt_model', say('the model file could not be read; re-download or re-convert it'), { cause });
  }
  return new LocalmError('no_backend', say('onnxruntime failed'), { cause });
}
