// Loads the onnxruntime build behind each device and opens sessions on it. The only module that
// imports onnxruntime; everything above it sees `OrtSession` and plain tensors.

import type { InferenceSession, Tensor } from 'onnxruntime-common';
import { LocalmError } from '@localm/errors';
import type { Device } from './device.js';

/** The onnxruntime API surface we use; onnxruntime-node and onnxruntime-web both provide it. */
export interface OrtModule {
  InferenceSession: { create(model: string | Uint8Array, options?: InferenceSession.SessionOptions): Promise<InferenceSession> };
  Tensor: new (type: 'int64' | 'float32', data: BigInt64Array | Float32Array, dims: readonly number[]) => Tensor;
  env: { wasm: { numThreads?: number } };
}

export type OrtSession = InferenceSession;

/** A model graph and the external data files it references, as bytes (and a path where there is one). */
export interface ModelFiles {
  graph: Uint8Array; // onnx/model.onnx
  graphPath?: string; // a local path: the native runtime then maps external data from disk itself
  externalData: readonly { path: string; data: Uint8Array }[]; // path as written in the graph, e.g. 'model.onnx_data'
}

export interface SessionOptions {
  numThreads?: number; // 0 or absent: the runtime's default
}

const loaded = new Map<Device, Promise<OrtModule>>();

/** Imports the runtime for a device once. Throws `no_backend` when it cannot be loaded here. */
export function loadOrt(device: Device): Promise<OrtModule> {
  let runtime = loaded.get(device);
  if (!runtime) {
    // A variable specifier keeps bundlers from pulling onnxruntime-node into web builds; the literal
    // one lets them bundle onnxruntime-web (its Node entry loads here too).
    const nativeModule = 'onnxruntime-node';
    const specifier = device === 'cpu' ? nativeModule : 'onnxruntime-web';
    const imported = device === 'cpu' ? import(/* @vite-ignore */ nativeModule) : import('onnxruntime-web');
    runtime = (imported as Promise<OrtModule>).catch((cause: unknown) => {
      loaded.delete(device);
      throw new LocalmError('no_backend', `${device}: cannot load ${specifier}: ${String(cause)}`, { cause });
    });
    loaded.set(device, runtime);
  }
  return runtime;
}

/** Opens one session on one device, turning onnxruntime's failures into typed errors. */
export async function openSession(device: Device, files: ModelFiles, options: SessionOptions): Promise<OrtSession> {
  const ort = await loadOrt(device);
  const threads = options.numThreads && options.numThreads > 0 ? options.numThreads : undefined;
  const sessionOptions: InferenceSession.SessionOptions = {
    executionProviders: [device === 'cpu' ? 'cpu' : 'wasm'],
    graphOptimizationLevel: 'all',
  };
  if (device === 'cpu') {
    if (threads !== undefined) sessionOptions.intraOpNumThreads = threads;
  } else if (threads !== undefined) {
    // onnxruntime-web reads its thread count from the global env before its first session.
    ort.env.wasm.numThreads = threads;
  }
  const fromPath = device === 'cpu' && files.graphPath !== undefined;
  if (!fromPath && files.externalData.length > 0) {
    sessionOptions.externalData = files.externalData.map((f) => ({ path: f.path, data: f.data }));
  }
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
