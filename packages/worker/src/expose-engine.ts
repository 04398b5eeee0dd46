// The worker side: loads one model and serves it to the main thread through comlink. Each run's
// events go out on their own MessagePort; cancel(runId) aborts a run between tokens.

import { LocalmError, loadModel, type ChatMessage, type GenerationEvent, type Model, type ModelInfo } from '@localm/core';
import { expose, type Endpoint } from 'comlink/dist/esm/comlink.mjs';
import { installErrorHandler, serializeError } from './errors.js';
import { listen } from './port.js';
import { EVENTS_AHEAD, type AckMessage, type PortLike, type RemoteEngine, type RunMessage, type WireChatOptions, type WireGenerateOptions, type WireLoadOptions, type WireSource } from './protocol.js';

/**
 * Serves an engine from this worker. Call it once in the worker's entry module.
 * @example
 * // worker.ts
 * import { exposeEngine } from '@localm/worker';
 * await exposeEngine();
 */
export async function exposeEngine(endpoint?: Endpoint): Promise<void> {
  installErrorHandler();
  expose(new EngineHost(), endpoint ?? (await defaultEndpoint()));
}

/** `self` in a Web Worker; `parentPort` (through comlink's adapter) in a Node worker thread. */
async function defaultEndpoint(): Promise<Endpoint> {
  const isNode = typeof (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node === 'string';
  if (!isNode) return globalThis as unknown as Endpoint;
  const threads = 'node:worker_threads';
  const { parentPort } = (await import(/* @vite-ignore */ threads)) as typeof import('node:worker_threads');
  if (!parentPort) throw new LocalmError('invalid_argument', 'exposeEngine() must run inside a worker thread');
  const { default: nodeEndpoint } = await import('comlink/dist/esm/node-adapter.mjs');
  return nodeEndpoint(parentPort as unknown as Parameters<typeof nodeEndpoint>[0]);
}

/** Lets queued messages (a cancel) in between tokens: a task, not a microtask. */
function nextTask(): Promise<void> {
  if (typeof setImmediate === 'function') return new Promise((resolve) => setImmediate(resolve));
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => {
      channel.port1.close();
      resolve();
    };
    channel.port2.postMessage(null);
  });
}

class EngineHost implements RemoteEngine {
  #model: Model | undefined;
  #loading: AbortController | undefined;
  readonly #runs = new Map<number, AbortController>();

  async load(source: WireSource, options: WireLoadOptions, progress?: PortLike): Promise<ModelInfo> {
    if (this.#model || this.#loading) throw new LocalmError('invalid_argument', 'this worker already holds a model; dispose it first');
    const loading = new AbortController();
    this.#loading = loading;
    try {
      const signal = loading.signal;
      this.#model = await loadModel(source, progress ? { ...options, signal, onProgress: (p) => progress.postMessage(p) } : { ...options, signal });
    } finally {
      this.#loading = undefined;
      progress?.close();
    }
    return this.#model.info;
  }

  cancelLoad(): void {
    this.#loading?.abort(new DOMException('the load was cancelled', 'AbortError'));
  }

  async generate(runId: number, prompt: string | number[], options: WireGenerateOptions, port: PortLike): Promise<void> {
    const signal = this.#start(runId);
    this.#pump(runId, this.#need().generate(prompt, { ...options, signal }), port);
  }

  async chat(runId: number, messages: ChatMessage[], options: WireChatOptions, port: PortLike): Promise<void> {
    const signal = this.#start(runId);
    this.#pump(runId, this.#need().chat(messages, { ...options, signal }), port);
  }

  cancel(runId: number): void {
    this.#runs.get(runId)?.abort(new DOMException('the run was cancelled', 'AbortError'));
  }

  async dispose(): Promise<void> {
    for (const run of this.#runs.values()) run.abort(new DOMException('the engine was disposed', 'AbortError'));
    const model = this.#model;
    this.#model = undefined; // the worker can load again (e.g. on wasm after a lost GPU device)
    await model?.dispose();
  }

  #need(): Model {
    if (!this.#model) throw new LocalmError('invalid_argument', 'no model is loaded in this worker');
    return this.#model;
  }

  #start(runId: number): AbortSignal {
    const controller = new AbortController();
    this.#runs.set(runId, controller);
    return controller.signal;
  }

  #pump(runId: number, events: AsyncIterable<GenerationEvent>, port: PortLike): void {
    const send = (message: RunMessage): void => port.postMessage(message);
    const signal = this.#runs.get(runId)!.signal;
    let sent = 0;
    let consumed = 0;
    let wake: (() => void) | undefined;
    listen(port, (data) => {
      if ((data as AckMessage | undefined)?.type !== 'ack') return;
      consumed = Math.max(consumed, (data as AckMessage).consumed);
      wake?.();
    });
    signal.addEventListener('abort', () => wake?.(), { once: true });
    void (async () => {
      try {
        for await (const event of events) {
          send({ type: 'event', event });
          sent++;
          // Flow control: wait for the main thread to take events before computing more.
          while (sent - consumed >= EVENTS_AHEAD && !signal.aborted) await new Promise<void>((resolve) => (wake = resolve));
          await nextTask();
          // Cancelled while waiting: stop before the model computes another token.
          signal.throwIfAborted();
        }
        send({ type: 'end' });
      } catch (err) {
        send({ type: 'error', error: serializeError(err) });
      } finally {
        this.#runs.delete(runId);
        port.close();
      }
    })();
  }
}
