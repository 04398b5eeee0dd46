// The metrics of one run, computed from an adapter's raw token times. Shared by run-once.ts (which
// computes them in the measured process) and bench.ts (which summarizes them). No I/O.

import type { ForeignCpu } from './proc-cpu.js';
import type { RawRun, RunRequest } from './runtimes/runtime.js';
import { latencyMetrics } from './token-times.js';

export const RUNTIME_NAMES = ['localm', 'localm-cpu', 'onnxruntime-web', 'onnxruntime-node', 'transformers.js', 'llama.cpp'] as const;
export type RuntimeName = (typeof RUNTIME_NAMES)[number];

export interface RunSpec extends RunRequest {
  runtime: RuntimeName;
}

/** The per-run metrics; bench.ts takes medians over runs. */
export interface RunResult {
  runtime: RuntimeName;
  loadMs: number;
  ttftMs: number; // generate call → first token known (prefill plus one sampling)
  prefillTokensPerSecond: number; // prompt tokens / TTFT
  decodeTokensPerSecond: number; // (tokens - 1) / (last token time - first token time)
  interTokenP50Ms: number;
  interTokenP95Ms: number;
  peakRssBytes: number; // the process's high-water mark (getrusage), load included
  generatedTokens: number;
  tokenIds: number[];
  foreignCpu: ForeignCpu | undefined; // others' CPU during load + generation
  notes: string[];
}

export function metrics(spec: RunSpec, raw: RawRun, foreignCpu: ForeignCpu | undefined): RunResult {
  return {
    runtime: spec.runtime,
    loadMs: raw.loadMs,
    ...latencyMetrics(raw.tokenTimesMs, spec.prompt.length),
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
    generatedTokens: raw.tokenTimesMs.length,
    tokenIds: raw.tokenIds,
    foreignCpu,
    notes: raw.notes,
  };
}

