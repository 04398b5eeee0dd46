// End to end, fp32: convert stories260K, then check the folder's files and run it in onnxruntime-node
// against an independent port of run.c's forward() and against llama2.c's recorded greedy outputs.

import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isLocalmError } from '@localm/errors';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { convertLlama2c } from '../src/index.js';
import { readLlama2cCheckpoint } from '../src/llama2c-checkpoint.js';
import type { Llama2cCheckpoint } from '../src/llama2c-checkpoint.js';
import { CHECKPOINT_PATH, GREEDY_RECORDS, TOKENIZER_PATH } from './fixtures.js';
import { externalPlacement, onnx, readOnnxModel } from './onnx-file.js';
import { greedyLikeRunC, openDecoder } from './ort-decoder.js';
import type { TestDecoder } from './ort-decoder.js';
import { createRunCReference } from './run-c-reference.js';

// fp32 sums in a different order than the double-precision reference: observed max 1.5e-5 on logits of
// magnitude ~10, so 1e-4 leaves room without hiding a real error (a wrong RoPE angle or norm is > 1e-2).
const LOGIT_TOLERANCE = 1e-4;
const DIMS = { numLayers: 5, numKvHeads: 4, headDim: 8, vocabSize: 512 };

let workDir: string;
let outDir: string;
let ckpt: Llama2cCheckpoint;

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'localm-convert-fp32-'));
  outDir = join(workDir, 'stories260k');
  const result = await convertLlama2c({ checkpointPath: CHECKPOINT_PATH, tokenizerPath: TOKENIZER_PATH, outDir });
  expect(result.outDir).toBe(outDir);
  ckpt = readLlama2cCheckpoint(await readFile(CHECKPOINT_PATH));
});
afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

const readJson = async (name: string): Promise<Record<string, unknown>> =>
  JSON.parse(await readFile(join(outDir, name), 'utf8')) as Record<string, unknown>;

/** Largest |a - b| over `rows` rows of reference logits against ORT's flat [rows, vocab] output. */
function maxAbsDiff(reference: Float64Array[], actual: Float32Array, vocabSize: number): number {
  let max = 0;
  reference.forEach((row, r) => {
    for (let i = 0; i < vocabSize; i++) max = Math.max(max, Math.abs(row[i]! - actual[r * vocabSize + i]!));
  });
  return max;
}

describe('convertLlama2c fp32 (stories260K)', () => {
  test('writes a Hugging Face folder: config, generation config, tokenizer files, onnx + external data', async () => {
    expect(await readJson('config.json')).toMatchObject({
      architectures: ['LlamaForCausalLM'],
      model_type: 'llama',
      hidden_size: 64,
      intermediate_size: 172,
      num_hidden_layers: 5,
      num_attention_heads: 8,
      num_key_value_heads: 4,
      head_dim: 8,
      vocab_size: 512,
      max_position_embeddings: 512,
      rms_norm_eps: 1e-5,
      rope_theta: 10000,
      tie_word_embeddings: true,
      bos_token_id: 1,
      eos_token_id: 2,
      torch_dtype: 'float32',
    });
    expect(await readJson('generation_config.json')).toEqual({ bos_token_id: 1, eos_token_id: [2, 1], max_length: 512, do_sample: false });
    expect(await readJson('tokenizer.json')).toHaveProperty('model');
    expect(await readJson('tokenizer_config.json')).toBeTypeOf('object');

    const { model, graph, initializers } = await readOnnxModel(join(outDir, 'onnx/model.onnx'));
    expect(graph.input.map((i) => i.name)).toEqual([
      'input_ids', 'attention_mask',
      ...[0, 1, 2, 3, 4].flatMap((l) => [`past_key_values.${l}.key`, `past_key_values.${l}.value`]),
    ]);
    expect(graph.output.map((o) => o.name)).toEqual([
      'logits', ...[0, 1, 2, 3, 4].flatMap((l) => [`present.${l}.key`, `present.${l}.value`]),
    ]);
    expect(model.opsetImport.map((o) => `${o.domain}:${o.version}`)).toEqual([':21', 'com.microsoft:1']);
    // Every float initializer (weights, norms, RoPE tables) lives in model.onnx_data; only int64 scalars stay inline.
    for (const init of initializers) {
      if (init.dataType === onnx.TensorProto.DataType.FLOAT) {
        expect(init.dataLocation, init.name).toBe(onnx.TensorProto.DataLocation.EXTERNAL);
        expect(externalPlacement(init).location).toBe('model.onnx_data');
      } else {
        expect(init.dataType, init.name).toBe(onnx.TensorProto.DataType.INT64);
      }
      expect(init.rawData.length, init.name).toBeLessThanOrEqual(8);
    }
    const modelBytes = (await stat(join(outDir, 'onnx/model.onnx'))).size;
    const dataBytes = (await stat(join(outDir, 'onnx/model.onnx_data'))).size;
    expect(modelBytes).toBeLessThan(64 * 1024);
    // 264128 fp32 weights minus the unused freq_cis tables, plus the transposed tied head and the RoPE caches.
    expect(dataBytes).toBeGreaterThanOrEqual((264128 - 4096 + 512 * 64 + 2 * 512 * 4) * 4);
  });

  test(`logits match run.c's forward() within ${LOGIT_TOLERANCE}: prompt at once, token by token, and in chunks`, async () => {
    const tokens = GREEDY_RECORDS[0]!.token_ids.slice(0, 64);
    const reference = createRunCReference(ckpt);
    const expected = tokens.map((token, pos) => reference.forward(token, pos));

    const runs: [string, number[]][] = [
      ['prompt at once', [tokens.length]],
      ['token by token', tokens.map(() => 1)],
      // A prompt, then a multi-token chunk on top of a KV cache, then single tokens.
      ['chunks', [5, 7, ...Array<number>(52).fill(1)]],
    ];
    for (const [label, chunks] of runs) {
      const decoder: TestDecoder = await openDecoder(join(outDir, 'onnx/model.onnx'), DIMS);
      let start = 0;
      let worst = 0;
      for (const size of chunks) {
        const logits = await decoder.run(tokens.slice(start, start + size));
        worst = Math.max(worst, maxAbsDiff(expected.slice(start, start + size), logits, DIMS.vocabSize));
        start += size;
      }
      await decoder.release();
      console.log(`fp32 vs run.c reference, ${label}: max |Δlogit| = ${worst.toExponential(2)}`);
      expect(start).toBe(tokens.length);
      expect(worst, label).toBeLessThan(LOGIT_TOLERANCE);
    }
  });

  test.each(GREEDY_RECORDS.map((r) => [JSON.stringify(r.prompt), r] as const))(
    'greedy decoding reproduces llama2.c for prompt %s',
    async (_, record) => {
      const decoder = await openDecoder(join(outDir, 'onnx/model.onnx'), DIMS);
      const { generated, stoppedAtBos } = await greedyLikeRunC(decoder, record.prompt_token_ids, record.steps, DIMS.vocabSize);
      await decoder.release();
      expect(generated).toEqual(record.generated_token_ids);
      expect(stoppedAtBos).toBe(record.stop === 'bos');
    },
  );
});

