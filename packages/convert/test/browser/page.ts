// The test page: `window.synth.inWorker(job)` runs a job in a module Web Worker (OPFS through
// synchronous access handles), `window.synth.inPage(job)` on the page itself (createWritable).

import { runSynthJob, type SynthJob, type SynthJobResult } from './job.js';

type Outcome = { ok: true; value: SynthJobResult } | { ok: false; error: string };

function inWorker(job: SynthJob): Promise<Outcome> {
  const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
  return new Promise<Outcome>((resolve) => {
    worker.onmessage = (event: MessageEvent<Outcome>) => resolve(event.data);
    worker.onerror = (event) => resolve({ ok: false, error: `worker error: ${event.message}` });
    worker.postMessage(job);
  }).finally(() => worker.terminate());
}

async function inPage(job: SynthJob): Promise<Outcome> {
  try {
    return { ok: true, value: await runSynthJob(job) };
  } catch (err) {
    return { ok: false, error: String((err as Error)?.stack ?? err) };
  }
}

(window as unknown as { synth: unknown }).synth = { inWorker, inPage };
