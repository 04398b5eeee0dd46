// The test page: `window.synth.inWorker(job)` runs a job in a module Web Worker (OPFS through
// synchronous access handles), `window.synth.inPage(job)` on the page itself (createWritable).

import { runSynthJob, type SynthJob, type SynthJobResult } from './job.js';

type Outcome = { ok: true; value: SynthJobResult } | { ok: false; error: string; name?: string };

/** Runs `job` in a fresh worker; with `abortAfterMs`, posts 'abort' to it that long after the job. */
function inWorker(job: SynthJob, abortAfterMs?: number): Promise<Outcome> {
  const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
  return new Promise<Outcome>((resolve) => {
    worker.onmessage = (event: MessageEvent<Outcome>) => resolve(event.data);
    worker.onerror = (event) => resolve({ ok: false, error: `worker error: ${event.message}` });
    worker.postMessage(job);
    if (abortAfterMs !== undefined) setTimeout(() => worker.postMessage('abort'), abortAfterMs);
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
