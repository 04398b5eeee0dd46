// The model runs here, off the page's main thread.
import { exposeEngine } from '@localm/worker';

await exposeEngine();
