// Decode and prefill tokens/s of our WASM decoder against onnxruntime-node (cpu) and onnxruntime-web
// (wasm, in Node) on the same q4 model folder, in one process, reported as ratios. Not a test.
//
//   node packages/wasm-kernels/scripts/speed.mjs [--model DIR] [--threads 2] [--prompt 32] [--decode 16] [--skip-web]
//
// Without --model it writes a seeded Llama-3.2-1B-shaped q4 folder under /tmp once (needs `npx tsc -b`).
// Runs one runtime at a time and frees it before the next, so peak memory is one model's.

import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

const ROOT = new URL('../../../', import.meta.url).pathname;
const args = Object.fromEntries(
  process.argv.slice(2).map((a, i, all) => (a.startsWith('--') ? [a.slice(2), all[i + 1]?.startsWith('--') === false ? all[i + 1] : 'true'] : null)).filter(Boolean),
);
const threads = Number(args.threads ?? 2);
const promptTokens = Number(args.prompt ?? 32);
const decodeTokens = Number(args.decode ?? 16);
const webDecodeTokens = Math.min(decodeTokens, 3); // onnxruntime-web is ~100x slower; a few tokens suffice

// Llama 3.2 1B's config.json numbers (what bench's `llama-3.2-1b` preset copies), random weights.
const LLAMA_1B = {
  hiddenSize: 2048, intermediateSize: 8192, numLayers: 16, numHeads: 32, numKvHeads: 8, headDim: 64, vocabSize: 128256,
  maxPositions: 2048, ropeTheta: 500000, ropeInterleaved: false, rmsNormEps: 1e-5, tiedEmbeddings: true,
};

async function ensureModel() {
  if (args.model) return args.model;
  const dir = '/tmp/localm-speed-llama-3.2-1b-q4';
  if (existsSync(join(dir, 'onnx/model.onnx'))) return dir;
  const { writeLlamaOnnx } = await import(join(ROOT, 'packages/convert/dist/llama-graph.js'));
  mkdirSync(join(dir, 'onnx'), { recursive: true });
  let state = 12345;
  const fill = (n, scale, offset = 0) => {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      out[i] = offset + (state / 2 ** 32 - 0.5) * scale;
    }
    return out;
  };
  const s = LLAMA_1B;
  const sizes = { q_proj: s.numHeads * s.headDim, k_proj: s.numKvHeads * s.headDim, v_proj: s.numKvHeads * s.headDim };
  console.error(`writing ${dir} (once)...`);
  await writeLlamaOnnx(join(dir, 'onnx'), s, {
    read(ref) {
      if (ref.kind === 'embed_tokens' || ref.kind === 'lm_head') return fill(s.vocabSize * s.hiddenSize, 0.1);
      if (ref.kind !== 'linear') return fill(s.hiddenSize, 0.2, 1);
      const n = ref.name === 'o_proj' || ref.name === 'down_proj' ? s.hiddenSize : ref.name in sizes ? sizes[ref.name] : s.intermediateSize;
      const k = ref.name === 'o_proj' ? s.numHeads * s.headDim : ref.name === 'down_proj' ? s.intermediateSize : s.hiddenSize;
      return fill(n * k, 2 / Math.sqrt(k));
    },
  }, { dtype: 'q4', producerVersion: 'speed', onProgress: (m) => console.error(m) });
  return dir;
}

/** CPU seconds used by the whole machine and by this process (with its threads) since `since`. */
function cpuMeter() {
  const total = () => os.cpus().reduce((a, c) => a + c.times.user + c.times.sys + c.times.nice + c.times.irq, 0) / 1000;
  const t0 = total(), p0 = process.cpuUsage(), w0 = performance.now();
  return () => {
    const p = process.cpuUsage(p0);
    const wall = (performance.now() - w0) / 1000;
    const ours = (p.user + p.system) / 1e6;
    return { wall, otherCpuCores: Math.max(0, (total() - t0 - ours) / wall) };
  };
}

const argmax = (v) => v.reduce((best, x, i) => (x > v[best] ? i : best), 0);
const promptIds = Array.from({ length: promptTokens }, (_, i) => (i * 7919 + 13) % 32000);

async function timeDecoder(name, step, decodeCount) {
  const meter = cpuMeter();
  let t = performance.now();
  let logits = await step(promptIds);
  const prefillS = (performance.now() - t) / 1000;
  const ids = [];
  t = performance.now();
  for (let i = 0; i < decodeCount; i++) {
    ids.push(argmax(logits));
    logits = await step([ids.at(-1)]);
  }
  const decodeS = (performance.now() - t) / 1000;
  const { otherCpuCores } = meter();
  const row = { name, prefillTokensPerSecond: promptTokens / prefillS, decodeTokensPerSecond: decodeCount / decodeS, otherCpuCores, ids };
  console.error(`${name}: prefill ${row.prefillTokensPerSecond.toFixed(2)} tok/s, decode ${row.decodeTokensPerSecond.toFixed(2)} tok/s, other load ${otherCpuCores.toFixed(2)} cores, rss ${(process.memoryUsage().rss / 2 ** 30).toFixed(2)} GiB`);
  return row;
}

