// `localm convert`: a llama2.c checkpoint and tokenizer → a Hugging Face ONNX model folder; or
// `localm convert synth`: seeded random weights at a real model's shape (and optionally the same weights as GGUF).

import { parseArgs } from 'node:util';
import { convertLlama2c, convertSynth, SYNTH_PRESETS, type ConvertDtype } from '@localm/convert';
import { UsageError } from './usage-error.js';

const DTYPES: readonly ConvertDtype[] = ['fp32', 'q4'];
const SYNTH_DTYPES: readonly ConvertDtype[] = ['fp32', 'fp16', 'q8', 'q4'];
const progress = (message: string): void => {
  process.stderr.write(`${message}\n`);
};

export async function runConvert(args: string[]): Promise<number> {
  if (args[0] === 'synth') return runConvertSynth(args.slice(1));
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { tokenizer: { type: 'string' }, out: { type: 'string' }, dtype: { type: 'string' } },
  });
  if (positionals.length !== 1) throw new UsageError('convert takes one checkpoint file');
  if (!values.tokenizer) throw new UsageError('convert needs --tokenizer TOK.bin');
  if (!values.out) throw new UsageError('convert needs --out DIR');
  const dtype = (values.dtype ?? 'fp32') as ConvertDtype;
  if (!DTYPES.includes(dtype)) throw new UsageError(`--dtype must be one of ${DTYPES.join(', ')}`);
  const { outDir, files } = await convertLlama2c({
    checkpointPath: positionals[0]!,
    tokenizerPath: values.tokenizer,
    outDir: values.out,
    dtype,
    onProgress: progress,
  });
  process.stderr.write(`wrote ${files.length} files to ${outDir}\n`);
  return 0;
}

/** `localm convert synth --preset NAME --seed N --dtype q4|q8|fp16|fp32 --out DIR [--gguf FILE] [--context N]` */
async function runConvertSynth(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      preset: { type: 'string' },
      seed: { type: 'string', default: '0' },
      dtype: { type: 'string', default: 'q4' },
      out: { type: 'string' },
      gguf: { type: 'string' },
      context: { type: 'string' },
    },
  });
  const presets = Object.keys(SYNTH_PRESETS);
  if (!values.preset || !presets.includes(values.preset)) throw new UsageError(`convert synth needs --preset ${presets.join('|')}`);
  if (!values.out) throw new UsageError('convert synth needs --out DIR');
  const dtype = values.dtype as ConvertDtype;
  if (!SYNTH_DTYPES.includes(dtype)) throw new UsageError(`--dtype must be one of ${SYNTH_DTYPES.join(', ')}`);
  const seed = Number(values.seed);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new UsageError('--seed must be an integer in [0, 2^32)');
  const context = values.context === undefined ? undefined : Number(values.context);
  if (context !== undefined && !(Number.isInteger(context) && context > 0)) throw new UsageError('--context must be a positive integer');
  const result = await convertSynth({
    preset: values.preset,
    seed,
    dtype,
    outDir: values.out,
    ...(values.gguf === undefined ? {} : { ggufPath: values.gguf }),
    ...(context === undefined ? {} : { contextLength: context }),
    onProgress: progress,
  });
  process.stderr.write(`wrote ${result.files.length} files to ${result.outDir}${result.ggufPath ? ` and ${result.ggufPath}` : ''} (${result.parameters} parameters)\n`);
  return 0;
}
