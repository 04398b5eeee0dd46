// The test page's module worker: runs a synthesis job posted by the page and posts back the result.

import { runSynthJob, type SynthJob } from './job.js';

self.onmessage = async (event: MessageEvent<SynthJob>) => {
  try {
    self.postMessage({ ok: true, value: await runSynthJob(event.data) });
  } catch (err) {
    self.postMessage({ ok: false, error: String((err as Error)?.stack ?? err) });
  }
};
