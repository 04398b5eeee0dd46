// Long-run check: N greedy generations in one process. Reports the resident-memory slope after
// warm-up (least squares over samples) and whether every run's ids equal the first run's.
// Usage: node bench/long-run.mjs [--device cpu|wasm] [--runs 1000] [--model DIR]

import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { loadModel } from '@localm/core';

const { values } = parseArgs({ options: { device: { type: 'string', default: 'cpu' }, runs: { type: 'string', default: '1000' }, model: { type: 'string' } } });
const model = await loadModel(values.model ?? fileURLToPath(new URL('../models/stories260k', import.meta.url)), { device: values.device });
const runs = Number(values.runs);
// The allocators grow for the first few hundred runs here (measured: flat from ~500 of 3000 on cpu).
const warmup = Math.floor(runs * 0.3);
const samples = [];
let first;
let mismatches = 0;
const started = performance.now();
for (let i = 0; i < runs; i++) {
  let ids;
  for await (const e of model.generate(`Once upon a time ${i % 7 === 0 ? '' : 'there'}`.trim(), { maxTokens: 64 })) if (e.type === 'done') ids = e.tokenIds.join(',');
  // Alternate two prompts so the KV-cache prefix reuse and truncation paths both run.
  const key = `${i % 7 === 0}`;
  first ??= {};
  first[key] ??= ids;
  if (first[key] !== ids) mismatches++;
  if (i >= warmup && i % 10 === 0) {
    globalThis.gc?.(); // with --expose-gc, garbage the JS heap would collect later is not counted as growth
    samples.push([i, process.memoryUsage().rss]);
  }
}
const n = samples.length;
const mx = samples.reduce((a, [x]) => a + x, 0) / n;
const my = samples.reduce((a, [, y]) => a + y, 0) / n;
const slope = samples.reduce((a, [x, y]) => a + (x - mx) * (y - my), 0) / samples.reduce((a, [x]) => a + (x - mx) ** 2, 0);
const rss = samples.map(([, y]) => y);
await model.dispose();
console.log(JSON.stringify({
  device: model.info.device,
  runs,
  warmupRuns: warmup,
  mismatchedRuns: mismatches,
  rssSlopeBytesPerRun: Math.round(slope),
  rssMinBytes: Math.min(...rss),
  rssMaxBytes: Math.max(...rss),
  elapsedMs: Math.round(performance.now() - started),
}));
