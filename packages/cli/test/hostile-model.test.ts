// A model folder whose graph points its external data outside the folder (../ or an absolute path)
// must be refused, on every device, without reading the outside file.

import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { loadModel } from '@localm/core';
import { BUNDLED } from './run-cli.js';

const work = mkdtempSync(join(tmpdir(), 'localm-hostile-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A copy of the bundled model whose external-data location reads `location` (same byte length). */
function withLocation(location: string): string {
  const original = 'model.onnx_data';
  expect(location.length).toBe(original.length); // protobuf length prefixes stay valid
  const dir = mkdtempSync(join(work, 'model-'));
  mkdirSync(join(dir, 'onnx'));
  for (const file of ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'onnx/model.onnx_data']) copyFileSync(join(BUNDLED, file), join(dir, file));
  const graph = readFileSync(join(BUNDLED, 'onnx/model.onnx'));
  const patched = Buffer.from(graph.toString('latin1').split(original).join(location), 'latin1');
  expect(patched.equals(graph)).toBe(false);
  writeFileSync(join(dir, 'onnx/model.onnx'), patched);
  return dir;
}

test.each([
  ['a relative path out of the folder', '../../outside.x'],
  ['an absolute path', `/tmp/outside.da`],
])('external data at %s is refused with corrupt_model on cpu and wasm', async (_, location) => {
  const dir = withLocation(location);
  // Make the target exist, so a refusal cannot be a mere "file not found".
  writeFileSync(location.startsWith('/') ? location : join(dir, 'onnx', location), readFileSync(join(BUNDLED, 'onnx/model.onnx_data')));
  for (const device of ['cpu', 'wasm'] as const) {
    await expect(loadModel(dir, { device })).rejects.toMatchObject({ code: 'corrupt_model' });
  }
});
