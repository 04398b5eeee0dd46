// The README's performance section is the bench's own report of the results committed in bench/results/,
// so every number there was measured by `pnpm bench` (re-render: see bench/README.md, "Report").

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import type { BenchResult } from '../src/bench-result.js';
import { markdownReport, README_END, README_START, spliceReadme, svgChart } from '../src/report.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const RESULTS = join(ROOT, 'bench/results');

function committedResults(): BenchResult[] {
  return readdirSync(RESULTS)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => JSON.parse(readFileSync(join(RESULTS, f), 'utf8').trim().split('\n').pop()!) as BenchResult);
}

test('the README performance section equals the report of bench/results/*.json', () => {
  const results = committedResults();
  expect(results.length).toBeGreaterThan(0);
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  expect(readme).toContain(README_START);
  expect(readme).toContain(README_END);
  expect(spliceReadme(readme, markdownReport(results, 'bench/results/report.svg'))).toBe(readme);
  expect(readFileSync(join(RESULTS, 'report.svg'), 'utf8')).toBe(svgChart(results));
});

test('every committed result has localm first and the fields the report reads', () => {
  for (const r of committedResults()) {
    expect(r.runtimes[0]?.runtime).toBe('localm');
    for (const s of r.runtimes) {
      expect(s.decodeTokensPerSecond.median).toBeGreaterThan(0);
      expect(s.peakRssBytes.median).toBeGreaterThan(0);
    }
  }
});
