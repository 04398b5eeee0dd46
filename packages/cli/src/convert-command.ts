// `localm convert`: a llama2.c checkpoint and tokenizer → a Hugging Face ONNX model folder.

import { parseArgs } from 'node:util';
import { convertLlama2c, type ConvertDtype } from '@localm/convert';
import { UsageError } from './usage-error.js';

const DTYPES: readonly ConvertDtype[] = ['fp32', 'q4'];

export async function runConvert(args: string[]): Promise<number> {
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
    onProgress: (message) => process.stderr.write(`${message}\n`),
  });
  process.stderr.write(`wrote ${files.length} files to ${outDir}\n`);
  return 0;
}
