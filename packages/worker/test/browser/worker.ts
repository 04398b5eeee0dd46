// The test page's module worker: serves an engine, as an app's worker entry would.
import { exposeEngine } from '../../src/index.js';

await exposeEngine();
