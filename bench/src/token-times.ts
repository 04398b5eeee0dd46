// When each generated token was known, and the latency metrics those times give. Shared by the Node
// runner and the browser page (bench/web); no I/O, browser-safe.

import { quantile } from './stats.js';

/**
 * A token whose bytes were held back (partial UTF-8, common with the synthetic byte-level vocabularies)
 * has no event of its own, so its time is spread evenly between the events around it. The first token is
 * known when prefill ends, the last when decoding ends.
 */
export function tokenTimes(events: readonly { atMs: number; tokenId: number }[], done: { tokenIds: readonly number[]; prefillMs: number; decodeMs: number }): number[] {
  const n = done.tokenIds.length;
  const known = new Map<number, number>([[0, done.prefillMs]]);
  let position = 0;
  for (const e of events) {
    while (position < n && done.tokenIds[position] !== e.tokenId) position++;
    if (position < n && position > 0) known.set(position, e.atMs);
  }
  known.set(n - 1, done.prefillMs + done.decodeMs);
  const anchors = [...known].sort((a, b) => a[0] - b[0]);
  const times = new Array<number>(n);
  for (let a = 0; a + 1 < anchors.length; a++) {
    const [p0, t0] = anchors[a]!;
    const [p1, t1] = anchors[a + 1]!;
    for (let p = p0; p <= p1; p++) times[p] = p1 === p0 ? t0 : t0 + ((t1 - t0) * (p - p0)) / (p1 - p0);
  }
  if (n === 1) times[0] = done.prefillMs;
  return times;
}

/** TTFT, prefill and decode rates and inter-token percentiles from per-token times (ms since the generate call). */
export function latencyMetrics(tokenTimesMs: readonly number[], promptTokens: number): {
  ttftMs: number; prefillTokensPerSecond: number; decodeTokensPerSecond: number; interTokenP50Ms: number; interTokenP95Ms: number;
} {
  const t = tokenTimesMs;
  const n = t.length;
  const gaps = t.slice(1).map((x, i) => x - t[i]!);
  const first = t[0] ?? NaN;
  const last = t[n - 1] ?? NaN;
  return {
    ttftMs: first,
    prefillTokensPerSecond: (promptTokens * 1000) / first,
    decodeTokensPerSecond: n > 1 ? ((n - 1) * 1000) / (last - first) : NaN,
    interTokenP50Ms: quantile(gaps, 0.5),
    interTokenP95Ms: quantile(gaps, 0.95),
  };
}
