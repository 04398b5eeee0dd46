// `pnpm bench --browser`: the same measurements as the Node runner, in headless Chromium. Builds the
// bench page, serves it and the model folder on 127.0.0.1 (cross-origin isolated), and opens the page
// once per run and runtime in a fresh browser, so each run's renderer is its own: peak memory is that
// renderer's VmHWM (its WASM heaps and the worker included), plus the GPU process's on webgpu.
//
// pnpm bench --browser --model DIR [--device wasm|webgpu] [--prompt-tokens 128] [--gen-tokens 64] [--runs 3]
//                      [--threads N] [--peers] [--slow-peer-gen-tokens 8] [--gguf FILE] [--keep-page DIR] [--json]
// --peers: plain onnxruntime-web on the folder (on --slow-peer-gen-tokens: it decodes a 1B model at
// well under a token per second) and wllama on the GGUF (DIR.gguf or --gguf FILE).

import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir, totalmem } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { markdownTable } from '../report.js';
import { planMemory, type PlannerConfig } from '../planner.js';
import { startForeignCpu } from '../proc-cpu.js';
import { NOISY_CORES } from '../bench-result.js';
import { browserBenchResult, browserRunMetrics, flatBrowserJson, summarizeBrowserRuns, type BrowserRawRun, type BrowserRunResult } from './browser-result.js';
import type { BrowserEnvironment } from '../bench-result.js';
import { buildBenchPage } from './build-page.js';
import { processPeaks } from './renderer-memory.js';
import { startStaticServer } from './static-server.js';

