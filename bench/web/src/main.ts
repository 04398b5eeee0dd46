// The bench page: detects what this device offers, checks with the planner that the chosen model fits,
// runs each measurement in a fresh Web Worker, and shows the table, charts and downloads. URL parameters
// (model or preset + dtype, name, devices, runtimes, promptTokens, genTokens, runs, firstRun, threads, budgetMb, autorun,
// simulate) preset the form, so `pnpm bench --browser` and the tests drive the same page users see.
import type { BenchResult, BrowserEnvironment } from '../../src/bench-result.js';
import { browserBenchResult, browserRunMetrics, summarizeBrowserRuns, type BrowserRawRun, type BrowserRunResult } from '../../src/browser/browser-result.js';
import { benchPrompt } from '../../src/prompt.js';
import { detectEnvironment } from './capabilities.js';
import { checkFit } from './fit-check.js';
import { filesInput, specialIds, urlInput, type ModelInput } from './model-input.js';
import type { BenchDevice, BrowserRuntime, RunRequest, SynthRequest, WorkerMessage } from './protocol.js';
import { chartSvg, download, environmentText, profileFile, resultFile, tableHtml } from './results-view.js';
import { opfsWeightBytes, presetInput, SYNTH_SEED, synthPresetNames } from './synth-input.js';

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const status = $<HTMLParagraphElement>('status');
const progress = $<HTMLProgressElement>('progress');
const runButton = $<HTMLButtonElement>('run');
const stopButton = $<HTMLButtonElement>('stop');
const params = new URLSearchParams(location.search);

type PageState = 'idle' | 'running' | 'done' | 'refused' | 'failed' | 'stopped';
const setState = (state: PageState, text: string): void => {
  document.body.dataset['state'] = state;
  status.textContent = text;
};

/** What automation reads back (`pnpm bench --browser`, tests): raw runs and results of this page. */
const exposed = { environment: undefined as BrowserEnvironment | undefined, rawRuns: [] as BrowserRawRun[], results: [] as BenchResult[] };
(globalThis as { localmBench?: typeof exposed }).localmBench = exposed;

let environment: BrowserEnvironment;
let currentWorker: Worker | undefined;
let stopCurrent: ((reason: Error) => void) | undefined;
let lastBudget: number | undefined;

class RunFailure extends Error {}

function applyParams(): void {
  const set = (id: string, key: string): void => {
    const v = params.get(key);
    if (v !== null) $<HTMLInputElement>(id).value = v;
  };
  set('model-url', 'model');
  set('prompt-tokens', 'promptTokens');
  set('gen-tokens', 'genTokens');
  set('runs', 'runs');
  set('threads', 'threads');
  set('budget-mb', 'budgetMb');
  set('preset', 'preset');
  set('dtype', 'dtype');
  if (params.has('model')) $<HTMLInputElement>('source-url').checked = true;
  if (params.has('preset')) $<HTMLInputElement>('source-preset').checked = true;
  const devices = params.get('devices')?.split(',');
  if (devices) for (const d of ['wasm', 'webgpu']) $<HTMLInputElement>(`device-${d}`).checked = devices.includes(d);
  if (params.get('peers') === '1') $<HTMLInputElement>('peer-ort').checked = true;
  set('gguf-url', 'gguf');
  if (params.has('gguf')) $<HTMLInputElement>('peer-wllama').checked = true;
  if (params.get('simulate') === 'allocation-failure') {
    $<HTMLInputElement>('simulate-oom').checked = true;
    $('simulate-label').hidden = false;
  }
}

async function chosenModel(): Promise<ModelInput & { needsSynth?: boolean }> {
  const kind = (document.querySelector('input[name=source]:checked') as HTMLInputElement).value;
  if (kind === 'url') return urlInput($<HTMLInputElement>('model-url').value);
  if (kind === 'folder') {
    const files = $<HTMLInputElement>('model-folder').files;
    if (!files || files.length === 0) throw new RunFailure('pick a model folder first');
    return filesInput(files);
  }
  return presetInput($<HTMLSelectElement>('preset').value, $<HTMLSelectElement>('dtype').value);
}

/** One job in a fresh worker; rejects with the worker's error, or the stop button's. */
function inWorker<T>(request: RunRequest | SynthRequest, label: string, onDone: (m: Extract<WorkerMessage, { type: 'result' | 'synth-done' }>) => Promise<T>): Promise<T> {
  const worker = new Worker(new URL('./bench-worker.ts', import.meta.url), { type: 'module' });
  currentWorker = worker;
  return new Promise<T>((resolve, reject) => {
    stopCurrent = reject;
    worker.addEventListener('message', (event: MessageEvent<WorkerMessage>) => {
      const m = event.data;
      if (m.type === 'progress') {
        progress.value = m.fraction;
        status.textContent = `${label}: ${m.text}`;
      } else if (m.type === 'error') {
        const what = m.isAllocationFailure
          ? `out of memory on ${label}: ${m.message}. The run was stopped and its memory freed; try a smaller model, dtype or context.`
          : m.isDeviceLost
            ? `the GPU device was lost (${label}): ${m.message}. The run was stopped; reload the page if WebGPU stays unavailable.`
            : `${label} failed${m.code ? ` [${m.code}]` : ''}: ${m.message}`;
        reject(new RunFailure(what));
      } else {
        onDone(m).then(resolve, reject);
      }
    });
    // A worker that dies (the renderer killed it, an uncaught error in its start-up) never answers.
    worker.addEventListener('error', (event) => reject(new RunFailure(`the bench worker crashed (${label}): ${event.message || 'no message (often out of memory)'}`)));
    worker.postMessage(request);
  }).finally(() => {
    worker.terminate();
    currentWorker = undefined;
    stopCurrent = undefined;
  });
}

