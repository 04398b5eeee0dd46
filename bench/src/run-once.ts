// One measured run of one runtime, in a process of its own so that its peak RSS is its own:
// `node run-once.js '<RunSpec JSON>'` prints one JSON line (RunResult). Spawned by bench.ts.

import { metrics, type RunSpec, type RuntimeName } from './measure.js';
import { startForeignCpu } from './proc-cpu.js';
import { runLlamaCpp } from './runtimes/llama-cpp.js';
import { runLocalm, runLocalmCpu, runOrtWeb } from './runtimes/localm.js';
import { runOrtNode } from './runtimes/ort-node.js';
import type { Runtime } from './runtimes/runtime.js';
import { runTransformersJs } from './runtimes/transformers-js.js';

const RUNTIMES: Record<RuntimeName, Runtime> = {
  localm: runLocalm,
  'localm-cpu': runLocalmCpu,
  'onnxruntime-web': runOrtWeb,
  'onnxruntime-node': runOrtNode,
  'transformers.js': runTransformersJs,
  'llama.cpp': runLlamaCpp,
};

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? '') as RunSpec;
  const run = RUNTIMES[spec.runtime];
  if (!run) throw new Error(`unknown runtime ${spec.runtime}`);
  const stop = startForeignCpu();
  const raw = await run(spec);
  const foreign = stop();
  process.stdout.write(`${JSON.stringify(metrics(spec, raw, foreign))}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
