// Renders what the page measured: the Node runner's Markdown table as an HTML table, its SVG chart, the
// environment, and the downloads (the BenchResult JSON `pnpm bench report` reads; a limits-file profile).
import type { BenchResult, BrowserEnvironment } from '../../src/bench-result.js';
import { flatBrowserJson } from '../../src/browser/browser-result.js';
import type { LimitProfile } from '../../src/limits.js';
import { markdownTable, svgChart } from '../../src/report.js';

const escapeHtml = (s: string): string => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

/** The Markdown table of report.ts, as an HTML table (the same cells, so page and CLI never disagree). */
export function tableHtml(result: BenchResult): string {
  const rows = markdownTable(result)
    .split('\n')
    .filter((_, i) => i !== 1)
    .map((line) => line.slice(2, -2).split(' | '));
  const [head, ...body] = rows;
  const cells = (r: string[], tag: string): string => `<tr>${r.map((c) => `<${tag}>${escapeHtml(c)}</${tag}>`).join('')}</tr>`;
  return `<table><thead>${cells(head ?? [], 'th')}</thead><tbody>${body.map((r) => cells(r, 'td')).join('')}</tbody></table>`;
}

export function chartSvg(results: readonly BenchResult[]): string {
  return svgChart(results);
}

export function environmentText(env: BrowserEnvironment): string {
  const gib = (b: number | undefined): string => (b === undefined ? 'unknown' : `${(b / 2 ** 30).toFixed(1)} GiB`);
  const gpu = env.webgpu
    ? `${env.webgpu.vendor || 'unknown vendor'} ${env.webgpu.architecture} ${env.webgpu.description}${env.webgpu.isFallbackAdapter ? ' (software fallback adapter)' : ''}; shader-f16 ${env.webgpu.shaderF16 ? 'yes' : 'no'}; max buffer ${gib(env.webgpu.maxBufferSize)}, max storage binding ${gib(env.webgpu.maxStorageBufferBindingSize)}`
    : `none: ${env.webgpuSkipReason ?? 'unknown'}`;
  return [
    `browser: ${env.userAgent}`,
    `platform: ${env.platform}; ${env.hardwareConcurrency} logical cores; device memory ${env.deviceMemoryGiB === undefined ? 'not reported' : `${env.deviceMemoryGiB} GiB (as the browser rounds it)`}`,
    `cross-origin isolated: ${env.crossOriginIsolated ? 'yes (WASM threads possible)' : 'no (one WASM thread: serve with COOP/COEP)'}`,
    `storage: ${gib(env.storageUsageBytes)} used of ${gib(env.storageQuotaBytes)} quota`,
    `WebGPU: ${gpu}`,
  ].join('\n');
}

/** The file `pnpm bench report` reads: its last line is the result, in the --json line's shape. */
export function resultFile(result: BenchResult): { name: string; text: string } {
  const safe = (s: string): string => s.replace(/[^a-z0-9.-]+/gi, '_');
  return { name: `localm-bench-${safe(result.modelName)}-${safe(result.device)}.json`, text: `${JSON.stringify(flatBrowserJson(result))}\n` };
}

/**
 * A limits file (limits.ts) with one profile per result: the budget the run was checked against, and
 * this device's own TTFT and decode speed with a margin, so a later run on the same device that is 1.5x
 * slower fails. Profile names say platform, device and model.
 */
export function profileFile(results: readonly BenchResult[], env: BrowserEnvironment, budgetBytes: number | undefined): { name: string; text: string } {
  const profiles: Record<string, LimitProfile> = {};
  for (const r of results) {
    const ours = r.runtimes[0]!;
    const name = `${env.platform || 'browser'}-${r.device}-${r.modelName}`.toLowerCase().replace(/[^a-z0-9.-]+/g, '-');
    profiles[name] = {
      ...(budgetBytes === undefined ? {} : { memoryBytes: budgetBytes }),
      maxTtftMs: Math.ceil(ours.ttftMs.median * 1.5),
      minDecodeTokensPerSecond: Number((ours.decodeTokensPerSecond.median / 1.5).toFixed(3)),
    };
  }
  return { name: 'localm-device-profile.json', text: `${JSON.stringify({ profiles }, null, 2)}\n` };
}

export function download(file: { name: string; text: string }): void {
  const url = URL.createObjectURL(new Blob([file.text], { type: 'application/json' }));
  const a = Object.assign(document.createElement('a'), { href: url, download: file.name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
