// `synthesizeModel`: a synthetic model folder (seeded random weights at a real model's shape, and
// optionally the same weights as a GGUF) written through any ModelSink: node:fs, or OPFS in a browser
// worker. Platform-neutral: no node: imports. Weights are made a tensor, or a slice of rows, at a time.

import { LocalmError } from '@localm/errors';
import type { GenerationConfigJson, LlamaConfigJson } from './hf-config.js';
import { llamaConfigJson } from './hf-config.js';
import { createLlamaGguf, type LlamaGgufSink } from './llama-gguf.js';
import { ONNX_DATA_FILE, ONNX_FILE, writeLlamaOnnx, type ConvertDtype } from './llama-graph.js';
import type { LlamaShape, LlamaTensorRef, LlamaWeightSource } from './llama-shape.js';
import type { BinaryWriter, ModelSink } from './model-sink.js';
import { seededWeights } from './seeded-weights.js';
import { plannedSynthBytes } from './synth-plan.js';
import { parameterCount, SYNTH_PRESETS, type SynthPreset } from './synth-presets.js';
import { synthTokenizerFiles, synthVocab } from './synth-tokenizer.js';

/** Where `synthesizeModel` puts the GGUF, relative to the sink's root. */
export const GGUF_FILE = 'model.gguf';

export const SYNTH_DTYPES: readonly ConvertDtype[] = ['fp32', 'fp16', 'q8', 'q4'];
const PRODUCER_VERSION = '0.1.0';
// Progress callbacks at most this often, and a turn of the event loop as often, so that a worker
// writing through OPFS's synchronous handle still receives messages (a stop button) while it works.
const PROGRESS_INTERVAL_MS = 100;

export interface SynthesizeModelOptions {
  preset: string; // a key of SYNTH_PRESETS, e.g. 'llama-3.2-1b'
  seed: number; // an unsigned 32-bit integer
  dtype: ConvertDtype;
  gguf?: boolean; // also write `model.gguf` (Q4_0 / Q8_0 / F16 / F32), the same weights for llama.cpp
  contextLength?: number; // max_position_embeddings; default the preset's
  signal?: AbortSignal; // aborting rejects with signal.reason; the files written so far are left to the caller
  onProgress?: (p: { bytesWritten: number; totalBytes: number }) => void; // at most every ~100 ms, and once at the end
  onMessage?: (message: string) => void; // a line per layer and per file, for a log
}

export interface SynthesizeModelResult {
  files: string[]; // relative to the sink's root, '/'-separated, e.g. 'onnx/model.onnx'
  weightBytes: number; // size of onnx/model.onnx_data
  parameterCount: number; // the embedding counted once when tied
}

/** Looks up and checks a preset, dtype and seed; throws `invalid_argument`. */
export function checkSynthOptions(options: { preset: string; seed: number; dtype: string }): SynthPreset {
  const preset = SYNTH_PRESETS[options.preset];
  if (!preset) {
    throw new LocalmError('invalid_argument', `unknown preset '${options.preset}': expected one of ${Object.keys(SYNTH_PRESETS).join(', ')}`);
  }
  if (!SYNTH_DTYPES.includes(options.dtype as ConvertDtype)) {
    throw new LocalmError('invalid_argument', `dtype '${String(options.dtype)}': expected one of ${SYNTH_DTYPES.join(', ')}`);
  }
  const { seed } = options;
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new LocalmError('invalid_argument', `seed ${seed} is not an unsigned 32-bit integer`);
  return preset;
}

/**
 * Writes a Hugging Face ONNX model folder of seeded random weights at the shape of a real model into
 * `sink`: config.json, generation_config.json, tokenizer.json, tokenizer_config.json, onnx/model.onnx,
 * onnx/model.onnx_data, and with `gguf` model.gguf. The same preset, seed and dtype give the same bytes
 * in Node and in a browser. q4 and q8 store the embedding quantized too, with scales rounded to fp16
 * so that the GGUF holds the very same weights. Memory stays near one slice of the largest tensor.
 * @example
 * const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle('l1b', { create: true });
 * const { files } = await synthesizeModel({ preset: 'llama-3.2-1b', seed: 1, dtype: 'q4' }, opfsSink(dir));
 */
