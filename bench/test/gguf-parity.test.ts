// The GGUF that `convert synth --gguf` writes and the ONNX folder compute the same model: llama.cpp
// (node-llama-cpp, the independent side) agrees with our greedy tokens on the cpu device, position by
// position with our ids fed back (teacher forcing), for Llama and Qwen2 shapes in fp32, q8 and q4.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { convertSynth } from '@localm/convert';
import { loadModel } from '@localm/core';
import { getLlama, LlamaLogLevel, type Llama } from 'node-llama-cpp';
import { afterAll, beforeAll, expect, test } from 'vitest';

let workDir: string;
let llama: Llama;
beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'localm-gguf-parity-'));
  llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error, maxThreads: 2 });
});
afterAll(async () => {
  await llama?.dispose();
  await rm(workDir, { recursive: true, force: true });
});

const PROMPT = Array.from({ length: 16 }, (_, i) => (i * 37 + 5) % 500);
const GENERATED = 24;
// llama.cpp quantizes activations to 8 bits inside Q4_0/Q8_0 dot products (ggml's vec_dot_q4_0_q8_0);
// measured on these models it moves log-probabilities by up to ~0.05. Where llama.cpp's own top two are
// closer than this, either pick is right. In fp32 both sides agree to ~1e-4.
const NEAR_TIE = { fp32: 1e-3, q8: 0.25, q4: 0.25 } as const;

const cases = [
  { preset: 'tiny', dtype: 'fp32' },
  { preset: 'tiny', dtype: 'q8' },
  { preset: 'tiny', dtype: 'q4' },
  { preset: 'tiny-qwen2', dtype: 'fp32' },
  { preset: 'tiny-qwen2', dtype: 'q4' },
] as const;

for (const { preset, dtype } of cases) {
  test(`${preset} ${dtype}: llama.cpp on the GGUF picks our greedy tokens`, async () => {
    const outDir = join(workDir, `${preset}-${dtype}`);
    const ggufPath = `${outDir}.gguf`;
    await convertSynth({ preset, seed: 1, dtype, outDir, ggufPath });

    const model = await loadModel(outDir, { device: 'cpu' });
    let ours: number[] = [];
    for await (const e of model.generate(PROMPT, { maxTokens: GENERATED })) if (e.type === 'done') ours = e.tokenIds;
    await model.dispose();
    expect(ours).toHaveLength(GENERATED);

    const gguf = await llama.loadModel({ modelPath: ggufPath, gpuLayers: 0 });
    const context = await gguf.createContext({
      contextSize: 256,
      threads: 2,
      flashAttention: false,
      experimentalKvCacheKeyType: 'F32', // llama.cpp's default F16 cache would add its own rounding
      experimentalKvCacheValueType: 'F32',
    });
    const fed = [...PROMPT, ...ours.slice(0, -1)];
    const input = fed.map((token, i) => (i < PROMPT.length - 1 ? token : ([token, { generateNext: { probabilities: true } }] as const)));
    const results = await context.getSequence().controlledEvaluate(input.map((x) => (typeof x === 'number' ? x : [x[0], { ...x[1] }])));
    await context.dispose();
    await gguf.dispose();

    let nearTies = 0;
    for (let step = 0; step < ours.length; step++) {
      const probabilities = results[PROMPT.length - 1 + step]?.next.probabilities;
      expect(probabilities, `llama.cpp gave no probabilities at step ${step}`).toBeDefined();
      const [[top, p1] = [-1, 0], [, p2] = [-1, 0]] = [...probabilities!.entries()].sort((a, b) => b[1] - a[1]);
      if (Math.log(p1) - Math.log(p2) < NEAR_TIE[dtype]) nearTies++;
      else expect(top, `step ${step}: llama.cpp ${top}, ours ${ours[step]}`).toBe(ours[step]);
    }
    expect(nearTies).toBeLessThanOrEqual(GENERATED / 4);
  });
}
