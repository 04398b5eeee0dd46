// `localm tokenize`: JSON lines {"text": ...} on stdin → {"ids": [...]} lines on stdout. The
// tokenizer comes from a model folder, a tokenizer.json, or a .gguf file (its metadata only).

import { open, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { LocalmError } from '@localm/core';
import { loadGgufTokenizer, loadTokenizer, type Tokenizer } from '@localm/tokenizer';
import { UsageError } from './usage-error.js';

export async function runTokenize(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { 'add-special-tokens': { type: 'boolean' } },
  });
  if (positionals.length !== 1) throw new UsageError('tokenize takes one model folder, tokenizer.json or .gguf file');
  const tokenizer = await openTokenizer(positionals[0]!);
  const addSpecialTokens = values['add-special-tokens'] ?? false;
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
  let lineNumber = 0;
  for await (const line of lines) {
    lineNumber++;
    if (line.trim() === '') continue;
    let text: unknown;
    try {
      text = (JSON.parse(line) as { text?: unknown }).text;
    } catch (cause) {
      throw new LocalmError('invalid_argument', `stdin line ${lineNumber} is not JSON: ${String(cause)}`, { cause });
    }
    if (typeof text !== 'string') throw new LocalmError('invalid_argument', `stdin line ${lineNumber} has no string field "text"`);
    process.stdout.write(`${JSON.stringify({ ids: tokenizer.encode(text, { addSpecialTokens }) })}\n`);
  }
  return 0;
}

async function openTokenizer(path: string): Promise<Tokenizer> {
  const info = await stat(path).catch(() => undefined);
  if (!info) throw new LocalmError('not_found', `${path} does not exist`);
  if (info.isFile() && (await isGguf(path))) return openGgufTokenizer(path, info.size);
  const folder = info.isDirectory() ? path : join(path, '..');
  const tokenizerFile = info.isDirectory() ? join(path, 'tokenizer.json') : path;
  const readJson = async (file: string, required: boolean): Promise<unknown> => {
    const text = await readFile(file, 'utf8').catch(() => undefined);
    if (text === undefined) {
      if (required) throw new LocalmError('not_found', `${file} does not exist`);
      return undefined;
    }
    try {
      return JSON.parse(text);
    } catch (cause) {
      throw new LocalmError('corrupt_model', `${file} is not valid JSON`, { cause });
    }
  };
  const tokenizerJson = await readJson(tokenizerFile, true);
  const tokenizerConfigJson = await readJson(join(folder, 'tokenizer_config.json'), false);
  return loadTokenizer(tokenizerConfigJson === undefined ? { tokenizerJson } : { tokenizerJson, tokenizerConfigJson });
}

async function isGguf(path: string): Promise<boolean> {
  const file = await open(path, 'r');
  try {
    const { bytesRead, buffer } = await file.read(Buffer.alloc(4), 0, 4, 0);
    return bytesRead === 4 && buffer.toString('latin1') === 'GGUF';
  } finally {
    await file.close();
  }
}

// Reads only the byte ranges the metadata reader asks for: a multi-GB model is never loaded.
async function openGgufTokenizer(path: string, sizeBytes: number): Promise<Tokenizer> {
  const file = await open(path, 'r');
  try {
    const source = {
      sizeBytes,
      read: async (offset: number, length: number): Promise<Uint8Array> => {
        const buffer = Buffer.alloc(Math.max(0, Math.min(length, sizeBytes - offset)));
        const { bytesRead } = await file.read(buffer, 0, buffer.byteLength, offset);
        return buffer.subarray(0, bytesRead);
      },
    };
    return await loadGgufTokenizer(source, path);
  } finally {
    await file.close();
  }
}
