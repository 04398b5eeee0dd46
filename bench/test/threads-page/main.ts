// The test page: runs the model in a fresh module Web Worker, or on this window's main thread.
import '../../web/src/thread-watch.js';
import { runModel, type ThreadsRequest, type ThreadsResult } from './run-model.js';

type Answer = { ok: true; value: ThreadsResult } | { ok: false; message: string };

function inWorker(request: ThreadsRequest): Promise<Answer> {
  const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
  return new Promise<Answer>((resolve) => {
    worker.addEventListener('message', (e: MessageEvent<Answer>) => resolve(e.data));
    worker.addEventListener('error', (e) => resolve({ ok: false, message: `worker error: ${e.message}` }));
    worker.postMessage(request);
  }).finally(() => worker.terminate());
}

async function onMainThread(request: ThreadsRequest): Promise<Answer> {
  try {
    return { ok: true, value: await runModel(request) };
  } catch (err) {
    return { ok: false, message: err instanceof Error ? `${err.name}: ${err.message}` : String(err) };
  }
}

(globalThis as { threadsTest?: unknown }).threadsTest = { inWorker, onMainThread };
document.body.dataset['ready'] = '1';
