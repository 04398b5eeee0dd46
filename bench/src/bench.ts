// `pnpm bench`: loads a model folder, generates from a token-id prompt, and reports load time, TTFT,
// prefill/decode speed, inter-token latency, peak RSS and other processes' CPU, median over runs; with
// --peers the same weights in onnxruntime-node, transformers.js and llama.cpp, in the same run.
//
// pnpm bench --model DIR [--device cpu|wasm] [--prompt-tokens 128] [--gen-tokens 64] [--runs 3]
//            [--threads 2] [--peers] [--gguf FILE] [--limits FILE [--profile NAME]] [--report PREFIX] [--json]
// pnpm bench --browser --model DIR [--device wasm|webgpu] ... (headless Chromium, see src/browser/browser-bench.ts)
// pnpm bench report --out PREFIX RESULT.json...    (Markdown + SVG from saved --json lines)

import { execFile } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { flatJson, NOISY_CORES, type BenchResult, type RuntimeSummary } from './bench-result.js';
import { checkLimits, readLimits } from './limits.js';
import type { RunResult, RunSpec, RuntimeName } from './measure.js';
import { planMemory, WASM32_MAX_BYTES, type PlanDevice, type PlannerConfig } from './planner.js';
import { startForeignCpu } from './proc-cpu.js';
import { benchPrompt, readModelFacts } from './prompt.js';
import { markdownReport, markdownTable, spliceReadme, svgChart } from './report.js';
import { median, summarize } from './stats.js';
import { BrowserUsageError, runBrowserBench } from './browser/browser-bench.js';
import type { BenchDevice } from './runtimes/runtime.js';

const RUN_ONCE = fileURLToPath(new URL('./run-once.js', import.meta.url));
const PEERS: RuntimeName[] = ['onnxruntime-node', 'transformers.js', 'llama.cpp'];
// With --device wasm: our own cpu device and onnxruntime-web's WASM kernels join the table.
const WASM_PEERS: RuntimeName[] = ['localm-cpu', 'onnxruntime-web', ...PEERS];
// Peers that decode a 1B model at well under one token per second generate only this many tokens.
const SLOW_PEERS: ReadonlySet<RuntimeName> = new Set(['onnxruntime-web']);

class UsageError extends Error {}

function runOnce(spec: RunSpec): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    execFile(process.execPath, [RUN_ONCE, JSON.stringify(spec)], { maxBuffer: 1 << 26 }, (err, stdout, stderr) => {
      const last = stdout.trim().split('\n').pop() ?? '';
      if (err || !last.startsWith('{')) {
        reject(new Error(`${spec.runtime} failed: ${stderr.trim().split('\n').slice(-5).join(' | ') || String(err)}`));
        return;
      }
      resolvePromise(JSON.parse(last) as RunResult);
    });
  });
}

function leadingMatches(a: readonly number[], b: readonly number[]): number {
  let n = 0;
  while (n < a.length && n < b.length && a[n] === b[n]) n++;
  return n;
}

function summarizeRuntime(runtime: RuntimeName, device: string, runs: RunResult[], weightBytes: number, oursFirst: number[] | undefined): RuntimeSummary {
  const pick = (f: (r: RunResult) => number): number[] => runs.map(f);
  const foreignCores = Math.max(0, ...runs.map((r) => r.foreignCpu?.foreignCores ?? 0));
  return {
    runtime,
    device,
    runs: runs.length,
    loadMs: summarize(pick((r) => r.loadMs)),
    ttftMs: summarize(pick((r) => r.ttftMs)),
    prefillTokensPerSecond: summarize(pick((r) => r.prefillTokensPerSecond)),
    decodeTokensPerSecond: summarize(pick((r) => r.decodeTokensPerSecond)),
    interTokenP50Ms: median(pick((r) => r.interTokenP50Ms)),
    interTokenP95Ms: median(pick((r) => r.interTokenP95Ms)),
    peakRssBytes: summarize(pick((r) => r.peakRssBytes)),
    weightBytes,
    foreignCores,
    isNoisy: foreignCores > NOISY_CORES,
    idsMatchingLocalm: oursFirst ? leadingMatches(runs[0]?.tokenIds ?? [], oursFirst) : 0,
    generatedTokens: runs[0]?.generatedTokens ?? 0,
    notes: [...new Set(runs.flatMap((r) => r.notes))],
  };
}

