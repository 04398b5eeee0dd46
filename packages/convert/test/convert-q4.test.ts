// End to end, q4: convert stories260K with 4-bit linear weights and run it in onnxruntime-node.
// Exactness: the q4 graph must compute run.c's forward() on the weights its file holds, dequantized by the
// MatMulNBits spec. Quality: how far 4-bit rounding moves greedy decoding from llama2.c's fp32 output.

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { convertLlama2c } from '../src/index.js';
import { readLlama2cCheckpoint } from '../src/llama2c-checkpoint.js';
import type { Llama2cCheckpoint } from '../src/llama2c-checkpoint.js';
import { CHECKPOINT_PATH, GREEDY_RECORDS, TOKENIZER_PATH } from './fixtures.js';
import { externalPlacement, onnx, readOnnxModel } from './onnx-file.js';
import { argmax, greedyLikeRunC, openDecoder } from './ort-decoder.js';
import { dequantizeMatMulNBits } from './q4-reference.js';
import { createRunCReference } from './run-c-reference.js';

const DIMS = { numLayers: 5, numKvHeads: 4, headDim: 8, vocabSize: 512 };
const LOGIT_TOLERANCE = 1e-4;
// Measured 153 of 184 (83 %) on stories260K: a 64-wide model loses more to 4 bits than a large one.
const MIN_TOP1_AGREEMENT = 0.75;

let workDir: string;
let modelPath: string;
let ckpt: Llama2cCheckpoint;
let dequantized: Llama2cCheckpoint;

/** The checkpoint with every linear weight replaced by what the q4 file's MatMulNBits initializers decode to. */
async function dequantizedFromFile(onnxDir: string, source: Llama2cCheckpoint): Promise<Llama2cCheckpoint> {
  const { initializers } = await readOnnxModel(join(onnxDir, 'model.onnx'));
  const data = await readFile(join(onnxDir, 'model.onnx_data'));
  const byName = new Map(initializers.map((t) => [t.name, t]));
  const bytesOf = (name: string): Uint8Array => {
    const t = byName.get(name);
    if (t === undefined) throw new Error(`no initializer ${name}`);
    const { offset, length } = externalPlacement(t);
    return data.subarray(offset, offset + length);
  };
  const linear = (prefix: string, n: number, k: number): Float32Array => {
    const scales = new Uint8Array(bytesOf(`${prefix}.MatMulNBits.scales`)); // a copy starts 4-byte aligned
    return dequantizeMatMulNBits(bytesOf(`${prefix}.MatMulNBits.weight_q4`), new Float32Array(scales.buffer), n, k);
  };
  const { dim, hiddenDim, vocabSize } = source.config;
  const kvDim = (dim / source.config.nHeads) * source.config.nKvHeads;
  return {
    ...source,
    layers: source.layers.map((layer, l) => {
      const p = `model.layers.${l}`;
      return {
        ...layer,
        wq: linear(`${p}.attn.q_proj`, dim, dim),
        wk: linear(`${p}.attn.k_proj`, kvDim, dim),
        wv: linear(`${p}.attn.v_proj`, kvDim, dim),
        wo: linear(`${p}.attn.o_proj`, dim, dim),
        w1: linear(`${p}.mlp.gate_proj`, hiddenDim, dim),
        w3: linear(`${p}.mlp.up_proj`, hiddenDim, dim),
        w2: linear(`${p}.mlp.down_proj`, dim, hiddenDim),
      };
    }),
    wcls: linear('lm_head', vocabSize, dim), // the embedding itself stays fp32 for Gather
  };
}

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'localm-convert-q4-'));
  const { outDir } = await convertLlama2c({ checkpointPath: CHECKPOINT_PATH, tokenizerPath: TOKENIZER_PATH, outDir: workDir, dtype: 'q4' });
  modelPath = join(outDir, 'onnx/model.onnx');
  ckpt = readLlama2cCheckpoint(await readFile(CHECKPOINT_PATH));
  dequantized = await dequantizedFromFile(join(outDir, 'onnx'), ckpt);
});
afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