function runInWorker(request: RunRequest, simulate: boolean): Promise<{ raw: BrowserRawRun; peakBytes: number; memorySource: string }> {
  return inWorker({ ...request, ...(simulate ? { simulate: 'allocation-failure' as const } : {}) }, request.device, async (m) => {
    if (m.type !== 'result') throw new RunFailure(`unexpected ${m.type} from the bench worker`);
    return pageMemory(m.run);
  });
}

/**
 * The page's own memory figure, while the worker still holds the model: the agent's memory from
 * performance.measureUserAgentSpecificMemory where it exists (Chromium, cross-origin isolated), else
 * the WASM memories plus GPU buffers the worker counted. A process's real peak is only visible from
 * outside (`pnpm bench --browser` reads the renderer's VmHWM).
 */
async function pageMemory(raw: BrowserRawRun): Promise<{ raw: BrowserRawRun; peakBytes: number; memorySource: string }> {
  const counted = raw.wasmMemoryBytes + raw.gpuBufferPeakBytes;
  const measure = (performance as { measureUserAgentSpecificMemory?: () => Promise<{ bytes: number }> }).measureUserAgentSpecificMemory;
  if (measure && crossOriginIsolated) {
    const timeout = new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 5000));
    const agent = await Promise.race([measure.call(performance).catch(() => undefined), timeout]);
    if (agent) return { raw, peakBytes: Math.max(counted, agent.bytes + raw.gpuBufferPeakBytes), memorySource: 'page: max(wasm + gpu buffers, measureUserAgentSpecificMemory + gpu buffers)' };
  }
  return { raw, peakBytes: counted, memorySource: 'page: wasm memory + gpu buffers' };
}

function positive(id: string, name: string): number {
  const n = Number($<HTMLInputElement>(id).value);
  if (!Number.isInteger(n) || n < 1) throw new RunFailure(`${name} must be a positive whole number`);
  return n;
}

