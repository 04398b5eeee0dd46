// The planner's weight term against the files the converter actually writes, and the limits check.
// (Its runtime term is calibrated by measurement; the bench prints predicted vs measured on every run.)

import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { convertSynth } from '@localm/convert';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { checkLimits } from '../src/limits.js';
import { largestContext, planMemory, weightBytes, type PlannerConfig } from '../src/planner.js';

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'localm-planner-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

for (const [preset, dtype] of [['tiny', 'q4'], ['tiny', 'fp32'], ['tiny-qwen2', 'q8'], ['tiny-qwen2', 'fp16']] as const) {
  test(`${preset} ${dtype}: predicted weight bytes match model.onnx_data within 3% (alignment padding)`, async () => {
    const out = join(dir, `${preset}-${dtype}`);
    await convertSynth({ preset, dtype, outDir: out });
    const config = JSON.parse(await readFile(join(out, 'config.json'), 'utf8')) as PlannerConfig;
    const actual = (await stat(join(out, 'onnx', 'model.onnx_data'))).size;
    const predicted = weightBytes(config);
    expect(predicted).toBeLessThanOrEqual(actual);
    expect(predicted / actual).toBeGreaterThan(0.97);
  });
}

test('more context needs more memory, and the largest context fits its budget', async () => {
  const config = JSON.parse(await readFile(join(dir, 'tiny-q4', 'config.json'), 'utf8')) as PlannerConfig;
  const small = planMemory(config, 'cpu', { promptTokens: 16, contextTokens: 64 });
  const big = planMemory(config, 'cpu', { promptTokens: 16, contextTokens: 512 });
  expect(big.kvCacheBytes).toBe(small.kvCacheBytes * 8);
  const budget = small.totalBytes + 50_000;
  const ctx = largestContext(config, 'cpu', budget, 16);
  expect(planMemory(config, 'cpu', { promptTokens: 16, contextTokens: ctx }).totalBytes).toBeLessThanOrEqual(budget);
  expect(ctx).toBeGreaterThan(64);
  expect(largestContext(config, 'cpu', 1000)).toBe(0);
});

test('limits name each one that fails', () => {
  const measured = { peakRssBytes: 2e9, ttftMs: 900, decodeTokensPerSecond: 5 };
  expect(checkLimits({ memoryBytes: 3e9, maxTtftMs: 1000, minDecodeTokensPerSecond: 4 }, measured)).toEqual([]);
  const failed = checkLimits({ memoryBytes: 1e9, maxTtftMs: 500, minDecodeTokensPerSecond: 8 }, measured);
  expect(failed.map((f) => f.split(':')[0])).toEqual(['memory', 'ttft', 'decode']);
});
