// The WASM decoder end to end: llama2.c's greedy ids, logits against onnxruntime-node on the same
// folders (fp32 and q4, both rotary layouts, one and two threads), the KV cache API and error codes.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWasmDecoder } from '../src/index.js';
import { startKernels } from '../src/wasm-runtime.js';
import { ROOT, maxAbsDiff, ortLogits, readFolder, writeSeededModel } from './reference.js';

const { onnx } = onnxProto;
const STORIES = join(ROOT, 'models/stories260k');
const expected = readFileSync(join(ROOT, 'models/stories260k-source/expected-greedy.jsonl'), 'utf8')
  .trim().split('\n').map((line) => JSON.parse(line) as { prompt_token_ids: number[]; token_ids: number[] });

const argmax = (v: Float32Array): number => v.reduce((best, x, i) => (x > v[best]! ? i : best), 0);

let tmp: string;
let storiesQ4: string;
let halfSplit: string;
let withBias: string;
let quantizedEmbedding: string;
let tiedEmbedding: string;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'wasm-kernels-'));
  storiesQ4 = join(tmp, 'stories-q4');
  const src = join(ROOT, 'models/stories260k-source');
  execFileSync(process.execPath, [join(ROOT, 'packages/cli/dist/main.js'), 'convert', join(src, 'stories260K.bin'),
    '--tokenizer', join(src, 'tok512.bin'), '--out', storiesQ4, '--dtype', 'q4'], { stdio: 'pipe' });
  // Head size 32 (ORT's GroupQueryAttention rotates inside), Hugging Face's half-split rotary, 3 query heads per KV head,
  // widths that are not multiples of 32, a separate LM head.
  halfSplit = await writeSeededModel(join(tmp, 'half-split'), {
    hiddenSize: 96, intermediateSize: 136, numLayers: 2, numHeads: 6, numKvHeads: 2, headDim: 32, vocabSize: 75,
    maxPositions: 64, ropeTheta: 500000, ropeInterleaved: false, rmsNormEps: 1e-5, tiedEmbeddings: false,
  }, 'q4', 7);
  // Qwen 2's q/k/v biases, where the convert package writes them (LlamaShape.attentionBias).
  const biasShape = {
    hiddenSize: 64, intermediateSize: 96, numLayers: 2, numHeads: 4, numKvHeads: 2, headDim: 16, vocabSize: 75,
    maxPositions: 64, ropeTheta: 1e6, ropeInterleaved: false, rmsNormEps: 1e-6, tiedEmbeddings: true, attentionBias: true,
  };
  withBias = await writeSeededModel(join(tmp, 'bias'), biasShape, 'q4', 11);
  // A 4-bit token embedding (com.microsoft GatherBlockQuantized), as `localm convert synth` writes.
  quantizedEmbedding = await writeSeededModel(join(tmp, 'q4-embedding'), biasShape, 'q4', 13, { isEmbeddingQuantized: true });
  // Tied weights written as two initializers with the same codes (as the synth presets are): stored once.
  tiedEmbedding = await writeSeededModel(join(tmp, 'q4-tied'), biasShape, 'q4', 17, { isEmbeddingQuantized: true, sameEmbeddingAndHead: true });
});

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('greedy ids', () => {
  it.each([1, 2])('stories260K fp32 with %i thread(s) gives llama2.c run.c ids', async (numThreads) => {
    const decoder = await createWasmDecoder(readFolder(STORIES), { numThreads });
    for (const row of expected) {
      decoder.truncate(0);
      const ids = [...row.prompt_token_ids];
      let logits = await decoder.step(ids);
      while (ids.length < row.token_ids.length) {
        ids.push(argmax(logits));
        logits = await decoder.step([ids.at(-1)!]);
      }
      expect(ids).toEqual(row.token_ids);
    }
    await decoder.dispose();
  });
});

// Max |logit difference| against onnxruntime-node at every position of a 40-token sequence.
// fp32: only summation order differs. q4: we round activations to int16 per block of 32 where ORT keeps fp32.
const TOLERANCE = { fp32: 1e-4, q4: 2e-3 };

