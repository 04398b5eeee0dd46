// End to end through the `localm` command: llama2.c's greedy ids on cpu and wasm, q4 quality, and the
// typed errors a user sees for bad input.

import { mkdtempSync, rmSync, writeFileSync, mkdirSync, readFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { BUNDLED, SOURCE, lastJson, readJsonl, runCli, type GenerateJson, type GreedyRecord } from './run-cli.js';

const records = readJsonl<GreedyRecord>(join(SOURCE, 'expected-greedy.jsonl'));
const work = mkdtempSync(join(tmpdir(), 'localm-cli-'));
const fp32 = join(work, 'fp32');
const q4 = join(work, 'q4');

beforeAll(async () => {
  for (const [out, dtype] of [[fp32, 'fp32'], [q4, 'q4']] as const) {
    const result = await runCli(['convert', join(SOURCE, 'stories260K.bin'), '--tokenizer', join(SOURCE, 'tok512.bin'), '--out', out, '--dtype', dtype]);
    expect(result.stderr).toContain('wrote');
    expect(result.code).toBe(0);
  }
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** run.c counts `steps` positions, prompt included; the token at the last position is generated too. */
function maxTokensOf(record: GreedyRecord): number {
  return record.steps - record.prompt_token_ids.length + 1;
}

async function generate(model: string, record: GreedyRecord, device: string): Promise<GenerateJson> {
  const result = await runCli(['generate', model, '--prompt', record.prompt, '--max-tokens', String(maxTokensOf(record)), '--device', device, '--json']);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return lastJson<GenerateJson>(result);
}

describe.each(['cpu', 'wasm'])('fp32 on %s reproduces llama2.c greedy ids', (device) => {
  test.each(records)('prompt "$prompt"', async (record) => {
    const out = await generate(fp32, record, device);
    expect(out.device).toBe(device);
    expect(out.promptTokenIds).toEqual(record.prompt_token_ids);
    expect(out.tokenIds).toEqual(record.generated_token_ids);
    // run.c ends a story when it samples BOS; the converted generation_config lists BOS as an EOS id.
    expect(out.stopReason).toBe(record.stop === 'bos' ? 'eos' : 'maxTokens');
  });
});

test('the bundled model folder is what convert writes today', () => {
  for (const file of ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'onnx/model.onnx', 'onnx/model.onnx_data']) {
    expect(readFileSync(join(BUNDLED, file)).equals(readFileSync(join(fp32, file))), file).toBe(true);
  }
});

test('q4 stays fluent: its words are TinyStories words', async () => {
  const wordsOf = (text: string): string[] => text.toLowerCase().match(/[a-z]+/g) ?? [];
  // The vocabulary of the fp32 model (equal to llama2.c above), sampled at temperature 1.
  const vocabulary = new Set<string>();
  for (let seed = 1; seed <= 16; seed++) {
    const result = await runCli(['generate', fp32, '--prompt', '', '--max-tokens', '400', '--temperature', '1', '--seed', String(seed), '--json']);
    for (const word of wordsOf(lastJson<GenerateJson>(result).text)) vocabulary.add(word);
  }
  let agreeing = 0;
  let total = 0;
  const q4Words: string[] = [];
  for (const prompt of [...records.map((r) => r.prompt), 'The cat', 'One day, Tim', 'Sue had a']) {
    const record: GreedyRecord = { prompt, steps: 200, prompt_token_ids: [], generated_token_ids: [], stop: 'steps' };
    const [full, quantized] = [await generate(fp32, record, 'cpu'), await generate(q4, record, 'cpu')];
    const firstDiff = full.tokenIds.findIndex((id, i) => quantized.tokenIds[i] !== id);
    agreeing += firstDiff === -1 ? full.tokenIds.length : firstDiff;
    total += full.tokenIds.length;
    q4Words.push(...wordsOf(quantized.text));
  }
  const known = q4Words.filter((w) => vocabulary.has(w)).length / q4Words.length;
  console.log(`q4: ${agreeing} of ${total} greedy ids equal fp32 before the first difference; ${(known * 100).toFixed(1)}% of ${q4Words.length} words are TinyStories words`);
  expect(q4Words.length).toBeGreaterThan(400);
  expect(known).toBeGreaterThan(0.85);
});

describe('bad input gets a typed error on stderr and exit status 1', () => {
  const broken = join(work, 'broken');

  test('a missing folder', async () => {
    const result = await runCli(['generate', join(work, 'no-such-model')]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^localm: error \[not_found\]: .*does not exist/);
  });

  test('a folder without config.json', async () => {
    mkdirSync(join(work, 'empty'), { recursive: true });
    const result = await runCli(['generate', join(work, 'empty')]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^localm: error \[not_found\]: .*no config\.json/);
  });

  test.each(['cpu', 'wasm'])('a truncated model.onnx on %s', async (device) => {
    rmSync(broken, { recursive: true, force: true });
    mkdirSync(join(broken, 'onnx'), { recursive: true });
    for (const file of ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'onnx/model.onnx_data']) {
      copyFileSync(join(fp32, file), join(broken, file));
    }
    const graph = readFileSync(join(fp32, 'onnx/model.onnx'));
    writeFileSync(join(broken, 'onnx/model.onnx'), graph.subarray(0, Math.floor(graph.length / 2)));
    const result = await runCli(['generate', broken, '--device', device]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^localm: error \[corrupt_model\]: /);
    expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  test('a checkpoint with a bad header', async () => {
    const bad = join(work, 'bad.bin');
    const bytes = new Uint8Array(readFileSync(join(SOURCE, 'stories260K.bin')));
    new DataView(bytes.buffer).setInt32(0, -64, true); // dim
    writeFileSync(bad, bytes);
    const result = await runCli(['convert', bad, '--tokenizer', join(SOURCE, 'tok512.bin'), '--out', join(work, 'bad-out')]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^localm: error \[corrupt_model\]: .*bad\.bin/);
  });

  test('an unknown device is a usage error', async () => {
    const result = await runCli(['generate', fp32, '--device', 'tpu']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--device must be one of');
  });
});
