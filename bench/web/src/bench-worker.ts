// The bench's worker: one run per worker. Loads the model with @localm/core, generates from token ids
// with EOS banned, and sends back when each token was known and the memory it saw. The page renders.
import { gpuBufferPeakBytes, wasmMemoryBytes } from './memory-watch.js';
import { workersStarted } from './thread-watch.js';
import { isLocalmError, loadModel, type ModelSource } from '@localm/core';
import { tokenTimes, type BrowserRawRun } from '../../src/browser/browser-result.js';
import { opfsSink, synthesizeModel } from '@localm/convert/synth';
import type { RunRequest, RunSource, SynthRequest, WorkerMessage } from './protocol.js';
import { COMPLETE_MARKER } from './synth-input.js';
import { runWllama } from './wllama-run.js';

const post = (message: WorkerMessage): void => postMessage(message);

async function modelSource(source: RunSource): Promise<ModelSource> {
  if (source.kind === 'url') return source.url;
  if (source.kind === 'files') return source.files;
  // A folder in OPFS: its files as File objects, read lazily by core (no copy here).
  const files: File[] = [];
  const walk = async (dir: FileSystemDirectoryHandle, prefix: string): Promise<void> => {
    for await (const [name, handle] of (dir as unknown as { entries(): AsyncIterable<[string, FileSystemHandle]> }).entries()) {
      if (handle.kind === 'directory') await walk(handle as FileSystemDirectoryHandle, `${prefix}${name}/`);
      else {
        const file = await (handle as FileSystemFileHandle).getFile();
        files.push(new File([file], `${prefix}${name}`));
      }
    }
  };
  const root = await navigator.storage.getDirectory();
  await walk(await root.getDirectoryHandle(source.dir), '');
  return files;
}

async function run(request: RunRequest): Promise<BrowserRawRun> {
  if (request.runtime === 'wllama') return runWllama(request);
  const loadStart = performance.now();
  const model = await loadModel(await modelSource(request.source), {
    device: request.device,
    numThreads: request.threads,
    wasmEngine: request.runtime === 'onnxruntime-web' ? 'onnxruntime' : 'auto',
    // A URL goes through the model cache as in an app: the weights then reach WASM in byte ranges read
    // from the cache on disk. (cache: false would hold the whole download in memory beside them.)
    onProgress: ({ loadedBytes, totalBytes, file }) =>
      post({ type: 'progress', phase: 'load', fraction: totalBytes > 0 ? loadedBytes / totalBytes : 0, text: `loading ${file}: ${(loadedBytes / 1e6).toFixed(0)} of ${(totalBytes / 1e6).toFixed(0)} MB` }),
  });
  const loadMs = performance.now() - loadStart;
  post({ type: 'progress', phase: 'generate', fraction: 0, text: `loaded in ${(loadMs / 1000).toFixed(1)} s on ${model.info.device} (${model.info.engine}); prefill…` });
  // A real failed allocation (RangeError), kept where a minifier cannot drop it as unused.
  if (request.simulate === 'allocation-failure') (globalThis as { benchHog?: ArrayBuffer }).benchHog = new ArrayBuffer(Number.MAX_SAFE_INTEGER);
  const logitBias = Object.fromEntries(request.specialIds.map((id) => [id, -Infinity]));
  const events: { atMs: number; tokenId: number }[] = [];
  let done: { tokenIds: number[]; prefillMs: number; decodeMs: number } | undefined;
  const start = performance.now();
  let lastPost = 0;
  for await (const e of model.generate(request.prompt, { maxTokens: request.genTokens, logitBias })) {
    if (e.type === 'text') {
      const atMs = performance.now() - start;
      events.push({ atMs, tokenId: e.tokenId });
      if (atMs - lastPost > 100) {
        lastPost = atMs;
        post({ type: 'progress', phase: 'generate', fraction: events.length / request.genTokens, text: `generating: ${events.length} of ${request.genTokens} tokens` });
      }
    } else done = { tokenIds: e.tokenIds, prefillMs: e.timings.prefillMs, decodeMs: e.timings.decodeMs };
  }
  const { device, engine, engineNotes } = model.info;
  const result: BrowserRawRun = {
    runtime: request.runtime,
    device,
    engine,
    promptTokens: request.prompt.length,
    loadMs,
    tokenTimesMs: [],
    tokenIds: [],
    wasmMemoryBytes: wasmMemoryBytes(),
    gpuBufferPeakBytes: gpuBufferPeakBytes(),
    threads: 1 + workersStarted(),
    notes: [`${request.threads} thread(s) asked, ${1 + workersStarted()} ran`, ...engineNotes],
  };
  // No dispose: the page measures memory while the model is still loaded, then ends this worker.
  if (!done) throw new Error('generate() ended without a done event');
  return { ...result, tokenIds: done.tokenIds, tokenTimesMs: tokenTimes(events, done) };
}

async function synth(request: SynthRequest): Promise<WorkerMessage> {
  const root = await navigator.storage.getDirectory();
  await root.removeEntry(request.dir, { recursive: true }).catch(() => undefined); // a stopped generation's leftovers
  const dir = await root.getDirectoryHandle(request.dir, { create: true });
  const result = await synthesizeModel(
    {
      preset: request.preset, seed: request.seed, dtype: request.dtype,
      onProgress: ({ bytesWritten, totalBytes }) => post({ type: 'progress', phase: 'load', fraction: bytesWritten / totalBytes, text: `generating ${request.preset} ${request.dtype} into OPFS: ${(bytesWritten / 1e6).toFixed(0)} of ${(totalBytes / 1e6).toFixed(0)} MB` }),
    },
    opfsSink(dir),
  );
  await opfsSink(dir).writeText(COMPLETE_MARKER, JSON.stringify({ preset: request.preset, dtype: request.dtype, seed: request.seed, weightBytes: result.weightBytes }));
  return { type: 'synth-done', weightBytes: result.weightBytes, files: result.files };
}

function describe(err: unknown): WorkerMessage {
  const e = err instanceof Error ? err : new Error(String(err));
  const code = isLocalmError(err) ? err.code : undefined;
  const text = `${e.name}: ${e.message}`;
  return {
    type: 'error',
    name: e.name,
    ...(code ? { code } : {}),
    message: e.message,
    // V8: 'Array buffer allocation failed', 'Invalid array buffer length', 'WebAssembly.Memory(): could not allocate memory'.
    isAllocationFailure: code === 'out_of_memory' || e instanceof RangeError || /out of memory|allocation failed|could not allocate/i.test(text),
    isDeviceLost: /device (was )?lost|GPUDevice.*lost/i.test(text),
  };
}

self.addEventListener('message', (event: MessageEvent<RunRequest | SynthRequest>) => {
  const request = event.data;
  const work = request.type === 'synth' ? synth(request) : run(request).then((result): WorkerMessage => ({ type: 'result', run: result }));
  work.then(post, (err: unknown) => post(describe(err)));
});
