// The worker test page: an Engine in a module Web Worker (createWorkerEngine), driven from Playwright
// through window.localm. Returns plain data: ids, events, errors as { name, code, message }.

import type { Engine, GenerationEvent, LoadModelOptions } from '@localm/core';
import { createWorkerEngine } from '../../src/index.js';

type ErrorData = { name: string; code?: string; message: string; details?: unknown };
type Outcome<T> = { ok: true; value: T } | { ok: false; error: ErrorData };
async function outcome<T>(fn: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await fn() };
  } catch (err) {
    const e = err as ErrorData;
    return { ok: false, error: { name: e.name, message: e.message, ...(e.code ? { code: e.code } : {}), ...(e.details ? { details: JSON.parse(JSON.stringify(e.details)) } : {}) } };
  }
}

let worker: Worker | undefined;
let engine: Engine | undefined;

async function collect(events: AsyncIterable<GenerationEvent>) {
  let text = '';
  for await (const e of events) {
    if (e.type === 'text') text += e.text;
    else return { text, promptTokenIds: e.promptTokenIds, tokenIds: e.tokenIds, stopReason: e.stopReason };
  }
  throw new Error('no done event');
}

const localm = {
  crossOriginIsolated,
  /** A fresh worker and engine for the model folder at `url`. */
  load: (url: string, options: Omit<LoadModelOptions, 'signal' | 'cache' | 'onProgress'>) =>
    outcome(async () => {
      await engine?.dispose().catch(() => undefined);
      worker?.terminate();
      worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
      let progressCalls = 0;
      engine = await createWorkerEngine(worker, url, { ...options, onProgress: () => void progressCalls++ });
      return { info: JSON.parse(JSON.stringify(engine.info)) as Engine['info'], progressCalls };
    }),
  /**
   * Loads from File objects as a folder pick gives them: the name is the base name and the folder path
   * is in webkitRelativePath (set here as an own property; a structured clone drops it).
   */
  loadFiles: (folderUrl: string, paths: string[], options: Omit<LoadModelOptions, 'signal' | 'cache' | 'onProgress'>) =>
    outcome(async () => {
      await engine?.dispose().catch(() => undefined);
      worker?.terminate();
      const files = await Promise.all(
        paths.map(async (path) => {
          const bytes = await (await fetch(`${folderUrl}${path}`)).arrayBuffer();
          const file = new File([bytes], path.slice(path.lastIndexOf('/') + 1));
          Object.defineProperty(file, 'webkitRelativePath', { value: `picked/${path}` });
          return file;
        }),
      );
      worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
      engine = await createWorkerEngine(worker, files, options);
      return { info: JSON.parse(JSON.stringify(engine.info)) as Engine['info'], progressCalls: 0 };
    }),
  /** createWorkerEngine on a worker whose module throws while loading. */
  loadBroken: (url: string) =>
    outcome(async () => {
      const broken = new Worker(new URL('./broken-worker.ts', import.meta.url), { type: 'module' });
      try {
        await createWorkerEngine(broken, url, { device: 'wasm' });
      } finally {
        broken.terminate();
      }
    }),
  generate: (prompt: string, maxTokens: number) => outcome(() => collect(engine!.generate(prompt, { maxTokens }))),
  /** Aborts from this (main) thread right after the text event of token number `at`; counts what came after. */
  abortAt: (prompt: string, at: number) =>
    outcome(async () => {
      const controller = new AbortController();
      const ids: number[] = [];
      let afterAbort = 0;
      const error = await outcome(async () => {
        for await (const e of engine!.generate(prompt, { maxTokens: 400, signal: controller.signal })) {
          if (controller.signal.aborted) afterAbort++;
          if (e.type === 'text') ids.push(e.tokenId);
          if (ids.length === at) controller.abort();
        }
      });
      return { ids, afterAbort, error };
    }),
  /** Prompt tokens whose KV entries the next run reuses for `ids`: how far the model's cache got. */
  cachedFor: (ids: number[]) =>
    outcome(async () => {
      for await (const e of engine!.generate(ids, { maxTokens: 1 })) if (e.type === 'done') return e.usage.cachedPromptTokens;
      throw new Error('no done event');
    }),
  /** `break` after `at` tokens. */
  breakAt: (prompt: string, at: number) =>
    outcome(async () => {
      let n = 0;
      for await (const e of engine!.generate(prompt, { maxTokens: 400 })) if (e.type === 'text' && ++n === at) break;
      return n;
    }),
  dispose: () => outcome(async () => {
    await engine?.dispose();
    worker?.terminate();
    engine = worker = undefined;
  }),
};

(window as unknown as { localm: typeof localm }).localm = localm;
