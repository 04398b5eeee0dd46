// What crosses the worker boundary: the remote API the worker exposes and the events it pushes.
// Everything is plain data; functions and AbortSignals do not survive postMessage.

import type { ChatMessage, ChatOptions, GenerateOptions, GenerationEvent, LoadModelOptions, ModelInfo } from '@localm/core';

/** Load options that can be cloned: progress comes back on a port, and the cache is the worker's default. */
export type WireLoadOptions = Omit<LoadModelOptions, 'onProgress' | 'signal' | 'cache'>;
import type { SerializedError } from './errors.js';

/** Generation options without the parts that cannot be cloned. */
export type WireGenerateOptions = Omit<GenerateOptions, 'signal'>;
export type WireChatOptions = Omit<ChatOptions, 'signal'>;

/** Pushed on a run's MessagePort: generation events, then `end` or `error`. */
export type RunMessage = { type: 'event'; event: GenerationEvent } | { type: 'end' } | { type: 'error'; error: SerializedError };

/** Something that can receive messages: a DOM MessagePort or a worker_threads MessagePort. */
export interface PortLike {
  postMessage(message: unknown): void;
  close(): void;
}

/** The worker's API, as seen through comlink. */
export interface RemoteEngine {
  /** Loads the model; progress objects are posted on `progress` when given. */
  load(source: string, options: WireLoadOptions, progress?: PortLike): Promise<ModelInfo>;
  /** Starts a run whose messages go to `port`; resolves when the run has started. */
  generate(runId: number, prompt: string | number[], options: WireGenerateOptions, port: PortLike): Promise<void>;
  chat(runId: number, messages: ChatMessage[], options: WireChatOptions, port: PortLike): Promise<void>;
  cancel(runId: number): void;
  dispose(): Promise<void>;
}
