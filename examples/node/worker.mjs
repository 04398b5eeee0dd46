// The worker thread's entry for generate.mjs --worker: serves an engine to the main thread.
import { exposeEngine } from '@localm/worker';

await exposeEngine();