describe('convertLlama2c q4 (stories260K)', () => {
  test('every linear layer and the tied head are MatMulNBits; the embedding stays an fp32 Gather', async () => {
    const { graph, initializers } = await readOnnxModel(modelPath);
    const ops = graph.node.map((n) => n.opType);
    expect(ops.filter((op) => op === 'MatMulNBits')).toHaveLength(5 * 7 + 1);
    expect(ops).not.toContain('MatMul');
    const embedding = initializers.find((t) => t.name === 'model.embed_tokens.weight')!;
    expect(embedding.dataType).toBe(onnx.TensorProto.DataType.FLOAT);
    expect(embedding.dims.map(Number)).toEqual([512, 64]);
  });

  test(`logits equal run.c's forward() on the file's dequantized weights within ${LOGIT_TOLERANCE}`, async () => {
    const tokens = GREEDY_RECORDS[0]!.token_ids.slice(0, 64);
    const reference = createRunCReference(dequantized);
    const expected = tokens.map((token, pos) => reference.forward(token, pos));
    for (const [label, chunks] of [['prompt at once', [tokens.length]], ['token by token', tokens.map(() => 1)]] as const) {
      const decoder = await openDecoder(modelPath, DIMS);
      let start = 0;
      let worst = 0;
      for (const size of chunks) {
        const logits = await decoder.run(tokens.slice(start, start + size));
        for (let r = 0; r < size; r++) {
          for (let i = 0; i < DIMS.vocabSize; i++) worst = Math.max(worst, Math.abs(expected[start + r]![i]! - logits[r * DIMS.vocabSize + i]!));
        }
        start += size;
      }
      await decoder.release();
      console.log(`q4 vs run.c on dequantized weights, ${label}: max |Δlogit| = ${worst.toExponential(2)}`);
      expect(worst, label).toBeLessThan(LOGIT_TOLERANCE);
    }
  });

  test(`greedy: stays close to llama2.c's fp32 choices (teacher-forced top-1 agreement ≥ ${MIN_TOP1_AGREEMENT})`, async () => {
    let agreed = 0;
    let positions = 0;
    for (const record of GREEDY_RECORDS) {
      const decoder = await openDecoder(modelPath, DIMS);
      const { generated } = await greedyLikeRunC(decoder, record.prompt_token_ids, record.steps, DIMS.vocabSize);
      await decoder.release();
      const want = record.generated_token_ids;
      const differing = want.filter((id, i) => generated[i] !== id).length + Math.max(0, generated.length - want.length);
      const firstDiff = want.findIndex((id, i) => generated[i] !== id);
      expect(generated.length).toBeGreaterThan(0);

      // Teacher forcing: feed llama2.c's own sequence and ask whether q4's argmax picks llama2.c's next token.
      const forced = await openDecoder(modelPath, DIMS);
      const tokens = record.token_ids.slice(0, record.steps);
      const logits = await forced.run(tokens);
      await forced.release();
      let recordAgreed = 0;
      for (let p = record.prompt_token_ids.length - 1; p < tokens.length; p++) {
        if (argmax(logits, p * DIMS.vocabSize, DIMS.vocabSize) === record.token_ids[p + 1]) recordAgreed++;
      }
      const recordPositions = tokens.length - record.prompt_token_ids.length + 1;
      agreed += recordAgreed;
      positions += recordPositions;
      console.log(
        `q4 ${JSON.stringify(record.prompt)}: ${differing}/${want.length} greedy ids differ from llama2.c (first at ${firstDiff}); ` +
          `teacher-forced top-1 ${recordAgreed}/${recordPositions}`,
      );
    }
    expect(agreed / positions).toBeGreaterThanOrEqual(MIN_TOP1_AGREEMENT);
  });
});