export async function synthesizeModel(options: SynthesizeModelOptions, sink: ModelSink): Promise<SynthesizeModelResult> {
  const preset = checkSynthOptions(options);
  const { seed, dtype, signal } = options;
  signal?.throwIfAborted();
  const shape: LlamaShape = { ...preset.shape, maxPositions: options.contextLength ?? preset.shape.maxPositions };
  const message = options.onMessage ?? ((): void => {});
  const totalBytes = plannedSynthBytes(preset.name, dtype, { gguf: options.gguf === true, contextLength: shape.maxPositions });
  const counted = countingSink(sink, totalBytes, options);

  const jsonFiles = await writeJsonFiles(counted.sink, preset, shape, seed, dtype);

  const seeded = seededWeights(shape, seed);
  const checked = async (): Promise<void> => {
    signal?.throwIfAborted();
    await counted.tick();
  };
  let gguf: LlamaGgufSink | undefined;
  let weights: LlamaWeightSource = {
    read: async (ref) => (await checked(), seeded.read(ref)),
    readRows: async (ref, firstRow, rowCount, out) => (await checked(), seeded.readRows(ref, firstRow, rowCount, out)),
  };
  try {
    if (options.gguf === true) {
      const name = `localm-synth-${preset.name}-seed${seed}`;
      const vocab = synthVocab({ ...preset, vocabSize: shape.vocabSize });
      const sinkGguf = await createLlamaGguf(await counted.sink.openBinary(GGUF_FILE), GGUF_FILE, shape, { architecture: preset.family, dtype, name, vocab });
      gguf = sinkGguf;
      // The ONNX writer asks for each tensor (or slice) once, a tied embedding twice; the GGUF takes the same values.
      const inner = weights;
      weights = {
        async read(ref: LlamaTensorRef) {
          const values = await inner.read(ref);
          await sinkGguf.write(ref, values);
          return values;
        },
        async readRows(ref: LlamaTensorRef, firstRow: number, rowCount: number, out?: Float32Array) {
          const values = await inner.readRows!(ref, firstRow, rowCount, out);
          await sinkGguf.write(ref, values, firstRow);
          return values;
        },
      };
    }
    message(`${preset.name} (${preset.note}), seed ${seed}, ${dtype}: ${JSON.stringify(shape)}`);
    await writeLlamaOnnx(counted.sink, 'onnx', shape, weights, {
      dtype,
      producerVersion: PRODUCER_VERSION,
      onProgress: message,
      fp16Scales: true,
      isEmbeddingQuantized: true,
    });
    if (gguf) {
      const closing = gguf;
      gguf = undefined;
      await closing.close();
      message(`wrote ${GGUF_FILE} (${closing.sizeBytes} bytes)`);
    }
  } finally {
    await gguf?.close().catch(() => {});
  }
  counted.finish();
  const files = [...jsonFiles, `onnx/${ONNX_FILE}`, `onnx/${ONNX_DATA_FILE}`, ...(options.gguf === true ? [GGUF_FILE] : [])];
  return { files, weightBytes: counted.sizeOf(`onnx/${ONNX_DATA_FILE}`), parameterCount: parameterCount(shape) };
}

/** Wraps `sink` to count bytes, report progress, and yield to the event loop now and then. */
function countingSink(
  sink: ModelSink,
  totalBytes: number,
  options: Pick<SynthesizeModelOptions, 'onProgress' | 'signal'>,
): { sink: ModelSink; tick(): Promise<void>; finish(): void; sizeOf(path: string): number } {
  let bytesWritten = 0;
  let lastTick = Date.now();
  const fileEnds = new Map<string, number>();
  const report = (): void => options.onProgress?.({ bytesWritten, totalBytes: Math.max(totalBytes, bytesWritten) });
  const tick = async (): Promise<void> => {
    if (Date.now() - lastTick < PROGRESS_INTERVAL_MS) return;
    lastTick = Date.now();
    report();
    await new Promise<void>((resolve) => setTimeout(resolve, 0));
    options.signal?.throwIfAborted();
  };
  const utf8 = new TextEncoder();
  return {
    sink: {
      async writeText(path, text) {
        options.signal?.throwIfAborted();
        await sink.writeText(path, text);
        const size = utf8.encode(text).byteLength;
        fileEnds.set(path, size);
        bytesWritten += size;
        await tick();
      },
      async openBinary(path): Promise<BinaryWriter> {
        const inner = await sink.openBinary(path);
        fileEnds.set(path, 0);
        return {
          async write(bytes, position) {
            options.signal?.throwIfAborted();
            await inner.write(bytes, position);
            bytesWritten += bytes.byteLength;
            fileEnds.set(path, Math.max(fileEnds.get(path) ?? 0, position + bytes.byteLength));
            await tick();
          },
          close: () => inner.close(),
        };
      },
    },
    tick,
    finish() {
      totalBytes = bytesWritten;
      report();
    },
    sizeOf: (path) => fileEnds.get(path) ?? 0,
  };
}

/**
 * Writes config.json, generation_config.json and the tokenizer files, and returns their names. Apart,
 * so the tokenizer's objects (tens of MB for a 150k vocabulary) are garbage before the weights start.
 */
async function writeJsonFiles(sink: ModelSink, preset: SynthPreset, shape: LlamaShape, seed: number, dtype: ConvertDtype): Promise<string[]> {
  const vocab = synthVocab({ ...preset, vocabSize: shape.vocabSize });
  const { tokenizerJson, tokenizerConfigJson } = synthTokenizerFiles(vocab, { modelMaxLength: shape.maxPositions });
  const jsonFiles: [string, unknown][] = [
    ['config.json', configJson(preset, shape, seed, dtype)],
    ['generation_config.json', { bos_token_id: preset.bosTokenId, eos_token_id: preset.eosTokenId, max_length: shape.maxPositions, do_sample: false } satisfies GenerationConfigJson],
    ['tokenizer.json', tokenizerJson],
    ['tokenizer_config.json', tokenizerConfigJson],
  ];
  for (const [name, json] of jsonFiles) await sink.writeText(name, `${JSON.stringify(json, null, 2)}\n`);
  return jsonFiles.map(([name]) => name);
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
