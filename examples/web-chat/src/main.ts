// The page: loads a model into a Web Worker, streams generated text into the page, stops on request.
import type { Engine } from '@localm/core';
import { createWorkerEngine } from '@localm/worker';

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const status = $<HTMLSpanElement>('status');
const progress = $<HTMLProgressElement>('progress');
const output = $<HTMLDivElement>('output');
const generateButton = $<HTMLButtonElement>('generate');
const stopButton = $<HTMLButtonElement>('stop');
let engine: Engine | undefined;
let worker: Worker | undefined;
let controller: AbortController | undefined;
const params = new URLSearchParams(location.search);
const maxTokens = Number(params.get('maxTokens') ?? 200);
const modelChoice = $<HTMLSelectElement>('model-choice');
const modelInput = $<HTMLInputElement>('model');
const deviceSelect = $<HTMLSelectElement>('device');
deviceSelect.value = params.get('device') ?? 'auto';
modelChoice.addEventListener('change', () => {
  // The bundled model's folder, or a URL the user types (its server must send CORS and CORP headers).
  modelInput.readOnly = modelChoice.value !== '';
  modelInput.value = modelChoice.value || 'https://';
  if (!modelInput.readOnly) modelInput.focus();
});

async function load(): Promise<void> {
  await engine?.dispose();
  worker?.terminate();
  generateButton.disabled = true;
  progress.value = 0;
  let updates = 0;
  status.textContent = 'loading…';
  const url = new URL(modelInput.value, location.href).href;
  const requestedDevice = deviceSelect.value as 'auto' | 'webgpu' | 'wasm';
  worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
  try {
    engine = await createWorkerEngine(worker, url, {
      device: requestedDevice,
      onProgress: ({ loadedBytes, totalBytes, file }) => {
        progress.value = totalBytes > 0 ? loadedBytes / totalBytes : 0;
        progress.dataset['updates'] = String(++updates);
        status.textContent = `loading ${file}: ${(loadedBytes / 1e6).toFixed(1)} of ${(totalBytes / 1e6).toFixed(1)} MB`;
      },
    });
  } catch (err) {
    status.textContent = `failed: ${(err as Error).message}`;
    progress.value = 0;
    return;
  }
  progress.value = 1;
  const { device, engine: runtime, skippedDevices } = engine.info;
  status.textContent = `running on ${device} (${runtime})${crossOriginIsolated ? ', isolated' : ''}; skipped: ${skippedDevices.map((s) => `${s.device}: ${s.reason}`).join('; ') || 'none'}`;
  status.dataset['device'] = device;
  generateButton.disabled = false;
}

async function generate(): Promise<void> {
  if (!engine) return;
  controller = new AbortController();
  generateButton.disabled = true;
  stopButton.disabled = false;
  const prompt = $<HTMLInputElement>('prompt').value;
  output.textContent = prompt;
  output.dataset['state'] = 'running';
  try {
    for await (const event of engine.generate(prompt, { maxTokens, signal: controller.signal })) {
      if (event.type === 'text') output.textContent += event.text;
      else {
        output.dataset['tokenIds'] = JSON.stringify(event.tokenIds);
        output.dataset['state'] = event.stopReason;
      }
    }
  } catch (err) {
    output.dataset['state'] = (err as Error).name === 'AbortError' ? 'stopped' : `error: ${(err as Error).message}`;
  } finally {
    generateButton.disabled = false;
    stopButton.disabled = true;
  }
}

$<HTMLButtonElement>('load').addEventListener('click', () => void load());
generateButton.addEventListener('click', () => void generate());
stopButton.addEventListener('click', () => controller?.abort());
void load();
