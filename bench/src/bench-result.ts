// The shape of a bench result: what `--json` prints as its last line and what the report renders.

import type { ForeignCpu } from './proc-cpu.js';
import type { MemoryPlan } from './planner.js';
import type { RuntimeName } from './measure.js';
import type { Summary } from './stats.js';

export interface RuntimeSummary {
  runtime: RuntimeName | 'onnxruntime-web' | 'wllama'; // the last two: browser peers (bench/web)
  device: string; // 'cpu' | 'wasm' for localm; 'native' for peers
  runs: number;
  loadMs: Summary;
  ttftMs: Summary;
  prefillTokensPerSecond: Summary;
  decodeTokensPerSecond: Summary;
  interTokenP50Ms: number; // median over runs of each run's p50
  interTokenP95Ms: number;
  peakRssBytes: Summary;
  weightBytes: number; // the file(s) this runtime loaded: onnx/model.onnx_data or the GGUF
  foreignCores: number; // others' CPU during this runtime's runs, cores on average (max over runs)
  isNoisy: boolean; // foreignCores above NOISY_CORES: treat this row's speed with care
  idsMatchingLocalm: number; // leading generated ids equal to localm's in run 1
  generatedTokens?: number; // per run, where it is fewer than the bench's genTokens (slow peers)
  notes: string[];
  // Browser runs (bench/web, `pnpm bench --browser`) only:
  wasmMemoryBytes?: number; // WebAssembly memories the run created, at their largest (inside peakRssBytes where that is a process figure)
  gpuBufferPeakBytes?: number; // live GPUBuffer bytes at their highest (createBuffer minus destroy)
  memorySource?: string; // what peakRssBytes is: 'renderer VmHWM', or the page's own estimate where no process view exists
}

/** Where a browser result was measured: what the page could detect. */
export interface BrowserEnvironment {
  userAgent: string;
  platform: string; // navigator.userAgentData.platform or navigator.platform
  hardwareConcurrency: number;
  deviceMemoryGiB: number | undefined; // navigator.deviceMemory: rounded, capped at 8 by Chromium; absent in Firefox/Safari
  crossOriginIsolated: boolean; // SharedArrayBuffer, so WASM threads
  storageQuotaBytes: number | undefined;
  storageUsageBytes: number | undefined;
  webgpu: { vendor: string; architecture: string; description: string; isFallbackAdapter: boolean; shaderF16: boolean; maxBufferSize: number; maxStorageBufferBindingSize: number } | undefined;
  webgpuSkipReason?: string;
}

export interface BenchResult {
  modelDir: string;
  modelName: string;
  device: string;
  promptTokens: number;
  genTokens: number;
  runs: number;
  threads: number;
  runtimes: RuntimeSummary[];
  plan?: MemoryPlan & { measuredPeakRssBytes: number; errorRatio: number }; // predicted vs measured, localm
  limits?: { profile: string; failed: string[] };
  foreignCpu: ForeignCpu | undefined; // the whole bench
  environment?: BrowserEnvironment; // browser runs only
}

export const NOISY_CORES = 0.25;

/**
 * The --json line: localm's medians at the top level (the field names), the whole result beside
 * them. Browser-only fields are undefined for Node runs, so JSON.stringify leaves them out there.
 */
export function flatJson(result: BenchResult): Record<string, unknown> {
  const ours = result.runtimes[0]!;
  return {
    loadMs: ours.loadMs.median,
    ttftMs: ours.ttftMs.median,
    prefillTokensPerSecond: ours.prefillTokensPerSecond.median,
    decodeTokensPerSecond: ours.decodeTokensPerSecond.median,
    interTokenP50Ms: ours.interTokenP50Ms,
    interTokenP95Ms: ours.interTokenP95Ms,
    peakRssBytes: ours.peakRssBytes.median,
    weightBytes: ours.weightBytes,
    wasmMemoryBytes: ours.wasmMemoryBytes,
    gpuBufferPeakBytes: ours.gpuBufferPeakBytes,
    foreignCpuCores: result.foreignCpu?.foreignCores,
    ...result,
  };
}
