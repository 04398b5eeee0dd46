// Public surface of @localm/worker: core's Engine across a Web Worker or worker_threads boundary.

export { createWorkerEngine, type WorkerEngine, type WorkerLike } from './worker-engine.js';
export { exposeEngine } from './expose-engine.js';
export { deserializeError, serializeError, type SerializedError } from './errors.js';