async function runOurs(dir, numThreads) {
  const { createWasmDecoder } = await import(join(ROOT, 'packages/wasm-kernels/dist/index.js'));
  const handle = await open(join(dir, 'onnx/model.onnx_data'));
  const reader = { read: async (offset, target) => {
    for (let done = 0; done < target.byteLength;) {
      const { bytesRead } = await handle.read(target, done, Math.min(target.byteLength - done, 1 << 26), offset + done);
      if (bytesRead === 0) throw new Error('short read');
      done += bytesRead;
    }
  } };
  const t = performance.now();
  const decoder = await createWasmDecoder({ graph: readFileSync(join(dir, 'onnx/model.onnx')), externalData: [{ path: 'model.onnx_data', data: reader }] },
    { numThreads, contextLength: 512 });
  await handle.close();
  console.error(`ours: loaded in ${((performance.now() - t) / 1000).toFixed(1)} s, ${(decoder.info.memoryBytes / 2 ** 30).toFixed(2)} GiB linear memory`);
  try {
    return await timeDecoder(`localm wasm (${numThreads} thread${numThreads > 1 ? 's' : ''})`, (ids) => decoder.step(ids), decodeTokens);
  } finally {
    await decoder.dispose();
  }
}

/** The genai-layout KV loop over an onnxruntime InferenceSession. */
async function ortStepper(ort, session) {
  const layers = session.inputNames.filter((n) => /^past_key_values\.\d+\.key$/.test(n)).length;
  const meta = session.inputMetadata?.find?.((m) => m.name === 'past_key_values.0.key');
  const kvHeads = meta?.shape?.[1] ?? LLAMA_1B.numKvHeads;
  const headDim = meta?.shape?.[3] ?? LLAMA_1B.headDim;
  let past = {};
  for (let l = 0; l < layers; l++) {
    for (const kind of ['key', 'value']) past[`past_key_values.${l}.${kind}`] = new ort.Tensor('float32', new Float32Array(0), [1, kvHeads, 0, headDim]);
  }
  let length = 0;
  return async (ids) => {
    length += ids.length;
    const out = await session.run({
      ...past,
      input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [1, ids.length]),
      attention_mask: new ort.Tensor('int64', new BigInt64Array(length).fill(1n), [1, length]),
    });
    const next = {};
    for (let l = 0; l < layers; l++) {
      for (const kind of ['key', 'value']) next[`past_key_values.${l}.${kind}`] = out[`present.${l}.${kind}`];
    }
    past = next;
    const logits = out.logits.data;
    const vocab = logits.length / ids.length;
    return logits.slice((ids.length - 1) * vocab);
  };
}

async function runOrtNode(dir) {
  const require = createRequire(join(ROOT, 'packages/wasm-kernels/package.json'));
  const ort = require('onnxruntime-node');
  const session = await ort.InferenceSession.create(join(dir, 'onnx/model.onnx'), { intraOpNumThreads: threads, interOpNumThreads: 1 });
  try {
    return await timeDecoder(`onnxruntime-node cpu (${threads} threads)`, await ortStepper(ort, session), decodeTokens);
  } finally {
    await session.release();
  }
}

async function runOrtWeb(dir) {
  const require = createRequire(join(ROOT, 'packages/backend/package.json'));
  const ort = await import(require.resolve('onnxruntime-web'));
  ort.env.wasm.numThreads = threads;
  const session = await ort.InferenceSession.create(readFileSync(join(dir, 'onnx/model.onnx')), {
    executionProviders: ['wasm'],
    externalData: [{ path: 'model.onnx_data', data: readFileSync(join(dir, 'onnx/model.onnx_data')) }],
  });
  try {
    return await timeDecoder(`onnxruntime-web wasm (${threads} threads)`, await ortStepper(ort, session), webDecodeTokens);
  } finally {
    await session.release();
  }
}

const dir = await ensureModel();
console.error(`model ${dir}; prompt ${promptTokens} tokens, decode ${decodeTokens}; ${os.cpus().length} cores`);
const rows = [];
rows.push(await runOrtNode(dir));
rows.push(await runOurs(dir, 1));
if (threads > 1) rows.push(await runOurs(dir, threads));
if (args['skip-web'] !== 'true') rows.push(await runOrtWeb(dir));
const base = rows[0];
console.log('| runtime | decode tok/s | x native | prefill tok/s | x native | other CPU load (cores) |');
console.log('| --- | --- | --- | --- | --- | --- |');
for (const r of rows) {
  console.log(`| ${r.name} | ${r.decodeTokensPerSecond.toFixed(2)} | ${(r.decodeTokensPerSecond / base.decodeTokensPerSecond).toFixed(2)} | ${r.prefillTokensPerSecond.toFixed(2)} | ${(r.prefillTokensPerSecond / base.prefillTokensPerSecond).toFixed(2)} | ${r.otherCpuCores.toFixed(2)} |`);
}
const ours = rows.filter((r) => r.name.startsWith('localm'));
const same = ours.every((r) => r.ids.slice(0, 3).join() === base.ids.slice(0, 3).join());
console.log(`first greedy ids equal onnxruntime-node's: ${same}`);