function fileBytes(...paths: string[]): number {
  return paths.reduce((sum, p) => sum + (existsSync(p) ? statSync(p).size : 0), 0);
}

async function runBench(args: string[]): Promise<number> {
  if (args.includes('--browser')) return runBrowserBench(args.filter((a) => a !== '--browser')); // headless Chromium: src/browser/
  const { values } = parseArgs({
    args,
    options: {
      model: { type: 'string' },
      device: { type: 'string', default: 'cpu' },
      'prompt-tokens': { type: 'string', default: '128' },
      'gen-tokens': { type: 'string', default: '64' },
      runs: { type: 'string', default: '3' },
      threads: { type: 'string', default: '2' },
      peers: { type: 'boolean', default: false },
      'slow-peer-gen-tokens': { type: 'string', default: '8' },
      gguf: { type: 'string' },
      limits: { type: 'string' },
      profile: { type: 'string' },
      report: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  if (!values.model) throw new UsageError('--model DIR is required');
  const device = values.device as BenchDevice;
  if (device !== 'cpu' && device !== 'wasm') throw new UsageError('--device must be cpu or wasm (webgpu and --browser: not yet)');
  const count = (name: 'prompt-tokens' | 'gen-tokens' | 'runs' | 'threads' | 'slow-peer-gen-tokens'): number => {
    const n = Number(values[name]);
    if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${name} must be a positive integer`);
    return n;
  };
  const promptTokens = count('prompt-tokens');
  const genTokens = count('gen-tokens');
  const runs = count('runs');
  const threads = count('threads');
  const slowGenTokens = Math.max(2, Math.min(genTokens, count('slow-peer-gen-tokens')));
  const modelDir = resolve(values.model);
  const ggufPath = values.gguf ? resolve(values.gguf) : existsSync(`${modelDir}.gguf`) ? `${modelDir}.gguf` : undefined;
  const facts = readModelFacts(modelDir);
  const peers = device === 'wasm' ? WASM_PEERS : PEERS;
  const runtimes: RuntimeName[] = ['localm', ...(values.peers ? peers.filter((p) => p !== 'llama.cpp' || ggufPath) : [])];
  if (values.peers && !ggufPath) process.stderr.write('bench: no GGUF (--gguf FILE or DIR.gguf): llama.cpp skipped\n');

  const stopCpu = startForeignCpu();
  const results = new Map<RuntimeName, RunResult[]>(runtimes.map((r) => [r, []]));
  // Runs interleave runtimes so that a burst of load from other tenants spreads over all of them.
  for (let run = 0; run < runs; run++) {
    const prompt = benchPrompt(facts, promptTokens, run);
    for (const runtime of runtimes) {
      const n = SLOW_PEERS.has(runtime) ? slowGenTokens : genTokens;
      const spec: RunSpec = { runtime, modelDir, device, threads, prompt, genTokens: n, specialIds: facts.specialIds, ...(ggufPath ? { ggufPath } : {}) };
      const r = await runOnce(spec);
      results.get(runtime)!.push(r);
      process.stderr.write(
        `run ${run + 1}/${runs} ${runtime}: load ${r.loadMs.toFixed(0)} ms, ttft ${r.ttftMs.toFixed(0)} ms, decode ${r.decodeTokensPerSecond.toFixed(2)} tok/s, ` +
          `peak ${(r.peakRssBytes / 1e6).toFixed(0)} MB, others ${(r.foreignCpu?.foreignCores ?? NaN).toFixed(2)} cores\n`,
      );
    }
  }
  const foreignCpu = stopCpu();

  const onnxBytes = fileBytes(join(modelDir, 'onnx', 'model.onnx'), join(modelDir, 'onnx', 'model.onnx_data'));
  const oursFirst = results.get('localm')![0]?.tokenIds;
  const summaries = runtimes.map((runtime) =>
    summarizeRuntime(runtime, runtime === 'localm' ? device : runtime === 'localm-cpu' ? 'cpu' : runtime === 'onnxruntime-web' ? 'wasm' : 'native', results.get(runtime)!, runtime === 'llama.cpp' ? fileBytes(ggufPath ?? '') : onnxBytes, oursFirst),
  );
  const ours = summaries[0]!;
  const config = JSON.parse(readFileSync(join(modelDir, 'config.json'), 'utf8')) as PlannerConfig;
  const predicted = planMemory(config, device as PlanDevice, { promptTokens, contextTokens: promptTokens + genTokens });
  if (device === 'wasm' && predicted.reservedBytes > WASM32_MAX_BYTES) {
    process.stderr.write(`bench: the planner expects ${(predicted.reservedBytes / 2 ** 30).toFixed(2)} GiB of wasm memory, over wasm32's 4 GiB\n`);
  }
  const measuredPeak = ours.peakRssBytes.median;
  const result: BenchResult = {
    modelDir,
    modelName: basename(modelDir),
    device,
    promptTokens,
    genTokens,
    runs,
    threads,
    runtimes: summaries,
    plan: { ...predicted, measuredPeakRssBytes: measuredPeak, errorRatio: predicted.totalBytes / measuredPeak - 1 },
    foreignCpu,
  };
  let exitCode = 0;
  if (values.limits) {
    const { name, limits } = readLimits(values.limits, values.profile);
    const failed = checkLimits(limits, { peakRssBytes: measuredPeak, ttftMs: ours.ttftMs.median, decodeTokensPerSecond: ours.decodeTokensPerSecond.median });
    result.limits = { profile: name, failed };
    if (failed.length > 0) exitCode = 1;
  }

  const table = markdownTable(result);
  const plan = result.plan!;
  const lines = [
    `model ${result.modelName}, ${promptTokens}-token prompt, ${genTokens} generated, ${runs} runs, ${threads} threads; medians, ±half the range`,
    table,
    `planner (${device}): predicted ${(plan.totalBytes / 1e6).toFixed(0)} MB = weights ${(plan.residentWeightBytes / 1e6).toFixed(0)} (file: ${(plan.weightBytes / 1e6).toFixed(0)}) + KV ${(plan.kvCacheBytes / 1e6).toFixed(0)} + activations ${(plan.activationBytes / 1e6).toFixed(0)} + runtime ${(plan.runtimeBytes / 1e6).toFixed(0)}; measured ${(measuredPeak / 1e6).toFixed(0)} MB (${(plan.errorRatio * 100).toFixed(1)}%)`,
    `others' CPU over the whole bench: ${foreignCpu ? `${foreignCpu.foreignCpuSeconds.toFixed(1)} CPU-s in ${foreignCpu.wallSeconds.toFixed(1)} s (${foreignCpu.foreignCores.toFixed(2)} of ${foreignCpu.cores} cores)` : 'unknown (no /proc)'}`,
    ...summaries.map((s) => `${s.runtime}: ${s.notes.join('; ')}`),
  ];
  if (result.limits) {
    lines.push(result.limits.failed.length === 0 ? `limits '${result.limits.profile}': all hold` : `limits '${result.limits.profile}' FAILED: ${result.limits.failed.join('; ')}`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  if (values.report) {
    writeFileSync(`${values.report}.md`, `${lines.join('\n\n')}\n`);
    writeFileSync(`${values.report}.svg`, svgChart([result]));
  }
  if (values.json) process.stdout.write(`${JSON.stringify(flatJson(result))}\n`);
  return exitCode;
}

function runReport(args: string[]): number {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { out: { type: 'string' }, readme: { type: 'string' } } });
  if (!values.out || positionals.length === 0) throw new UsageError('report needs --out PREFIX and RESULT.json files [--readme README.md]');
  const results = positionals.map((p) => {
    const last = readFileSync(p, 'utf8').trim().split('\n').pop() ?? '';
    return JSON.parse(last) as BenchResult;
  });
  writeFileSync(`${values.out}.md`, markdownReport(results, `${basename(values.out)}.svg`));
  writeFileSync(`${values.out}.svg`, svgChart(results));
  process.stdout.write(`wrote ${values.out}.md and ${values.out}.svg\n`);
  if (values.readme) {
    const chart = relative(dirname(resolve(values.readme)), resolve(`${values.out}.svg`));
    writeFileSync(values.readme, spliceReadme(readFileSync(values.readme, 'utf8'), markdownReport(results, chart)));
    process.stdout.write(`updated the report section of ${values.readme}\n`);
  }
  return 0;
}

const argv = process.argv.slice(2);
(argv[0] === 'report' ? Promise.resolve(runReport(argv.slice(1))) : runBench(argv)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = err instanceof UsageError || err instanceof BrowserUsageError ? 2 : 1;
  },
);
