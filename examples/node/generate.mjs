// A small Node program on localm's public API: load the bundled TinyStories model, stream a story,
// stop it with an AbortSignal after a time limit. With --worker the model runs in a worker thread
// (the same Engine type, one line different).
//
//   node examples/node/generate.mjs "Once upon a time" --device cpu --max-tokens 64 [--worker] [--stop-after-ms 2000]

import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { isLocalmError, loadModel } from '@localm/core';
import { createWorkerEngine } from '@localm/worker';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    device: { type: 'string', default: 'auto' }, // auto | cpu | wasm
    'max-tokens': { type: 'string', default: '64' },
    'stop-after-ms': { type: 'string' },
    model: { type: 'string', default: fileURLToPath(new URL('../../models/stories260k', import.meta.url)) },
    worker: { type: 'boolean', default: false },
  },
});
const prompt = positionals[0] ?? 'Once upon a time';

let worker;
let engine;
try {
  if (values.worker) {
    worker = new Worker(new URL('./worker.mjs', import.meta.url));
    engine = await createWorkerEngine(worker, values.model, { device: values.device });
  } else {
    engine = await loadModel(values.model, { device: values.device });
  }
} catch (err) {
  // Branch on the code, never on the message.
  if (isLocalmError(err, 'not_found')) console.error(`no model folder at ${values.model}`);
  else console.error(err);
  process.exit(1);
}

const { device, engine: runtime, skippedDevices } = engine.info;
console.error(`device: ${device} (${runtime})${values.worker ? ', in a worker thread' : ''}; skipped: ${skippedDevices.map((s) => `${s.device} (${s.reason})`).join(', ') || 'none'}`);

process.stdout.write(prompt);
const signal = values['stop-after-ms'] ? AbortSignal.timeout(Number(values['stop-after-ms'])) : undefined;
try {
  for await (const event of engine.generate(prompt, { maxTokens: Number(values['max-tokens']), ...(signal ? { signal } : {}) })) {
    if (event.type === 'text') process.stdout.write(event.text);
    else console.error(`\n[${event.stopReason}: ${event.usage.completionTokens} tokens]`);
  }
} catch (err) {
  if (signal?.aborted) console.error('\n[stopped]');
  else throw err;
} finally {
  await engine.dispose();
  await worker?.terminate();
}
