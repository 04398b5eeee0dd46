// The backend test page: decoders on webgpu (both onnxruntime-web engines) and wasm, driven from
// Playwright through window.localm. Greedy decoding on token ids; no text, no tokenizer.

import { createDecoder, detectCapabilities, detectWebGpu, type Decoder, type DecoderOptions, type ModelFiles } from '../../src/index.js';

async function fetchBytes(url: string): Promise<Uint8Array> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

async function modelFiles(folder: string): Promise<ModelFiles> {
  const [graph, data] = await Promise.all([fetchBytes(`${folder}onnx/model.onnx`), fetchBytes(`${folder}onnx/model.onnx_data`)]);
  return { graph, externalData: [{ path: 'model.onnx_data', data }] };
}

const argmax = (logits: Float32Array): number => logits.reduce((best, v, i, a) => (v > a[best]! ? i : best), 0);

async function greedy(decoder: Decoder, promptIds: number[], steps: number): Promise<number[]> {
  const ids: number[] = [];
  let next = argmax(await decoder.step(promptIds));
  for (let i = 0; i < steps; i++) {
    ids.push(next);
    if (i + 1 < steps) next = argmax(await decoder.step([next]));
  }
  return ids;
}

type Outcome<T> = { ok: true; value: T } | { ok: false; error: { name: string; code?: string; message: string; details?: unknown } };
async function outcome<T>(fn: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await fn() };
  } catch (err) {
    const e = err as { name: string; code?: string; message: string; details?: unknown };
    return { ok: false, error: { name: e.name, message: e.message, ...(e.code ? { code: e.code } : {}), ...(e.details ? { details: JSON.parse(JSON.stringify(e.details)) } : {}) } };
  }
}

const localm = {
  caps: async () => ({ ...detectCapabilities(), gpu: { ...(await detectWebGpu()) }, crossOriginIsolated }),
  /** Greedy ids for each prompt on one decoder, then (prefixReuse) the first prompt again after truncate(). */
  greedy: (folder: string, options: DecoderOptions, prompts: number[][], steps: number) =>
    outcome(async () => {
      const started = performance.now();
      const decoder = await createDecoder(await modelFiles(folder), options);
      const loadMs = performance.now() - started;
      const runs: number[][] = [];
      const t0 = performance.now();
      for (const prompt of prompts) {
        decoder.truncate(0);
        runs.push(await greedy(decoder, prompt, steps));
      }
      const decodeMs = performance.now() - t0;
      // Prefix reuse: keep all but the last prompt token (a GPU cache is cut lazily), recompute from there.
      decoder.truncate(prompts[0]!.length - 1);
      const kept = decoder.cachedTokens;
      const reused = await greedy(decoder, prompts[0]!.slice(kept), steps);
      const info = JSON.parse(JSON.stringify(decoder.info)) as Decoder['info'];
      await decoder.dispose();
      return { info, runs, reused, kept, loadMs, decodeMs };
    }),
  /** Loses the GPU device under a running decoder: the next step's error, then a fresh 'auto' load. */
  loseDevice: (folder: string, prompt: number[]) =>
    outcome(async () => {
      const files = await modelFiles(folder);
      const decoder = await createDecoder(files, { device: 'webgpu' });
      await decoder.step(prompt);
      const devices = (globalThis as { __localmDevices?: { destroy(): void }[] }).__localmDevices ?? [];
      for (const d of devices) d.destroy();
      const failed = await outcome(() => decoder.step([1]));
      const disposed = await outcome(() => decoder.dispose());
      const next = await createDecoder(files, { device: 'auto' });
      const ids = await greedy(next, prompt, 8);
      const info = JSON.parse(JSON.stringify(next.info)) as Decoder['info'];
      await next.dispose();
      return { destroyed: devices.length, failed, disposed, info, ids };
    }),
};

// Records every GPUDevice created in this page so a test can destroy it (a real loss, as the spec has it).
const proto = (globalThis as { GPUAdapter?: { prototype: { requestDevice: (...a: unknown[]) => Promise<unknown> } } }).GPUAdapter?.prototype;
if (proto) {
  const requestDevice = proto.requestDevice;
  proto.requestDevice = async function (this: unknown, ...args: unknown[]) {
    const device = await requestDevice.apply(this, args);
    const g = globalThis as { __localmDevices?: unknown[] };
    (g.__localmDevices ??= []).push(device);
    return device;
  };
}

(window as unknown as { localm: typeof localm }).localm = localm;
