// `convertLlama2c`: a llama2.c checkpoint + tokenizer → a Hugging Face ONNX model folder
// (config.json, generation_config.json, tokenizer files, onnx/model.onnx + model.onnx_data).
// Ties the reader, the tokenizer files and the graph writer together; owns the folder's lifecycle.

import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { LocalmError } from '@localm/errors';
import { llamaConfigJson } from './hf-config.js';
import type { GenerationConfigJson } from './hf-config.js';
import { readLlama2cCheckpoint } from './llama2c-checkpoint.js';
import { llama2cShape, llama2cWeights } from './llama2c-model.js';
import { llama2cTokenizerFiles, readLlama2cTokenizer } from './llama2c-tokenizer.js';
import { ONNX_DATA_FILE, ONNX_FILE, writeLlamaOnnx } from './llama-graph.js';
import type { ConvertDtype } from './llama-graph.js';
import { nodeSink } from './node-sink.js';

export interface ConvertLlama2cOptions {
  checkpointPath: string; // llama2.c `.bin` (legacy version-0 export)
  tokenizerPath: string; // llama2.c `tokenizer.bin` / `tok512.bin`
  outDir: string; // created if missing; files already there with our names are replaced
  dtype?: ConvertDtype; // default 'fp32'
  onProgress?: (message: string) => void;
}

export interface ConvertResult {
  outDir: string; // absolute
  files: string[]; // relative to outDir, '/'-separated, e.g. 'onnx/model.onnx'
}

const DTYPES: readonly ConvertDtype[] = ['fp32', 'q4'];
const PRODUCER_VERSION = '0.1.0'; // @localm/convert's version, recorded in model.onnx
// llama2.c's sentencepiece ids.
const BOS_ID = 1;
const EOS_ID = 2;

async function readInput(path: string, what: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code === 'ENOENT' ? 'not_found' : 'invalid_argument';
    throw new LocalmError(code, `${path}: cannot read the ${what}`, { cause });
  }
}

/**
 * Converts a llama2.c model to a Hugging Face ONNX folder that onnxruntime-genai, onnxruntime-node/web
 * and transformers.js load. On failure, the files it had written are removed again.
 * @example
 * const { files } = await convertLlama2c({
 *   checkpointPath: 'stories260K.bin', tokenizerPath: 'tok512.bin', outDir: 'models/stories260k', dtype: 'q4',
 * });
 */
export async function convertLlama2c(options: ConvertLlama2cOptions): Promise<ConvertResult> {
  const dtype = options.dtype ?? 'fp32';
  if (!DTYPES.includes(dtype)) {
    throw new LocalmError('invalid_argument', `dtype '${String(dtype)}': expected one of ${DTYPES.join(', ')}`);
  }
  const progress = options.onProgress ?? ((): void => {});
  const checkpointName = basename(options.checkpointPath);
  const ckpt = readLlama2cCheckpoint(await readInput(options.checkpointPath, 'checkpoint'), checkpointName);
  const tokenizerName = basename(options.tokenizerPath);
  const vocab = readLlama2cTokenizer(await readInput(options.tokenizerPath, 'tokenizer'), tokenizerName);
  const shape = llama2cShape(ckpt.config);
  if (vocab.pieces.length !== shape.vocabSize) {
    throw new LocalmError(
      'invalid_argument',
      `${tokenizerName} has ${vocab.pieces.length} pieces but ${checkpointName} has ${shape.vocabSize} token embeddings; ` +
        'pass the tokenizer the checkpoint was trained with',
    );
  }
  const { tokenizerJson, tokenizerConfigJson } = llama2cTokenizerFiles(vocab, { modelMaxLength: shape.maxPositions });
  progress(`${checkpointName}: ${JSON.stringify(shape)}`);

  const outDir = resolve(options.outDir);
  const onnxDir = join(outDir, 'onnx');
  await mkdir(onnxDir, { recursive: true });
  const generationConfig: GenerationConfigJson = {
    bos_token_id: BOS_ID,
    // llama2.c's stories models were trained with BOS as the delimiter between stories and never saw EOS
    // at the end of one; run.c stops when it samples BOS. So BOS (1) ends a generation too.
    eos_token_id: [EOS_ID, BOS_ID],
    max_length: shape.maxPositions,
    do_sample: false,
  };
  const jsonFiles: [string, unknown][] = [
    ['config.json', llamaConfigJson(shape, { bosTokenId: BOS_ID, eosTokenId: EOS_ID })],
    ['generation_config.json', generationConfig],
    ['tokenizer.json', tokenizerJson],
    ['tokenizer_config.json', tokenizerConfigJson],
  ];
  const files = [...jsonFiles.map(([name]) => name), `onnx/${ONNX_FILE}`, `onnx/${ONNX_DATA_FILE}`];
  try {
    for (const [name, json] of jsonFiles) await writeFile(join(outDir, name), `${JSON.stringify(json, null, 2)}\n`);
    await writeLlamaOnnx(nodeSink(outDir), 'onnx', shape, llama2cWeights(ckpt), {
      dtype,
      producerVersion: PRODUCER_VERSION,
      onProgress: progress,
    });
  } catch (err) {
    await Promise.all(files.map((f) => rm(join(outDir, f), { force: true })));
    throw err;
  }
  return { outDir, files };
}
