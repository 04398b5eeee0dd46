// `convertSynth`: a model folder (and optionally a GGUF) with seeded random weights at a preset's shape.
// Weights are made, written and dropped one tensor at a time, so memory stays near the largest tensor
// however big the model. Ties presets, weights, tokenizer and the two writers together.

import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { LocalmError } from '@localm/errors';
import type { ConvertResult } from './convert-llama2c.js';
import type { GenerationConfigJson, LlamaConfigJson } from './hf-config.js';
import { llamaConfigJson } from './hf-config.js';
import { createLlamaGguf, type LlamaGgufSink } from './llama-gguf.js';
import { ONNX_DATA_FILE, ONNX_FILE, writeLlamaOnnx, type ConvertDtype } from './llama-graph.js';
import type { LlamaShape, LlamaWeightSource } from './llama-shape.js';
import { seededWeights } from './seeded-weights.js';
import { parameterCount, SYNTH_PRESETS, type SynthPreset } from './synth-presets.js';
import { synthTokenizerFiles, synthVocab } from './synth-tokenizer.js';

export interface ConvertSynthOptions {
  preset: string; // a key of SYNTH_PRESETS, e.g. 'llama-3.2-1b'
  seed?: number; // default 0; an unsigned 32-bit integer
  dtype?: ConvertDtype; // default 'q4'
  outDir: string; // created if missing; files already there with our names are replaced
  ggufPath?: string; // also write llama.cpp's format, the same weights
  contextLength?: number; // max_position_embeddings; default the preset's
  onProgress?: (message: string) => void;
}

export interface ConvertSynthResult extends ConvertResult {
  ggufPath?: string; // absolute
  parameters: number;
}

const DTYPES: readonly ConvertDtype[] = ['fp32', 'fp16', 'q8', 'q4'];
const PRODUCER_VERSION = '0.1.0';

/**
 * Writes a Hugging Face ONNX model folder of seeded random weights at the shape of a real model.
 * q4 and q8 store the embedding quantized too, with scales rounded to fp16 so that the GGUF
 * (Q4_0 / Q8_0) holds the very same weights. On failure the files written so far are removed.
 * @example
 * await convertSynth({ preset: 'llama-3.2-1b', seed: 1, dtype: 'q4', outDir: '/tmp/l1b', ggufPath: '/tmp/l1b.gguf' });
 */
export async function convertSynth(options: ConvertSynthOptions): Promise<ConvertSynthResult> {
  const preset = SYNTH_PRESETS[options.preset];
  if (!preset) {
    throw new LocalmError('invalid_argument', `unknown preset '${options.preset}': expected one of ${Object.keys(SYNTH_PRESETS).join(', ')}`);
  }
  const dtype = options.dtype ?? 'q4';
  if (!DTYPES.includes(dtype)) throw new LocalmError('invalid_argument', `dtype '${String(dtype)}': expected one of ${DTYPES.join(', ')}`);
  const seed = options.seed ?? 0;
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new LocalmError('invalid_argument', `seed ${seed} is not an unsigned 32-bit integer`);
  const shape: LlamaShape = { ...preset.shape, maxPositions: options.contextLength ?? preset.shape.maxPositions };
  const progress = options.onProgress ?? ((): void => {});

  const vocab = synthVocab({ ...preset, vocabSize: shape.vocabSize });
  const { tokenizerJson, tokenizerConfigJson } = synthTokenizerFiles(vocab, { modelMaxLength: shape.maxPositions });
  const outDir = resolve(options.outDir);
  const onnxDir = join(outDir, 'onnx');
  await mkdir(onnxDir, { recursive: true });
  const jsonFiles: [string, unknown][] = [
    ['config.json', configJson(preset, shape, seed, dtype)],
    ['generation_config.json', { bos_token_id: preset.bosTokenId, eos_token_id: preset.eosTokenId, max_length: shape.maxPositions, do_sample: false } satisfies GenerationConfigJson],
    ['tokenizer.json', tokenizerJson],
    ['tokenizer_config.json', tokenizerConfigJson],
  ];
  const files = [...jsonFiles.map(([name]) => name), `onnx/${ONNX_FILE}`, `onnx/${ONNX_DATA_FILE}`];
  const ggufPath = options.ggufPath === undefined ? undefined : resolve(options.ggufPath);
  let gguf: LlamaGgufSink | undefined;
  try {
    for (const [name, json] of jsonFiles) await writeFile(join(outDir, name), `${JSON.stringify(json, null, 2)}\n`);
    const seeded = seededWeights(shape, seed);
    let weights: LlamaWeightSource = seeded;
    if (ggufPath !== undefined) {
      const sink = await createLlamaGguf(ggufPath, shape, { architecture: preset.family, dtype, name: `localm-synth-${preset.name}-seed${seed}`, vocab });
      gguf = sink;
      // The ONNX writer asks for each tensor once (a tied embedding twice); the GGUF takes the same values.
      weights = {
        async read(ref) {
          const values = await seeded.read(ref);
          await sink.write(ref, values);
          return values;
        },
      };
    }
    progress(`${preset.name} (${preset.note}), seed ${seed}, ${dtype}: ${JSON.stringify(shape)}`);
    await writeLlamaOnnx(onnxDir, shape, weights, {
      dtype,
      producerVersion: PRODUCER_VERSION,
      onProgress: progress,
      fp16Scales: true,
      isEmbeddingQuantized: true,
    });
    if (gguf) {
      await gguf.close();
      progress(`wrote ${ggufPath} (${gguf.sizeBytes} bytes)`);
    }
  } catch (err) {
    await gguf?.close().catch(() => {});
    await Promise.all([...files.map((f) => rm(join(outDir, f), { force: true })), ggufPath && rm(ggufPath, { force: true })]);
    throw err;
  }
  return { outDir, files, parameters: parameterCount(shape), ...(ggufPath === undefined ? {} : { ggufPath }) };
}

function configJson(preset: SynthPreset, shape: LlamaShape, seed: number, dtype: ConvertDtype): LlamaConfigJson {
  const config = llamaConfigJson(shape, { bosTokenId: preset.bosTokenId, eosTokenId: preset.eosTokenId });
  if (preset.family === 'qwen2') {
    config.architectures = ['Qwen2ForCausalLM'];
    config.model_type = 'qwen2';
  }
  const isQuantized = dtype === 'q4' || dtype === 'q8';
  config.localm = {
    preset: preset.name,
    seed,
    dtype,
    ...(isQuantized ? { block_size: 32 } : {}),
    quantized_embedding: isQuantized ? shape.hiddenSize % 32 === 0 : dtype === 'fp16',
  };
  return config;
}
