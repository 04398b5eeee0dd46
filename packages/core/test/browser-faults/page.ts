// The fault test page (faults.webgpu.test.ts): abort and dispose() on webgpu in Chromium, driven from
// Playwright through window.localm. Every function returns plain data: ids, error names and codes,
// and the backend's count of open runtime instances.

import { createDecoder, openRuntimeCount, type DecoderOptions } from '@localm/backend';
import { loadModel, type GenerationEvent, type LoadModelOptions, type Model } from '../../src/index.js';

type Outcome<T> = { ok: true; value: T } | { ok: false; error: { name: string; code?: string; message: string } };
async function outcome<T>(run: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await run() };
  } catch (err) {
    const e = err as { name?: string; code?: string; message?: string };
    return { ok: false, error: { name: String(e?.name), ...(e?.code ? { code: e.code } : {}), message: String(e?.message ?? err) } };
  }
}

const NAMES = ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'onnx/model.onnx', 'onnx/model.onnx_data'];

/** The model folder as File objects; reading `onnx/model.onnx_data` (inside session creation) calls `onRead` first. */
async function pickedFolder(folder: string, onRead: () => void): Promise<File[]> {
  return Promise.all(
    NAMES.map(async (name) => {
      const file = new File([await (await fetch(`${folder}${name}`)).arrayBuffer()], name);
      if (name !== 'onnx/model.onnx_data') return file;
      return Object.assign(file, {
        arrayBuffer: async () => {
          onRead();
          return File.prototype.arrayBuffer.call(file);
        },
      });
    }),
  );
}

async function done(events: AsyncIterable<GenerationEvent>): Promise<Extract<GenerationEvent, { type: 'done' }>> {
  for await (const e of events) if (e.type === 'done') return e;
  throw new Error('no done event');
}

/** Resolves in a later task, after what the page has queued. */
const nextTask = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

const argmax = (logits: Float32Array): number => logits.reduce((best, v, i, a) => (v > a[best]! ? i : best), 0);

type Op = { step: number[] } | { truncate: number } | { greedy: number };

const localm = {
  /** Runs steps, truncations and greedy continuations on one decoder; returns each greedy run's ids and the cache length. */
  script: (folder: string, options: DecoderOptions, ops: Op[]) =>
    outcome(async () => {
      const bytes = async (name: string): Promise<Uint8Array> => new Uint8Array(await (await fetch(`${folder}${name}`)).arrayBuffer());
      const decoder = await createDecoder({ graph: await bytes('onnx/model.onnx'), externalData: [{ path: 'model.onnx_data', data: await bytes('onnx/model.onnx_data') }] }, options);
      const out: { ids?: number[]; cached: number }[] = [];
      try {
        let logits: Float32Array = new Float32Array();
        for (const op of ops) {
          if ('step' in op) logits = await decoder.step(op.step);
          else if ('truncate' in op) decoder.truncate(op.truncate);
          else {
            const ids = [argmax(logits)];
            while (ids.length < op.greedy) {
              logits = await decoder.step([ids[ids.length - 1]!]);
              ids.push(argmax(logits));
            }
            out.push({ ids, cached: decoder.cachedTokens });
            continue;
          }
          out.push({ cached: decoder.cachedTokens });
        }
        return out;
      } finally {
        await decoder.dispose();
      }
    }),
  /** Abort while the session is created, then a plain load: the reason, the count, the later load's ids. */
  abortLoad: (folder: string, options: LoadModelOptions, prompt: number[], steps: number) =>
    outcome(async () => {
      const controller = new AbortController();
      const aborted = await outcome(async () => loadModel(await pickedFolder(folder, () => controller.abort(new DOMException('stop', 'AbortError'))), { ...options, signal: controller.signal }));
      const openAfterAbort = openRuntimeCount();
      const model = await loadModel(await pickedFolder(folder, () => undefined), options);
      const ids = (await done(model.generate(prompt, { maxTokens: steps }))).tokenIds;
      await model.dispose();
      return { aborted, openAfterAbort, device: model.info.device, ids, openAfterDispose: openRuntimeCount() };
    }),
  /** A long prompt: greedy ids, then a run aborted in prefill, then the same prompt again; then dispose() in prefill. */
  prefill: (folder: string, options: LoadModelOptions, prompt: number[], steps: number) =>
    outcome(async () => {
      const model: Model = await loadModel(folder, { ...options, cache: false });
      const first = (await done(model.generate(prompt, { maxTokens: steps }))).tokenIds;
      // A different first token so nothing of the prompt is reused from the first run.
      const other = [prompt[0]!, ...prompt.slice(2)];
      const controller = new AbortController();
      const run = model.generate(other, { maxTokens: steps, signal: controller.signal })[Symbol.asyncIterator]();
      const pending = run.next();
      await nextTask();
      controller.abort(new DOMException('stop prefill', 'AbortError'));
      const aborted = await outcome(() => pending);
      const again = await done(model.generate(other, { maxTokens: steps }));
      const disposing = model.generate(prompt.slice(1), { maxTokens: steps })[Symbol.asyncIterator]();
      const pendingDispose = disposing.next();
      await nextTask();
      await model.dispose();
      const disposed = await outcome(() => pendingDispose);
      return { device: model.info.device, first, aborted, again: again.tokenIds, cachedAfterAbort: again.usage.cachedPromptTokens, disposed, openAfterDispose: openRuntimeCount() };
    }),
};

(window as unknown as { localm: typeof localm }).localm = localm;
