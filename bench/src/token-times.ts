// When each generated token was known, from localm's text events and its done event's timings. Shared by
// the Node runner (runtimes/localm.ts) and the browser page (bench/web); no I/O, browser-safe.

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
