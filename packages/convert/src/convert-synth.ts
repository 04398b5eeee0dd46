// `convertSynth`: a model folder (and optionally a GGUF) with seeded random weights at a preset's shape,
// on the local disk: synthesizeModel through a node:fs sink, with the CLI's options and cleanup on failure.

import { rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { ConvertResult } from './convert-llama2c.js';
import type { ConvertDtype } from './llama-graph.js';
import type { ModelSink } from './model-sink.js';
import { nodeSink, openNodeBinary } from './node-sink.js';
import { checkSynthOptions, GGUF_FILE, synthesizeModel } from './synthesize-model.js';

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

/**
 * Writes a Hugging Face ONNX model folder of seeded random weights at the shape of a real model
 * (`synthesizeModel` on the local disk). q4 and q8 store the embedding quantized too, with scales rounded
 * to fp16 so that the GGUF (Q4_0 / Q8_0) holds the very same weights. On failure the files written so
 * far are removed.
 * @example
 * await convertSynth({ preset: 'llama-3.2-1b', seed: 1, dtype: 'q4', outDir: '/tmp/l1b', ggufPath: '/tmp/l1b.gguf' });
 */
export async function convertSynth(options: ConvertSynthOptions): Promise<ConvertSynthResult> {
  const seed = options.seed ?? 0;
  const dtype = options.dtype ?? 'q4';
  checkSynthOptions({ preset: options.preset, seed, dtype });
  const outDir = resolve(options.outDir);
  const ggufPath = options.ggufPath === undefined ? undefined : resolve(options.ggufPath);
  const folder = nodeSink(outDir);
  // The GGUF goes where the caller said, not into the folder.
  const sink: ModelSink = {
    writeText: (path, text) => folder.writeText(path, text),
    openBinary: (path) => (path === GGUF_FILE && ggufPath !== undefined ? openNodeBinary(ggufPath) : folder.openBinary(path)),
  };
  const progress = options.onProgress;
  try {
    const { files, parameterCount } = await synthesizeModel(
      {
        preset: options.preset,
        seed,
        dtype,
        gguf: ggufPath !== undefined,
        ...(options.contextLength === undefined ? {} : { contextLength: options.contextLength }),
        // synthesizeModel names the GGUF by its place in the sink; say where it really went.
        ...(progress === undefined ? {} : { onMessage: (m: string) => progress(ggufPath === undefined ? m : m.replace(`wrote ${GGUF_FILE} `, `wrote ${ggufPath} `)) }),
      },
      sink,
    );
    return { outDir, files: files.filter((f) => f !== GGUF_FILE), parameters: parameterCount, ...(ggufPath === undefined ? {} : { ggufPath }) };
  } catch (err) {
    const files = ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'onnx/model.onnx', 'onnx/model.onnx_data'];
    await Promise.all([...files.map((f) => rm(join(outDir, f), { force: true })), ggufPath && rm(ggufPath, { force: true })]);
    throw err;
  }
}