async function runBench(): Promise<void> {
  runButton.disabled = true;
  stopButton.disabled = false;
  progress.value = 0;
  setState('running', 'preparing…');
  try {
    const promptTokens = positive('prompt-tokens', 'prompt tokens');
    const genTokens = positive('gen-tokens', 'generated tokens');
    const runs = positive('runs', 'runs');
    const threads = positive('threads', 'threads');
    const firstRun = Number(params.get('firstRun') ?? 0);
    const devices = (['wasm', 'webgpu'] as BenchDevice[]).filter((d) => $<HTMLInputElement>(`device-${d}`).checked);
    if (devices.length === 0) throw new RunFailure('pick at least one device');
    const runtimes: BrowserRuntime[] = params.get('runtimes')?.split(',') as BrowserRuntime[] | undefined ?? [
      'localm',
      ...($<HTMLInputElement>('peer-ort').checked ? ['onnxruntime-web' as const] : []),
      ...($<HTMLInputElement>('peer-wllama').checked ? ['wllama' as const] : []),
    ];
    const ggufUrl = $<HTMLInputElement>('gguf-url').value.trim();
    if (runtimes.includes('wllama') && !ggufUrl) throw new RunFailure('wllama runs a GGUF: give its URL');
    // onnxruntime-web decodes a 1B model at well under a token per second: it generates fewer tokens (bench.ts SLOW_PEERS).
    const slowGenTokens = Math.max(2, Math.min(genTokens, Number(params.get('slowPeerGenTokens') ?? genTokens)));
    const budgetMb = Number($<HTMLInputElement>('budget-mb').value);
    const budgetBytes = budgetMb > 0 ? budgetMb * 1e6 : environment.deviceMemoryGiB !== undefined ? environment.deviceMemoryGiB * 2 ** 30 : undefined;
    const budgetSource = budgetMb > 0 ? 'set on this page' : 'navigator.deviceMemory';
    lastBudget = budgetBytes;
    const model = await chosenModel();
    model.name = params.get('name') ?? model.name; // automation serves every folder as /model/
    const freeStorage = environment.storageQuotaBytes === undefined ? undefined : environment.storageQuotaBytes - (environment.storageUsageBytes ?? 0);
    const fits = devices.map((device) => ({ device, fit: checkFit(model.config, device, { promptTokens, genTokens, budgetBytes, budgetSource, storeBytes: model.storeBytes, freeStorageBytes: freeStorage }) }));
    const refused = fits.find((f) => f.fit.refusal);
    if (refused) {
      setState('refused', `Refused, ${model.name} on ${refused.device}: ${refused.fit.refusal}`);
      return;
    }
    if (model.needsSynth && model.source.kind === 'opfs') {
      const dtype = $<HTMLSelectElement>('dtype').value as SynthRequest['dtype'];
      const preset = $<HTMLSelectElement>('preset').value;
      await inWorker({ type: 'synth', preset, dtype, seed: SYNTH_SEED, dir: model.source.dir }, `generating ${preset}`, async () => undefined);
    }
    if (model.source.kind === 'opfs') model.weightBytes = await opfsWeightBytes(model.source.dir);
    const facts = { vocabSize: model.config.vocab_size, specialIds: specialIds(model.config) };
    for (const { device, fit } of fits) {
      const byRuntime = new Map<BrowserRuntime, BrowserRunResult[]>(runtimes.map((r) => [r, []]));
      for (let run = firstRun; run < firstRun + runs; run++) {
        const prompt = benchPrompt(facts, promptTokens, run);
        for (const runtime of runtimes) {
          status.textContent = `${runtime} on ${device}, run ${run - firstRun + 1} of ${runs}: starting (${fit.note})`;
          const { raw, peakBytes, memorySource } = await runInWorker(
            { type: 'run', source: model.source, runtime, device, threads, prompt, genTokens: runtime === 'onnxruntime-web' ? slowGenTokens : genTokens, specialIds: facts.specialIds, ...(runtime === 'wllama' ? { ggufUrl: new URL(ggufUrl, location.href).href } : {}) },
            $<HTMLInputElement>('simulate-oom').checked,
          );
          exposed.rawRuns.push(raw);
          byRuntime.get(runtime)!.push(browserRunMetrics(raw, peakBytes, memorySource));
        }
      }
      const oursFirst = byRuntime.get(runtimes[0]!)![0]?.tokenIds;
      const summaries = runtimes.map((r) => summarizeBrowserRuns(byRuntime.get(r)!, model.weightBytes, oursFirst));
      const result = browserBenchResult({ modelDir: model.location, modelName: model.name, device, promptTokens, genTokens, threads, runtimes: summaries, plan: fit.plan, environment });
      exposed.results.push(result);
      render();
    }
    progress.value = 1;
    setState('done', `done: ${exposed.results.length} result(s) below`);
  } catch (err) {
    if (err instanceof DOMException && err.name === 'AbortError') setState('stopped', 'stopped: the worker was ended and its memory freed');
    else setState('failed', err instanceof RunFailure ? err.message : `failed: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
  } finally {
    runButton.disabled = false;
    stopButton.disabled = true;
  }
}

function render(): void {
  const results = exposed.results;
  $('tables').innerHTML = results.map((r) => `<h3>${r.modelName} on ${r.device}</h3>${tableHtml(r)}<p class="note">${r.plan ? `planner ${(r.plan.totalBytes / 1e6).toFixed(0)} MB, measured ${(r.plan.measuredPeakRssBytes / 1e6).toFixed(0)} MB (${r.runtimes[0]!.memorySource}); ` : ''}${r.runtimes.map((s) => `${s.runtime}: ${s.notes.join('; ')}`).join(' · ')}</p>`).join('');
  $('chart').innerHTML = chartSvg(results);
  const links = $('downloads');
  links.replaceChildren(
    ...results.map((r) => {
      const b = Object.assign(document.createElement('button'), { textContent: `JSON: ${r.modelName} ${r.device}` });
      b.className = 'export-json';
      b.addEventListener('click', () => download(resultFile(r)));
      return b;
    }),
  );
  const profile = Object.assign(document.createElement('button'), { id: 'export-profile', textContent: 'device profile (limits file)' });
  profile.addEventListener('click', () => download(profileFile(results, environment, lastBudget)));
  links.append(profile);
  $('results').hidden = results.length === 0;
}

stopButton.addEventListener('click', () => {
  currentWorker?.terminate();
  stopCurrent?.(new DOMException('stopped by the user', 'AbortError'));
});
runButton.addEventListener('click', () => void runBench());

const presets = synthPresetNames();
const presetSelect = $<HTMLSelectElement>('preset');
presetSelect.replaceChildren(...presets.map((p) => Object.assign(document.createElement('option'), { value: p, textContent: p, selected: p === 'qwen2.5-0.5b' })));
applyParams();
environment = await detectEnvironment();
exposed.environment = environment;
$('environment').textContent = environmentText(environment);
// The backend's own default where nothing was asked: threads in a cross-origin-isolated worker, at most 4.
if (!params.has('threads')) $<HTMLInputElement>('threads').value = String(environment.crossOriginIsolated ? Math.min(4, environment.hardwareConcurrency) : 1);
if (!environment.webgpu) $<HTMLInputElement>('device-webgpu').checked = false;
setState('idle', 'ready');
if (params.get('autorun') === '1') void runBench();
