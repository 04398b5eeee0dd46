// Paths to the bundled stories260K source files and llama2.c's recorded greedy runs.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const SOURCE_DIR = new URL('../../../models/stories260k-source/', import.meta.url);

export const CHECKPOINT_PATH = fileURLToPath(new URL('stories260K.bin', SOURCE_DIR));
export const TOKENIZER_PATH = fileURLToPath(new URL('tok512.bin', SOURCE_DIR));

/** One line of expected-greedy.jsonl: llama2.c `run.c -t 0` output. */
export interface GreedyRecord {
  prompt: string;
  steps: number; // total positions run.c ran, prompt included
  prompt_token_ids: number[]; // BOS and the dummy-prefix space included
  generated_token_ids: number[];
  token_ids: number[]; // prompt_token_ids + generated_token_ids
  stop: 'steps' | 'bos'; // 'bos': run.c sampled BOS (1) and ended there
}

export const GREEDY_RECORDS: GreedyRecord[] = readFileSync(new URL('expected-greedy.jsonl', SOURCE_DIR), 'utf8')
  .split('\n')
  .filter((line) => line.trim() !== '')
  .map((line) => JSON.parse(line) as GreedyRecord);
