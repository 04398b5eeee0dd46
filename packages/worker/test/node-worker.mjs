// A worker_threads entry for the tests: serves an engine from the built package. With
// workerData.crashAfterMs it throws an uncaught error later, to test crash reporting.
import { workerData } from 'node:worker_threads';
import { exposeEngine } from '../dist/index.js';

await exposeEngine();
if (workerData?.crashAfterMs) setTimeout(() => { throw new Error('boom'); }, workerData.crashAfterMs);
