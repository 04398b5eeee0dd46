// Loading from files the user picked: File objects as a folder picker gives them (webkitRelativePath),
// as a multi-file pick gives them (names only), and checked against pins and a picked localm.json.

import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { afterAll, expect, test } from 'vitest';
import { loadModel, type GenerationEvent, type Model } from '@localm/core';
import { manifestFor, MODEL_DIR, readModelFiles, ROOT, WEIGHTS } from './model-server.js';

const expected = JSON.parse(readFileSync(join(ROOT, 'models/stories260k-source/expected-greedy.jsonl'), 'utf8').split('\n')[0]!) as {
  prompt: string;
  generated_token_ids: number[];
};
const files = readModelFiles();

/** A File as <input type="file" webkitdirectory> gives it: the name, and the path from the picked folder. */
function picked(relativePath: string, bytes: Uint8Array<ArrayBuffer>): File {
  const file = new File([bytes], relativePath.slice(relativePath.lastIndexOf('/') + 1));
  Object.defineProperty(file, 'webkitRelativePath', { value: relativePath });
  return file;
}

async function greedyIds(model: Model): Promise<number[]> {
  try {
    for await (const e of model.generate(expected.prompt, { maxTokens: expected.generated_token_ids.length }) as AsyncIterable<GenerationEvent>) {
      if (e.type === 'done') return e.tokenIds;
    }
    throw new Error('no done event');
  } finally {
    await model.dispose();
  }
}

test('a picked folder (webkitRelativePath) loads and generates llama2.c greedy ids', async () => {
  const folder = [...files].map(([path, bytes]) => picked(`stories260k/${path}`, bytes));
  folder.push(picked('stories260k/README.md', new TextEncoder().encode('# not part of the model')));
  const model = await loadModel(folder, { device: 'cpu' });
  expect(model.info.source).toBe('picked files (stories260k)');
  expect(await greedyIds(model)).toEqual(expected.generated_token_ids);
});

test('a picked parent folder: the shallowest config.json is the model', async () => {
  const folder = [...files].map(([path, bytes]) => picked(`models/stories260k/${path}`, bytes));
  folder.push(picked('models/other/sub/config.json', new TextEncoder().encode('{}')));
  expect((await loadModel(folder, { device: 'cpu' }).then(async (m) => (await m.dispose(), m.info.source)))).toBe('picked files (models/stories260k)');
});

test('files picked one by one (names only) load too', async () => {
  const flat = [...files].map(([path, bytes]) => new File([bytes], path.slice(path.lastIndexOf('/') + 1)));
  expect(await greedyIds(await loadModel(flat, { device: 'cpu' }))).toEqual(expected.generated_token_ids);
});

test('Blobs named by path (new File([blob], "onnx/model.onnx")) load too', async () => {
  const named = [...files].map(([path, bytes]) => new File([new Blob([bytes])], path));
  expect(await greedyIds(await loadModel(named, { device: 'cpu' }))).toEqual(expected.generated_token_ids);
});

test('picked files without a config.json are not_found', async () => {
  const folder = [...files].filter(([path]) => path !== 'config.json').map(([path, bytes]) => picked(`m/${path}`, bytes));
  await expect(loadModel(folder)).rejects.toMatchObject({ name: 'LocalmError', code: 'not_found' });
  await expect(loadModel([{ name: 'config.json' }] as unknown as File[])).rejects.toMatchObject({ code: 'invalid_argument' });
});

test('a wrong pin on picked files is checksum_mismatch; the right one passes', async () => {
  const folder = [...files].map(([path, bytes]) => picked(`m/${path}`, bytes));
  await expect(loadModel(folder, { sha256: { [WEIGHTS]: '0'.repeat(64) } })).rejects.toMatchObject({ code: 'checksum_mismatch', details: { file: WEIGHTS } });
  const right = createHash('sha256').update(files.get(WEIGHTS)!).digest('hex');
  await (await loadModel(folder, { device: 'cpu', sha256: { [WEIGHTS]: right } })).dispose();
});

test('a picked localm.json is checked: a damaged weights file is checksum_mismatch', async () => {
  const damaged = files.get(WEIGHTS)!.slice();
  damaged[500] = damaged[500]! ^ 0x10;
  const folder = [...files].map(([path, bytes]) => picked(`m/${path}`, path === WEIGHTS ? damaged : bytes));
  folder.push(picked('m/localm.json', new TextEncoder().encode(manifestFor(files))));
  await expect(loadModel(folder, { device: 'cpu' })).rejects.toMatchObject({ code: 'checksum_mismatch', details: { file: WEIGHTS } });
});

const tmp = mkdtempSync(join(tmpdir(), 'localm-folder-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

test('a local folder is checked against its localm.json and pins too', async () => {
  cpSync(MODEL_DIR, tmp, { recursive: true });
  writeFileSync(join(tmp, 'localm.json'), manifestFor(files));
  await (await loadModel(tmp, { device: 'cpu' })).dispose();
  await expect(loadModel(tmp, { device: 'cpu', sha256: { 'onnx/model.onnx': '1'.repeat(64) } })).rejects.toMatchObject({ code: 'checksum_mismatch' });
  await expect(loadModel(tmp, { device: 'cpu', sha256: { 'onnx/nope.onnx': '1'.repeat(64) } })).rejects.toMatchObject({ code: 'invalid_argument' });
  writeFileSync(join(tmp, 'tokenizer.json'), '{}');
  await expect(loadModel(tmp, { device: 'cpu' })).rejects.toMatchObject({ code: 'checksum_mismatch', details: { file: 'tokenizer.json' } });
});
