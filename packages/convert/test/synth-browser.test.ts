// synthesizeModel in headless Debian Chromium: the `tiny` preset written into OPFS from a module Web
// Worker (synchronous access handles) and from the page (createWritable) is byte for byte what Node
// writes for the same preset, seed and dtype; a stop message aborts a big one. With LOCALM_SLOW=1, the
// 1B preset (or LOCALM_SLOW_PRESET) is generated in the worker while the renderer's peak resident memory
// (VmHWM; the worker runs inside the renderer process) is read from /proc: it must stay under a constant
// and, for the 1B, under 0.3x the model's bytes.

import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { nodeSink } from '../src/node-sink.js';
import { synthesizeModel } from '../src/synthesize-model.js';
import { plannedSynthBytes } from '../src/synth-plan.js';
import { openSynthPage, type SynthPage } from './synth-page.js';
import type { SynthJob, SynthJobResult } from './browser/job.js';

const CHROMIUM = '/usr/bin/chromium';
const isSlow = process.env['LOCALM_SLOW'] === '1';
// Another preset for the measured run, to compare peaks across model sizes (e.g. qwen2.5-0.5b, llama-3.2-3b).
const SLOW_PRESET = process.env['LOCALM_SLOW_PRESET'] ?? 'llama-3.2-1b';
const PEAK_RENDERER_LIMIT_BYTES = 300e6;

function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

describe.skipIf(!existsSync(CHROMIUM))('synthesizeModel into OPFS in Chromium (needs Debian chromium at /usr/bin/chromium)', () => {
  let page: SynthPage;
  let nodeDir = '';

  beforeAll(async () => {
    nodeDir = mkdtempSync(join(tmpdir(), 'localm-synth-node-'));
    page = await openSynthPage(fileURLToPath(new URL('./browser', import.meta.url)));
  }, 180_000);

  afterAll(async () => {
    await page?.close();
    if (nodeDir) rmSync(nodeDir, { recursive: true, force: true });
  });

  async function run(where: 'inWorker' | 'inPage', job: SynthJob): Promise<SynthJobResult> {
    const outcome = await page.run(where, job);
    if (!outcome.ok) throw new Error(`${outcome.error}\n${page.console.join('\n')}`);
    return outcome.value;
  }

  async function nodeHashes(job: SynthJob): Promise<Record<string, string>> {
    const dir = join(nodeDir, `${job.preset}-${job.dtype}-${job.seed}`);
    const { files } = await synthesizeModel({ preset: job.preset, seed: job.seed, dtype: job.dtype, gguf: job.gguf }, nodeSink(dir));
    return Object.fromEntries(files.map((f) => [f, sha256(join(dir, f))]));
  }

  test.each([
    ['inWorker', 'q4', true],
    ['inWorker', 'fp16', false],
    ['inPage', 'q8', true],
  ] as const)('tiny %s (%s, gguf %s): every file has the sha256 of the Node output', async (where, dtype, gguf) => {
    const job: SynthJob = { preset: 'tiny', seed: 11, dtype, gguf, folder: `tiny-${where}-${dtype}`, hashes: true };
    const [browser, expected] = await Promise.all([run(where, job), nodeHashes(job)]);
    expect(browser.usedSyncHandle).toBe(where === 'inWorker');
    expect(Object.keys(browser.files).sort()).toEqual(Object.keys(expected).sort());
    for (const [file, hash] of Object.entries(expected)) expect({ file, sha256: browser.files[file]!.sha256 }).toEqual({ file, sha256: hash });
    const total = Object.values(browser.files).reduce((sum, f) => sum + f.sizeBytes, 0);
    expect(browser.lastProgress).toEqual({ bytesWritten: total, totalBytes: total });
    expect(total).toBeLessThanOrEqual(plannedSynthBytes('tiny', dtype, { gguf }));
  });

  test('a stop message to the worker aborts a 1B synthesis within 1.5 s: the writer lets the event loop turn', async () => {
    const job: SynthJob = { preset: 'llama-3.2-1b', seed: 1, dtype: 'q4', gguf: false, folder: 'aborted-1b', hashes: false };
    const started = Date.now();
    const outcome = await page.run('inWorker', job, 3000);
    const elapsedMs = Date.now() - started;
    expect(outcome).toMatchObject({ ok: false, name: 'AbortError' });
    // The vocabulary and tokenizer files take ~1 s before the first weight; after that the worker
    // checks its messages at least every ~100 ms of work.
    expect(elapsedMs).toBeLessThan(3000 + 1500);
  });

  test.skipIf(!isSlow)(`${SLOW_PRESET} q4 in the worker: the renderer's peak memory does not grow with the model (LOCALM_SLOW=1)`, async () => {
    const before = page.rendererPeaks();
    const job: SynthJob = { preset: SLOW_PRESET, seed: 1, dtype: 'q4', gguf: false, folder: `${SLOW_PRESET}-q4`, hashes: false };
    const result = await run('inWorker', job);
    const peaks = page.rendererPeaks();
    const modelBytes = Object.values(result.files).reduce((sum, f) => sum + f.sizeBytes, 0);
    expect(peaks.length).toBeGreaterThan(0);
    // The page's renderer (its worker included) is one of them; the largest peak bounds it.
    const peakRssBytes = Math.max(...peaks.map((p) => p.vmHwmBytes));
    const line = {
      modelBytes,
      weightBytes: result.weightBytes,
      plannedBytes: plannedSynthBytes(SLOW_PRESET, 'q4'),
      peakRendererRssBytes: peakRssBytes,
      peakRssOverModel: +(peakRssBytes / modelBytes).toFixed(3),
      elapsedMs: Math.round(result.elapsedMs),
      renderers: peaks,
      renderersBefore: before,
    };
    console.log(`${SLOW_PRESET} q4 into OPFS: ${JSON.stringify(line)}`);
    expect(result.usedSyncHandle).toBe(true);
    expect(modelBytes).toBeLessThanOrEqual(line.plannedBytes);
    expect(modelBytes).toBeGreaterThan(0.99 * line.plannedBytes);
    // A whole copy of the weights would put the peak above modelBytes; slices of 16 MiB keep it at the
    // page's own footprint (~130 MB here) plus tens of MB, whatever the model's size.
    expect(peakRssBytes).toBeLessThan(PEAK_RENDERER_LIMIT_BYTES);
    if (modelBytes >= 900e6) expect(peakRssBytes).toBeLessThan(0.3 * modelBytes);
  }, 1_200_000);
});
