// The messages between the bench page and its worker. One worker per run: a fresh heap, a fresh WASM
// memory and GPU device, so each run's peaks are its own and a failed run leaves nothing behind.

import type { BrowserRawRun } from '../../src/browser/browser-result.js';

export type BenchDevice = 'wasm' | 'webgpu';
/** Which code runs the model: localm (its own WASM kernels or ORT-web's WebGPU), plain onnxruntime-web, or wllama on the GGUF. */
export type BrowserRuntime = 'localm' | 'onnxruntime-web' | 'wllama';

export type RunSource =
  | { kind: 'url'; url: string } // a model folder over HTTP (ends with '/')
  | { kind: 'files'; files: File[] } // a picked folder, or a folder in OPFS read back as Files
  | { kind: 'opfs'; dir: string }; // a folder under the origin's private file system root

export interface RunRequest {
  type: 'run';
  source: RunSource;
  runtime: BrowserRuntime;
  device: BenchDevice;
  threads: number;
  prompt: number[];
  genTokens: number;
  ggufUrl?: string; // wllama: the GGUF of the same weights
  specialIds: number[]; // banned from the output so every run generates genTokens
  simulate?: 'allocation-failure'; // tests: a real RangeError from an impossible allocation, after load
}

/** Generates a synthetic preset into the OPFS folder `dir` (then writes its completion marker). */
export interface SynthRequest {
  type: 'synth';
  preset: string;
  dtype: 'q4' | 'q8' | 'fp16' | 'fp32';
  seed: number;
  dir: string;
}

export type WorkerMessage =
  | { type: 'synth-done'; weightBytes: number; files: string[] }
  | { type: 'progress'; phase: 'load' | 'generate'; fraction: number; text: string }
  | { type: 'result'; run: BrowserRawRun }
  | { type: 'error'; name: string; code?: string; message: string; isAllocationFailure: boolean; isDeviceLost: boolean };
