// The main-thread side: an Engine whose model lives in a Web Worker or a Node worker thread. Turns
// pushed events back into AsyncIterables, an AbortSignal or a `break` into cancel(runId), and a
// crashed worker into `worker_crashed` errors.

import {
  LocalmError,
  createChatCompletions,
  type ChatMessage,
  type ChatOptions,
  type Engine,
  type GenerateOptions,
  type GenerationEvent,
  type LoadModelOptions,
  type LoadProgress,
  type ModelInfo,
  type ModelSource,
} from '@localm/core';
import { releaseProxy, transfer, wrap, type Endpoint, type Remote } from 'comlink/dist/esm/comlink.mjs';
import { deserializeError, installErrorHandler } from './errors.js';
import { MessageQueue } from './message-queue.js';
import { listen } from './port.js';
import type { AckMessage, PortLike, RemoteEngine, RunMessage, WireLoadOptions, WireSource } from './protocol.js';

/** A DOM Worker or a node:worker_threads Worker. */
export type WorkerLike = Worker | import('node:worker_threads').Worker;

/** The engine a worker client gives: the same type as core's Engine (see type-checks.ts). */
export type WorkerEngine = Engine;

/**
 * Loads a model inside `worker` (whose entry calls `exposeEngine()`) and returns an Engine for it.
 * `source` is what loadModel takes: a URL, a path (Node), or the files of a picked folder.
 * @example
 * const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
 * const engine = await createWorkerEngine(worker, '/models/stories260k');
 * for await (const e of engine.generate('Once upon a time')) if (e.type === 'text') out.append(e.text);
 */
export async function createWorkerEngine(
  worker: WorkerLike,
  source: ModelSource,
  options: Omit<LoadModelOptions, 'cache'> = {},
): Promise<WorkerEngine> {
  installErrorHandler();
  options.signal?.throwIfAborted();
  const isNodeWorker = !('addEventListener' in worker);
  const endpoint: Endpoint = isNodeWorker
    ? (await import('comlink/dist/esm/node-adapter.mjs')).default(worker as unknown as Parameters<typeof import('comlink/dist/esm/node-adapter.mjs').default>[0])
    : (worker as unknown as Endpoint);
  const remote = wrap<RemoteEngine>(endpoint);
  const client = new WorkerClient(remote);
  const onCrash = (cause: unknown): void => client.crashed(cause);
  if (isNodeWorker) {
    const w = worker as import('node:worker_threads').Worker;
    w.on('error', onCrash);
    w.on('exit', (code) => onCrash(new Error(`the worker exited with code ${code}`)));
  } else {
    (worker as Worker).addEventListener('error', (e) => onCrash(e.error ?? new Error(e.message)));
  }
  const { onProgress, signal, ...wire } = options;
  // Progress objects come back on a port of their own; functions cannot cross postMessage.
  const channel = onProgress ? new MessageChannel() : undefined;
  if (channel && onProgress) listen(channel.port1, (p) => onProgress(p as LoadProgress));
  const progressPort = channel ? transfer(channel.port2 as unknown as PortLike, [channel.port2 as unknown as Transferable]) : undefined;
  let info: ModelInfo;
  // The signal cannot cross postMessage: it becomes cancelLoad(), and the worker can load again after.
  const cancel = (): void => void remote.cancelLoad().catch(() => undefined);
  signal?.addEventListener('abort', cancel, { once: true });
  try {
    info = await client.guard(remote.load(toWireSource(source), wire as WireLoadOptions, progressPort));
  } catch (err) {
    if (signal?.aborted && (err as { name?: string } | null)?.name === 'AbortError') throw signal.reason;
    throw err;
  } finally {
    signal?.removeEventListener('abort', cancel);
    channel?.port1.close();
  }
  if (signal?.aborted) {
    // Loaded before the cancel arrived: free it, as an in-process load does.
    await remote.dispose().catch(() => undefined);
    throw signal.reason;
  }
  client.setInfo(info);
  return client;
}

/** A URL as its string; picked files renamed to their path in the folder (the clone drops webkitRelativePath). */
function toWireSource(source: ModelSource): WireSource {
  if (typeof source === 'string') return source;
  if (source instanceof URL) return source.href;
  return Array.from(source, (file) => {
    const path = (file as { webkitRelativePath?: string }).webkitRelativePath || file.name;
    // new File([file]) wraps the same bytes; nothing is read or copied here.
    return path === file.name ? file : new File([file], path, { type: file.type, lastModified: file.lastModified });
  });
}

