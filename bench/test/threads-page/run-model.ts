// One greedy generation on localm's wasm kernels, and how many threads computed it: the page's worker
// and the page's main thread both call this (wasm-threads.test.ts).
import { loadModel } from '@localm/core';
import { workersStarted } from '../../web/src/thread-watch.js';

export interface ThreadsRequest {
  model: string; // folder URL
  numThreads?: number; // absent: the backend's default for this thread
  prompt: number[];
  maxTokens: number;
}

export interface ThreadsResult {
  tokenIds: number[];
  threads: number; // this thread plus the workers the run started
  engine: string;
  skipped: { device: string; reason: string }[];
  isWorker: boolean;
}

export async function runModel(request: ThreadsRequest): Promise<ThreadsResult> {
  const before = workersStarted();
  const model = await loadModel(request.model, {
    device: 'wasm',
    wasmEngine: 'localm',
    cache: false,
    ...(request.numThreads === undefined ? {} : { numThreads: request.numThreads }),
  });
  try {
    let tokenIds: number[] = [];
    for await (const e of model.generate(request.prompt, { maxTokens: request.maxTokens })) if (e.type === 'done') tokenIds = e.tokenIds;
    return {
      tokenIds,
      threads: 1 + workersStarted() - before,
      engine: model.info.engine,
      skipped: model.info.skippedDevices.map((s) => ({ device: s.device, reason: s.reason })),
      isWorker: typeof document === 'undefined',
    };
  } finally {
    await model.dispose();
  }
}
