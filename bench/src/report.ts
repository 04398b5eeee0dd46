// Renders bench results: the Markdown table the CLI prints, and an SVG bar chart (decode tokens/s and
// peak memory, localm vs peers, one group per model). No I/O.

import type { BenchResult, RuntimeSummary } from './bench-result.js';

const mb = (b: number): string => (b / 1e6).toFixed(0);
const f = (x: number, digits = 1): string => (Number.isFinite(x) ? x.toFixed(digits) : '–');
const pct = (x: number): string => `±${(x * 50).toFixed(0)}%`; // half the (max - min) / median spread

/** One Markdown table: a row per runtime, medians over runs, ratios to localm. */
export function markdownTable(result: BenchResult): string {
  const ours = result.runtimes.find((r) => r.runtime === 'localm');
  const ratio = (a: number, b: number | undefined): string => (b ? `${f(a / b, 2)}x` : '');
  const header = [
    'runtime', 'device', 'load ms', 'TTFT ms', 'prefill tok/s', 'decode tok/s', 'ITL p50/p95 ms', 'peak RSS MB',
    'RSS / weights', 'others\' CPU (cores)', 'decode vs localm', 'prefill vs localm', 'RSS vs localm', 'ids = localm',
  ];
  const rows = result.runtimes.map((r: RuntimeSummary) => [
    r.runtime,
    r.device,
    f(r.loadMs.median, 0),
    f(r.ttftMs.median, 0),
    `${f(r.prefillTokensPerSecond.median)} ${pct(r.prefillTokensPerSecond.spread)}`,
    `${f(r.decodeTokensPerSecond.median, 2)} ${pct(r.decodeTokensPerSecond.spread)}`,
    `${f(r.interTokenP50Ms, 1)} / ${f(r.interTokenP95Ms, 1)}`,
    mb(r.peakRssBytes.median),
    f(r.peakRssBytes.median / r.weightBytes, 2),
    `${f(r.foreignCores, 2)}${r.isNoisy ? ' (noisy)' : ''}`,
    ratio(r.decodeTokensPerSecond.median, ours?.decodeTokensPerSecond.median),
    ratio(r.prefillTokensPerSecond.median, ours?.prefillTokensPerSecond.median),
    ratio(r.peakRssBytes.median, ours?.peakRssBytes.median),
    `${r.idsMatchingLocalm}/${Math.min(r.generatedTokens ?? result.genTokens, result.genTokens)}`,
  ]);
  const line = (cells: string[]): string => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/**
 * An SVG with two bar charts side by side: decode tokens/s and peak RSS (MB), one group of bars per
 * result (model), one bar per runtime.
 */
export function svgChart(results: readonly BenchResult[]): string {
  const runtimes = [...new Set(results.flatMap((r) => r.runtimes.map((x) => `${x.runtime} (${x.device})`)))];
  const colors = ['#2b6cb0', '#dd6b20', '#38a169', '#805ad5', '#c53030', '#718096'];
  const panel = (title: string, value: (s: RuntimeSummary) => number, x0: number): string => {
    const width = 420;
    const height = 260;
    const max = Math.max(1e-9, ...results.flatMap((r) => r.runtimes.map(value)));
    const groupWidth = (width - 40) / Math.max(1, results.length);
    const barWidth = Math.min(28, (groupWidth - 10) / Math.max(1, runtimes.length));
    const parts = [`<text x="${x0 + width / 2}" y="18" text-anchor="middle" font-size="14">${title}</text>`];
    results.forEach((result, g) => {
      const gx = x0 + 30 + g * groupWidth;
      result.runtimes.forEach((s) => {
        const i = runtimes.indexOf(`${s.runtime} (${s.device})`);
        const v = value(s);
        const h = (v / max) * (height - 60);
        const x = gx + i * barWidth;
        parts.push(`<rect x="${x.toFixed(1)}" y="${(height - 30 - h).toFixed(1)}" width="${(barWidth - 2).toFixed(1)}" height="${h.toFixed(1)}" fill="${colors[i % colors.length]}"><title>${s.runtime} ${s.device}: ${v.toFixed(2)}</title></rect>`);
        parts.push(`<text x="${(x + barWidth / 2).toFixed(1)}" y="${(height - 34 - h).toFixed(1)}" text-anchor="middle" font-size="9">${v < 10 ? v.toFixed(1) : v.toFixed(0)}</text>`);
      });
      parts.push(`<text x="${(gx + (runtimes.length * barWidth) / 2).toFixed(1)}" y="${height - 14}" text-anchor="middle" font-size="11">${result.modelName}</text>`);
    });
    parts.push(`<line x1="${x0 + 25}" y1="${height - 30}" x2="${x0 + width}" y2="${height - 30}" stroke="#333"/>`);
    return parts.join('\n');
  };
  const legend = runtimes
    .map((name, i) => `<rect x="${20 + i * 150}" y="275" width="10" height="10" fill="${colors[i % colors.length]}"/><text x="${34 + i * 150}" y="284" font-size="11">${name}</text>`)
    .join('\n');
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="880" height="300" font-family="sans-serif">`,
    panel('decode tokens/s (higher is better)', (s) => s.decodeTokensPerSecond.median, 0),
    panel('peak RSS, MB (lower is better)', (s) => s.peakRssBytes.median / 1e6, 440),
    legend,
    '</svg>',
  ].join('\n');
}