export const CHROMIUM_ARGS = ['--no-sandbox', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--enable-unsafe-webgpu'];
const CHROMIUM = process.env['LOCALM_CHROMIUM'] ?? '/usr/bin/chromium';

export class BrowserUsageError extends Error {}

interface PageRun {
  raw: BrowserRawRun;
  result: BrowserRunResult;
  foreignCores: number;
  chromiumCpuSeconds: number;
  environment: BrowserEnvironment;
}

/** Opens the page in a fresh headless Chromium, runs one runtime once, and reads the renderer's peak. */
async function runInFreshBrowser(base: string, query: URLSearchParams, device: string, timeoutMs: number): Promise<PageRun> {
  const stopCpu = startForeignCpu();
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  let run: Omit<PageRun, 'foreignCores' | 'chromiumCpuSeconds'>;
  let chromiumCpuSeconds = 0;
  try {
    const page = await browser.newPage();
    await page.goto(`${base}?${query}`);
    await page.waitForFunction(() => ['done', 'failed', 'refused', 'stopped'].includes(document.body.dataset['state'] ?? ''), undefined, { timeout: timeoutMs, polling: 250 });
    const state = await page.evaluate(() => document.body.dataset['state']);
    if (state !== 'done') throw new Error(`the page ended ${state}: ${await page.textContent('#status')}`);
    const { raw, environment } = await page.evaluate(() => {
      const exposed = (globalThis as unknown as { localmBench: { rawRuns: BrowserRawRun[]; environment: BrowserEnvironment } }).localmBench;
      return { raw: exposed.rawRuns[0]!, environment: exposed.environment };
    });
    const peaks = await processPeaks(browser);
    chromiumCpuSeconds = peaks?.cpuSeconds ?? 0;
    const peakBytes = peaks ? peaks.rendererPeakBytes + (device === 'webgpu' ? peaks.gpuPeakBytes : 0) : raw.wasmMemoryBytes + raw.gpuBufferPeakBytes;
    const source = peaks ? (device === 'webgpu' ? 'renderer VmHWM + GPU process VmHWM' : 'renderer VmHWM') : 'page: wasm memory + gpu buffers (no /proc)';
    run = { raw, result: browserRunMetrics(raw, peakBytes, source), environment };
  } finally {
    await browser.close();
  }
  // /proc/self/stat does not see Chromium's processes (not our waited-for children): take their CPU
  // time from the DevTools protocol out of the machine's busy time.
  const cpu = stopCpu();
  const foreignCores = cpu && cpu.wallSeconds > 0 ? Math.max(0, cpu.foreignCpuSeconds - chromiumCpuSeconds) / cpu.wallSeconds : 0;
  return { ...run, foreignCores, chromiumCpuSeconds };
}

export async function runBrowserBench(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      model: { type: 'string' },
      device: { type: 'string', default: 'wasm' },
      'prompt-tokens': { type: 'string', default: '128' },
      'gen-tokens': { type: 'string', default: '64' },
      runs: { type: 'string', default: '3' },
      threads: { type: 'string', default: '1' },
      peers: { type: 'boolean', default: false },
      'slow-peer-gen-tokens': { type: 'string', default: '8' },
      gguf: { type: 'string' },
      'keep-page': { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  if (!values.model) throw new BrowserUsageError('--model DIR is required');
  const device = values.device;
  if (device !== 'wasm' && device !== 'webgpu') throw new BrowserUsageError('--device must be wasm or webgpu with --browser');
  const count = (name: 'prompt-tokens' | 'gen-tokens' | 'runs' | 'threads' | 'slow-peer-gen-tokens'): number => {
    const n = Number(values[name]);
    if (!Number.isInteger(n) || n < 1) throw new BrowserUsageError(`--${name} must be a positive integer`);
    return n;
  };
  const promptTokens = count('prompt-tokens');
  const genTokens = count('gen-tokens');
  const runs = count('runs');
  const threads = count('threads');
  const slowGenTokens = Math.max(2, Math.min(genTokens, count('slow-peer-gen-tokens')));
  const modelDir = resolve(values.model);
  if (!existsSync(join(modelDir, 'config.json'))) throw new BrowserUsageError(`${modelDir} has no config.json`);
  const ggufPath = values.gguf ? resolve(values.gguf) : existsSync(`${modelDir}.gguf`) ? `${modelDir}.gguf` : undefined;
  const runtimes = ['localm', ...(values.peers ? ['onnxruntime-web', ...(ggufPath ? ['wllama'] : [])] : [])];
  if (values.peers && !ggufPath) process.stderr.write('bench: no GGUF (--gguf FILE or DIR.gguf): wllama skipped\n');

  const pageDir = values['keep-page'] ? resolve(values['keep-page']) : mkdtempSync(join(tmpdir(), 'localm-bench-page-'));
  await buildBenchPage(pageDir);
  const server = await startStaticServer([
    { prefix: '/model/', path: modelDir },
    ...(ggufPath ? [{ prefix: '/model.gguf', path: ggufPath }] : []),
    { prefix: '/', path: pageDir },
  ]);
  const byRuntime = new Map<string, PageRun[]>(runtimes.map((r) => [r, []]));
  const stopCpu = startForeignCpu();
  try {
    for (let run = 0; run < runs; run++) {
      for (const runtime of runtimes) {
        const query = new URLSearchParams({
          model: `${server.base}model/`, name: basename(modelDir), devices: device, runtimes: runtime, runs: '1', firstRun: String(run),
          promptTokens: String(promptTokens), genTokens: String(genTokens), slowPeerGenTokens: String(slowGenTokens), threads: String(threads),
          ...(runtime === 'wllama' ? { gguf: `${server.base}model.gguf` } : {}),
          budgetMb: String(Math.floor(totalmem() / 1e6)), autorun: '1',
        });
        const r = await runInFreshBrowser(server.base, query, device, 20 * 60_000);
        byRuntime.get(runtime)!.push(r);
        const m = r.result;
        process.stderr.write(
          `run ${run + 1}/${runs} ${runtime} (${m.engine}): load ${m.loadMs.toFixed(0)} ms, ttft ${m.ttftMs.toFixed(0)} ms, decode ${m.decodeTokensPerSecond.toFixed(2)} tok/s, ` +
            `peak ${(m.peakRssBytes / 1e6).toFixed(0)} MB (wasm ${(m.wasmMemoryBytes / 1e6).toFixed(0)} MB), others ${r.foreignCores.toFixed(2)} cores\n`,
        );
      }
    }
  } finally {
    await server.close();
    if (!values['keep-page']) rmSync(pageDir, { recursive: true, force: true });
  }
  const wholeCpu = stopCpu();
  const chromiumCpu = [...byRuntime.values()].flat().reduce((sum, r) => sum + r.chromiumCpuSeconds, 0);
  const foreignCpu = wholeCpu && {
    ...wholeCpu,
    foreignCpuSeconds: Math.max(0, wholeCpu.foreignCpuSeconds - chromiumCpu),
    ownCpuSeconds: wholeCpu.ownCpuSeconds + chromiumCpu,
    foreignCores: wholeCpu.wallSeconds > 0 ? Math.max(0, wholeCpu.foreignCpuSeconds - chromiumCpu) / wholeCpu.wallSeconds : 0,
  };

  const size = (p: string): number => (existsSync(p) ? statSync(p).size : 0);
  const weightBytes = size(join(modelDir, 'onnx', 'model.onnx')) + size(join(modelDir, 'onnx', 'model.onnx_data'));
  const oursFirst = byRuntime.get('localm')![0]?.result.tokenIds;
  const summaries = runtimes.map((runtime) => {
    const pageRuns = byRuntime.get(runtime)!;
    const summary = summarizeBrowserRuns(pageRuns.map((r) => r.result), weightBytes, oursFirst);
    summary.foreignCores = Math.max(0, ...pageRuns.map((r) => r.foreignCores));
    summary.isNoisy = summary.foreignCores > NOISY_CORES;
    return summary;
  });
  const config = JSON.parse(readFileSync(join(modelDir, 'config.json'), 'utf8')) as PlannerConfig;
  const plan = planMemory(config, 'wasm', { promptTokens, contextTokens: promptTokens + genTokens, host: 'browser' });
  const result = browserBenchResult({
    modelDir, modelName: basename(modelDir), device, promptTokens, genTokens, threads, runtimes: summaries, plan,
    environment: byRuntime.get('localm')![0]!.environment,
  });
  result.foreignCpu = foreignCpu;
  const measured = result.plan!.measuredPeakRssBytes;
  const env = result.environment!;
  const lines = [
    `model ${result.modelName} in headless Chromium (${device}), ${promptTokens}-token prompt, ${genTokens} generated, ${runs} runs, ${threads} thread(s); medians, ±half the range`,
    markdownTable(result),
    `planner (wasm, in a browser): predicted ${(plan.totalBytes / 1e6).toFixed(0)} MB; measured ${(measured / 1e6).toFixed(0)} MB (${summaries[0]!.memorySource}) (${(result.plan!.errorRatio * 100).toFixed(1)}%)`,
    `browser: ${env.userAgent}; crossOriginIsolated ${env.crossOriginIsolated}; WebGPU ${env.webgpu ? `${env.webgpu.vendor} ${env.webgpu.architecture}${env.webgpu.isFallbackAdapter ? ' (fallback)' : ''}` : 'none'}`,
    `others' CPU over the whole bench: ${foreignCpu ? `${foreignCpu.foreignCpuSeconds.toFixed(1)} CPU-s in ${foreignCpu.wallSeconds.toFixed(1)} s (${foreignCpu.foreignCores.toFixed(2)} of ${foreignCpu.cores} cores)` : 'unknown (no /proc)'}`,
    ...summaries.map((s) => `${s.runtime}: ${s.notes.join('; ')}`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  if (values.json) process.stdout.write(`${JSON.stringify(flatBrowserJson(result))}\n`);
  return 0;
}
