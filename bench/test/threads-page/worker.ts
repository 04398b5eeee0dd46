// The test's module Web Worker: one run per worker, its result or its error posted back.
import '../../web/src/thread-watch.js';
import { runModel, type ThreadsRequest } from './run-model.js';

self.addEventListener('message', (event: MessageEvent<ThreadsRequest>) => {
  runModel(event.data).then(
    (value) => postMessage({ ok: true, value }),
    (err: unknown) => postMessage({ ok: false, message: err instanceof Error ? `${err.name}: ${err.message}` : String(err) }),
  );
});