describe('logits against onnxruntime-node', () => {
  const ids = expected[0]!.token_ids.slice(0, 40);
  const cases = [
    ['stories260K fp32', () => STORIES, TOLERANCE.fp32, 1],
    ['stories260K q4', () => storiesQ4, TOLERANCE.q4, 1],
    ['stories260K q4, 2 threads', () => storiesQ4, TOLERANCE.q4, 2],
    ['seeded q4, half-split rotary, head 32', () => halfSplit, TOLERANCE.q4, 2],
    ['seeded q4 with q/k/v biases', () => withBias, TOLERANCE.q4, 1],
    ['seeded q4 with a 4-bit embedding (GatherBlockQuantized)', () => quantizedEmbedding, TOLERANCE.q4, 2],
    ['seeded q4, 4-bit embedding tied to the head (one copy)', () => tiedEmbedding, TOLERANCE.q4, 2],
  ] as const;
  it.each(cases)('%s', async (_, dir, tolerance, numThreads) => {
    const folder = dir();
    const tokens = folder === halfSplit || folder === withBias || folder === quantizedEmbedding || folder === tiedEmbedding ? ids.map((id) => id % 75) : ids;
    const want = await ortLogits(folder, tokens);
    // Prefill in chunks of 7 (a partial last chunk), then one token per step.
    const decoder = await createWasmDecoder(readFolder(folder), { numThreads, prefillChunk: 7 });
    const embedding = folder === tiedEmbedding ? 'q4, shared with lm_head' : folder === quantizedEmbedding ? 'q4' : 'fp32';
    expect(decoder.info.embedding).toBe(embedding);
    let worst = maxAbsDiff(await decoder.step(tokens.slice(0, 20)), want[19]!);
    for (let t = 20; t < tokens.length; t++) worst = Math.max(worst, maxAbsDiff(await decoder.step([tokens[t]!]), want[t]!));
    await decoder.dispose();
    console.log(`${_}: max |logit diff| vs onnxruntime-node ${worst.toExponential(2)}`);
    expect(worst).toBeLessThan(tolerance);
  });
});

describe('memory', () => {
  // Llama 3.1 8B's shape, q4 with a q4 embedding: 4.7 GiB of weights cannot fit wasm32's 4 GiB. The refusal
  // comes from a dry run of the allocations, before memory grows (a grown memory never shrinks).
  it.each([1, 2])('refuses a model over 4 GiB before growing memory (%i thread(s))', async (threads) => {
    const rt = await startKernels(threads);
    try {
      const before = rt.memory.buffer.byteLength;
      expect(rt.exports.lm_create(4096, 14336, 32, 32, 8, 128, 128256, 4096, 16, 1, 2, 0, 1e-5, 0.088, 2, threads)).toBe(1);
      expect(rt.memory.buffer.byteLength).toBe(before);
      // The same shape with 8 layers (1.3 GiB) fits, and only then does memory grow.
      expect(rt.exports.lm_create(4096, 14336, 8, 32, 8, 128, 128256, 4096, 16, 1, 2, 0, 1e-5, 0.088, 2, threads)).toBe(0);
      expect(rt.memory.buffer.byteLength).toBeGreaterThan(1e9);
    } finally {
      await rt.dispose();
    }
  });
});

describe('KV cache and errors', () => {
  it('truncate keeps a prefix: stepping again gives the same logits', async () => {
    const decoder = await createWasmDecoder(readFolder(STORIES));
    const ids = expected[0]!.token_ids.slice(0, 12);
    const first = await decoder.step(ids);
    decoder.truncate(8);
    expect(decoder.cachedTokens).toBe(8);
    expect(maxAbsDiff(await decoder.step(ids.slice(8)), first)).toBe(0);
    await decoder.dispose();
  });

  it('refuses bad ids, a full context and use after dispose, leaving the cache as it was', async () => {
    const decoder = await createWasmDecoder(readFolder(STORIES), { contextLength: 16 });
    await expect(decoder.step([512])).rejects.toMatchObject({ code: 'invalid_argument' });
    await expect(decoder.step([])).rejects.toMatchObject({ code: 'invalid_argument' });
    await decoder.step(Array(10).fill(5));
    await expect(decoder.step(Array(7).fill(5))).rejects.toMatchObject({ code: 'context_full' });
    expect(decoder.cachedTokens).toBe(10);
    await decoder.dispose();
    await expect(decoder.step([1])).rejects.toMatchObject({ code: 'disposed' });
    expect(() => decoder.truncate(0)).toThrow(expect.objectContaining({ code: 'disposed' }));
  });

  it('names what it cannot run', async () => {
    const files = readFolder(STORIES);
    await expect(createWasmDecoder({ ...files, graph: files.graph.subarray(0, 1000) })).rejects.toMatchObject({ code: 'corrupt_model' });
    await expect(createWasmDecoder({ ...files, externalData: [] })).rejects.toMatchObject({ code: 'not_found' });
    // The same graph with the activation swapped for one the decoder does not compute.
    const model = onnx.ModelProto.decode(files.graph);
    for (const node of model.graph!.node!) if (node.opType === 'Sigmoid') node.opType = 'Tanh';
    const graph = onnx.ModelProto.encode(model).finish();
    await expect(createWasmDecoder({ ...files, graph })).rejects.toMatchObject({
      code: 'unsupported_model',
      message: expect.stringContaining('Tanh'),
    });
    // A 4-bit graph whose MatMulNBits blocks are 16 wide.
    const q4 = onnx.ModelProto.decode(readFolder(storiesQ4).graph);
    for (const node of q4.graph!.node!) {
      for (const a of node.attribute ?? []) if (node.opType === 'MatMulNBits' && a.name === 'block_size') a.i = 16;
    }
    await expect(createWasmDecoder({ ...readFolder(storiesQ4), graph: onnx.ModelProto.encode(q4).finish() })).rejects.toMatchObject({
      code: 'unsupported_model',
      message: expect.stringContaining('block_size 16'),
    });
  });
});