describe('convertLlama2c input errors', () => {
  async function errorOf(run: () => Promise<unknown>): Promise<unknown> {
    try {
      await run();
    } catch (err) {
      return err;
    }
    return undefined;
  }

  test('a missing checkpoint → not_found; a truncated one → corrupt_model; nothing is written', async () => {
    const dir = await mkdtemp(join(workDir, 'errors-'));
    const out = join(dir, 'out');
    const missing = await errorOf(() =>
      convertLlama2c({ checkpointPath: join(dir, 'nope.bin'), tokenizerPath: TOKENIZER_PATH, outDir: out }),
    );
    expect(isLocalmError(missing, 'not_found'), String(missing)).toBe(true);

    const truncated = join(dir, 'truncated.bin');
    await writeFile(truncated, (await readFile(CHECKPOINT_PATH)).subarray(0, 100_000));
    const corrupt = await errorOf(() => convertLlama2c({ checkpointPath: truncated, tokenizerPath: TOKENIZER_PATH, outDir: out }));
    expect(isLocalmError(corrupt, 'corrupt_model'), String(corrupt)).toBe(true);
    expect(await readdir(dir)).toEqual(['truncated.bin']);
  });

  test('a tokenizer whose vocab size differs from the checkpoint → invalid_argument', async () => {
    const dir = await mkdtemp(join(workDir, 'errors-'));
    // A 3-piece llama2.c tokenizer: max_token_length, then (score, len, bytes) per piece.
    const pieces = ['<unk>', '\n<s>\n', '\n</s>\n'];
    const parts = [Int32Array.of(7)];
    const bytes = pieces.flatMap((p) => {
      const text = new TextEncoder().encode(p);
      const head = new DataView(new ArrayBuffer(8));
      head.setFloat32(0, 0, true);
      head.setInt32(4, text.length, true);
      return [new Uint8Array(head.buffer), text];
    });
    const tokenizer = join(dir, 'tok3.bin');
    await writeFile(tokenizer, Buffer.concat([new Uint8Array(parts[0]!.buffer), ...bytes]));
    const err = await errorOf(() =>
      convertLlama2c({ checkpointPath: CHECKPOINT_PATH, tokenizerPath: tokenizer, outDir: join(dir, 'out') }),
    );
    expect(isLocalmError(err, 'invalid_argument'), String(err)).toBe(true);
    expect(String(err)).toMatch(/tok3\.bin has 3 pieces but stories260K\.bin has 512/);
  });
});
