// Bench results from a browser: one run's raw token times and memory → the same metrics as the Node
// runner (measure.ts), and runs → the same RuntimeSummary / BenchResult. Shared by the page (bench/web)
// and `pnpm bench --browser`; no DOM, no Node, no I/O.

import type { BenchResult, BrowserEnvironment, RuntimeSummary } from '../bench-result.js';
import type { MemoryPlan } from '../planner.js';
import { median, summarize } from '../stats.js';
import { latencyMetrics } from '../token-times.js';

/** What the worker measured in one run. */
export interface BrowserRawRun {
  runtime: 'localm' | 'onnxruntime-web' | 'wllama';
  device: string; // the device the runtime reported ('wasm' | 'webgpu')
  engine: string; // model.info.engine, e.g. 'localm-wasm'
  promptTokens: number;
  loadMs: number; // loadModel call → ready (download or file reads included)
  tokenTimesMs: number[]; // per generated token: ms from the generate call until it was known
  tokenIds: number[];
  wasmMemoryBytes: number; // all WebAssembly.Memory objects the run created, at their largest
  gpuBufferPeakBytes: number; // live GPUBuffer bytes at their highest (createBuffer minus destroy)
  threads: number; // threads that computed: the run's own plus the workers it started (asked-for is in notes)
  modelBytes?: number; // the file this runtime loaded where it is not the ONNX folder's (wllama: the GGUF)
  notes: string[];
}

/** One run's metrics: the Node runner's RunResult fields, plus where the memory figure came from. */
export interface BrowserRunResult {
  runtime: BrowserRawRun['runtime'];
  device: string;
  engine: string;
  loadMs: number;
  ttftMs: number;
  prefillTokensPerSecond: number;
  decodeTokensPerSecond: number;
  interTokenP50Ms: number;
  interTokenP95Ms: number;
  peakRssBytes: number; // see memorySource
  memorySource: string; // 'renderer VmHWM' (CDP + /proc) or 'page: wasm + gpu buffers' (no process view)
  wasmMemoryBytes: number;
  gpuBufferPeakBytes: number;
  generatedTokens: number;
  tokenIds: number[];
  modelBytes?: number;
  notes: string[];
}

/** The Node runner's formulas (measure.ts `metrics`), on times taken in the worker. */
export function browserRunMetrics(raw: BrowserRawRun, peakBytes: number, memorySource: string): BrowserRunResult {
  return {
    runtime: raw.runtime,
    device: raw.device,
    engine: raw.engine,
    loadMs: raw.loadMs,
    ...latencyMetrics(raw.tokenTimesMs, raw.promptTokens),
    peakRssBytes: peakBytes,
    memorySource,
    wasmMemoryBytes: raw.wasmMemoryBytes,
    gpuBufferPeakBytes: raw.gpuBufferPeakBytes,
    generatedTokens: raw.tokenTimesMs.length,
    tokenIds: raw.tokenIds,
    ...(raw.modelBytes === undefined ? {} : { modelBytes: raw.modelBytes }),
    notes: raw.notes,
  };
}

function leadingMatches(a: readonly number[], b: readonly number[]): number {
  let n = 0;
  while (n < a.length && n < b.length && a[n] === b[n]) n++;
  return n;
}

/** Runs of one runtime on one device → a RuntimeSummary (as bench.ts's, with browser memory fields). */
export function summarizeBrowserRuns(runs: readonly BrowserRunResult[], weightBytes: number, oursFirst: readonly number[] | undefined): RuntimeSummary {
  const pick = (f: (r: BrowserRunResult) => number): number[] => runs.map(f);
  const first = runs[0]!;
  return {
    runtime: first.runtime,
    device: first.device,
    runs: runs.length,
    loadMs: summarize(pick((r) => r.loadMs)),
    ttftMs: summarize(pick((r) => r.ttftMs)),
    prefillTokensPerSecond: summarize(pick((r) => r.prefillTokensPerSecond)),
    decodeTokensPerSecond: summarize(pick((r) => r.decodeTokensPerSecond)),
    interTokenP50Ms: median(pick((r) => r.interTokenP50Ms)),
    interTokenP95Ms: median(pick((r) => r.interTokenP95Ms)),
    peakRssBytes: summarize(pick((r) => r.peakRssBytes)),
    weightBytes: first.modelBytes ?? weightBytes,
    foreignCores: 0, // a browser cannot see other processes' CPU; `pnpm bench --browser` fills it in
    isNoisy: false,
    idsMatchingLocalm: oursFirst ? leadingMatches(first.tokenIds, oursFirst) : 0,
    generatedTokens: first.generatedTokens,
    notes: [...new Set([`engine ${first.engine}`, `memory: ${first.memorySource}`, ...runs.flatMap((r) => r.notes)])],
    wasmMemoryBytes: Math.max(...pick((r) => r.wasmMemoryBytes)),
    gpuBufferPeakBytes: Math.max(...pick((r) => r.gpuBufferPeakBytes)),
    memorySource: first.memorySource,
  };
}

export interface BrowserBenchInput {
  modelDir: string; // URL, 'picked files (name)' or 'synth:preset/dtype/seed'
  modelName: string;
  device: string;
  promptTokens: number;
  genTokens: number;
  threads: number;
  runtimes: RuntimeSummary[]; // localm first
  plan: MemoryPlan | undefined;
  environment: BrowserEnvironment;
}

/** A BenchResult that `pnpm bench report` renders like the Node runner's. */
export function browserBenchResult(input: BrowserBenchInput): BenchResult {
  const ours = input.runtimes[0]!;
  const measured = ours.peakRssBytes.median;
  return {
    modelDir: input.modelDir,
    modelName: input.modelName,
    device: input.device,
    promptTokens: input.promptTokens,
    genTokens: input.genTokens,
    runs: ours.runs,
    threads: input.threads,
    runtimes: input.runtimes,
    ...(input.plan ? { plan: { ...input.plan, measuredPeakRssBytes: measured, errorRatio: input.plan.totalBytes / measured - 1 } } : {}),
    foreignCpu: undefined,
    environment: input.environment,
  };
}

export { flatJson as flatBrowserJson } from '../bench-result.js';

export { tokenTimes } from '../token-times.js';