let nextRunId = 1;

class WorkerClient implements Engine {
  #info: ModelInfo | undefined;
  #crash: LocalmError | undefined;
  #disposed = false;
  readonly #runs = new Set<MessageQueue<RunMessage>>();
  readonly #crashWaiters = new Set<(err: LocalmError) => void>();
  readonly chat: Engine['chat'];

  constructor(private readonly remote: Remote<RemoteEngine>) {
    const chat = (messages: readonly ChatMessage[], options: ChatOptions = {}): AsyncIterable<GenerationEvent> => {
      const { signal, ...wire } = options;
      return this.#iterable((runId, port) => this.remote.chat(runId, [...messages], wire, transfer(port, [port as unknown as Transferable])), signal);
    };
    this.chat = Object.assign(chat, { completions: createChatCompletions(chat, 'localm-worker') });
  }

  get info(): ModelInfo {
    if (!this.#info) throw new LocalmError('invalid_argument', 'the model is still loading');
    return this.#info;
  }

  setInfo(info: ModelInfo): void {
    this.#info = info;
  }

  generate(prompt: string | readonly number[], options: GenerateOptions = {}): AsyncIterable<GenerationEvent> {
    const { signal, ...wire } = options;
    const wirePrompt = typeof prompt === 'string' ? prompt : [...prompt];
    return this.#iterable((runId, port) => this.remote.generate(runId, wirePrompt, wire, transfer(port, [port as unknown as Transferable])), signal);
  }

  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    if (!this.#crash) await this.remote.dispose().catch(() => undefined);
    this.remote[releaseProxy]();
  }

  /** Fails every open run and every later call: the worker is gone. */
  crashed(cause: unknown): void {
    if (this.#crash || this.#disposed) return;
    this.#crash = new LocalmError('worker_crashed', `the engine's worker stopped: ${cause instanceof Error ? cause.message : String(cause)}; create a new worker and engine`, { cause });
    for (const run of this.#runs) run.fail(this.#crash);
    for (const wake of this.#crashWaiters) wake(this.#crash);
  }

  /** Races a remote call against a crash of the worker. */
  guard<T>(call: Promise<T>): Promise<T> {
    if (this.#crash) return Promise.reject(this.#crash);
    return new Promise<T>((resolve, reject) => {
      const wake = (err: LocalmError): void => reject(err);
      this.#crashWaiters.add(wake);
      call.then(resolve, reject).finally(() => this.#crashWaiters.delete(wake));
    });
  }

  #check(): void {
    if (this.#crash) throw this.#crash;
    if (this.#disposed) throw new LocalmError('disposed', 'this engine was disposed');
  }

  #iterable(start: (runId: number, port: PortLike) => Promise<void>, signal: AbortSignal | undefined): AsyncIterable<GenerationEvent> {
    this.#check();
    const run = async function* (this: WorkerClient): AsyncGenerator<GenerationEvent> {
      this.#check();
      signal?.throwIfAborted();
      const runId = nextRunId++;
      const { port1, port2 } = new MessageChannel();
      const queue = new MessageQueue<RunMessage>();
      this.#runs.add(queue);
      listen(port1, (message) => queue.push(message as RunMessage));
      const cancel = (): void => void this.remote.cancel(runId).catch(() => undefined);
      signal?.addEventListener('abort', cancel, { once: true });
      let ended = false;
      let consumed = 0;
      try {
        await this.guard(start(runId, port2 as unknown as PortLike));
        for (;;) {
          const message = await queue.next();
          // Events the worker sent before the cancel reached it are dropped: nothing after an abort.
          signal?.throwIfAborted();
          if (message.type === 'event') {
            yield message.event;
            // The caller asked for the next event: this one is taken (flow control, see EVENTS_AHEAD).
            if (!signal?.aborted) port1.postMessage({ type: 'ack', consumed: ++consumed } satisfies AckMessage);
          }
          else if (message.type === 'end') {
            ended = true;
            return;
          } else {
            ended = true;
            const err = deserializeError(message.error);
            if (signal?.aborted && err.name === 'AbortError') throw signal.reason;
            throw err;
          }
        }
      } finally {
        signal?.removeEventListener('abort', cancel);
        // `break` in the caller's loop, or an error here: stop the run in the worker too.
        if (!ended && !this.#crash) cancel();
        this.#runs.delete(queue);
        port1.close();
      }
    };
    return { [Symbol.asyncIterator]: () => run.call(this) };
  }
}
