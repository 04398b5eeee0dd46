#!/usr/bin/env node
// The `localm` command: dispatches to generate, tokenize and convert, and turns errors into one
// line on stderr with the error code.

import { isLocalmError } from '@localm/core';
import { runConvert } from './convert-command.js';
import { runGenerate } from './generate-command.js';
import { runTokenize } from './tokenize-command.js';
import { UsageError } from './usage-error.js';

const USAGE = `usage:
  localm generate [MODEL_DIR_OR_URL] [--prompt TEXT] [--max-tokens N] [--temperature T] [--seed N]
                  [--device auto|cpu|wasm|webgpu] [--threads N] [--json]
  localm tokenize TOKENIZER_JSON_OR_MODEL_DIR [--add-special-tokens]   (JSON lines {"text"} on stdin)
  localm convert CHECKPOINT.bin --tokenizer TOK.bin --out DIR [--dtype fp32|q4]
  localm convert synth --preset NAME --seed N --dtype q4|q8|fp16|fp32 --out DIR [--gguf FILE] [--context N]`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'generate':
      return runGenerate(rest);
    case 'tokenize':
      return runTokenize(rest);
    case 'convert':
      return runConvert(rest);
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      process.stdout.write(`${USAGE}\n`);
      return command === undefined ? 2 : 0;
    default:
      throw new UsageError(`unknown command '${command}'`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`localm: ${err.message}\n${USAGE}\n`);
      process.exitCode = 2;
    } else if (isLocalmError(err)) {
      process.stderr.write(`localm: error [${err.code}]: ${err.message}\n`);
      process.exitCode = 1;
    } else {
      process.stderr.write(`localm: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    }
  },
);
