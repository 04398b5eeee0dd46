// The test page's module worker: runs a synthesis job posted by the page and posts back the result;
// a later 'abort' message aborts it (which needs the writer to let the event loop turn while it works).

import { runSynthJob, type SynthJob } from './job.js';

const controller = new AbortController();
self.onmessage = async (event: MessageEvent<SynthJob | 'abort'>) => {
  if (event.data === 'abort') return controller.abort();
  try {
    self.postMessage({ ok: true, value: await runSynthJob(event.data, controller.signal) });
  } catch (err) {
    const e = err as Error;
    self.postMessage({ ok: false, error: String(e?.stack ?? err), name: e?.name });
  }
};
