// Issue 7's generation API through a worker_threads boundary: the same suite core runs in process.

import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { createWorkerEngine } from '@localm/worker';
import { generationApiSuite } from '../../core/test/generation-api-suite.js';

const MODEL = fileURLToPath(new URL('../../../models/stories260k', import.meta.url));
const ENTRY = new URL('./node-worker.mjs', import.meta.url);

generationApiSuite(async (device) => {
  const worker = new Worker(ENTRY, { execArgv: [] });
  const engine = await createWorkerEngine(worker, MODEL, { device });
  return {
    engine,
    close: async () => {
      await engine.dispose();
      await worker.terminate();
    },
  };
});
