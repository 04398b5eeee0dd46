// Issue 7's generation API, in process (see generation-api-suite.ts; the worker package runs the
// same suite across a worker_threads boundary).

import { loadModel } from '@localm/core';
import { fileURLToPath } from 'node:url';
import { generationApiSuite } from './generation-api-suite.js';

const MODEL = fileURLToPath(new URL('../../../models/stories260k', import.meta.url));

generationApiSuite(async (device) => {
  const model = await loadModel(MODEL, { device });
  return { engine: model, close: () => model.dispose() };
});
