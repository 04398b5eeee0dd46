// What crosses the worker boundary: the remote API the worker exposes and the events it pushes.
// Everything is plain data; functions and AbortSignals do not survive postMessage.

import type { ChatMessage, ChatOptions, GenerateOptions, GenerationEvent, LoadModelOptions, ModelInfo } from '@localm/core';
import type { SerializedError } from './errors.js';
import type { PortLike } from './port.js';

export type { PortLike } from './port.js';

/** Load options that can be cloned: progress comes back on a port, and the cache is the worker's default. */
export type WireLoadOptions = Omit<LoadModelOptions, 'onProgress' | 'signal' | 'cache'>;

/**
 * A model source that can be cloned: a URL or path as a string, or picked files. Files cross as Blob
 * handles (structured clone shares the bytes, nothing is copied); each file's name carries its path
 * in the folder, since webkitRelativePath does not survive the clone.
 */
export type WireSource = string | File[];

/** Generation options without the parts that cannot be cloned. */
export type WireGenerateOptions = Omit<GenerateOptions, 'signal'>;
export type WireChatOptions = Omit<ChatOptions, 'signal'>;

/** Pushed on a run's MessagePort: generation events, then `end` or `error`. */
export type RunMessage = { type: 'event'; event: GenerationEvent } | { type: 'end' } | { type: 'error'; error: SerializedError };

/** Sent back on the run's port as the main thread takes events: `consumed` events so far. */
export interface AckMessage {
  type: 'ack';
  consumed: number;
}

/**
 * Events the worker may have sent that the main thread has not taken yet. The worker computes the
 * next token while the page shows this one, but never races ahead: an abort or `break` finds it at
 * most this many tokens past what the caller saw (and memory stays bounded for a slow consumer).
 */
export const EVENTS_AHEAD = 2;

/** The worker's API, as seen through comlink. */
export interface RemoteEngine {
  /** Loads the model; progress objects are posted on `progress` when given. */
  load(source: WireSource, options: WireLoadOptions, progress?: PortLike): Promise<ModelInfo>;
  /** Aborts the load in progress (the main thread's signal): it rejects with an AbortError and opens nothing. */
  cancelLoad(): void;
  /** Starts a run whose messages go to `port`; resolves when the run has started. */
  generate(runId: number, prompt: string | number[], options: WireGenerateOptions, port: PortLike): Promise<void>;
  chat(runId: number, messages: ChatMessage[], options: WireChatOptions, port: PortLike): Promise<void>;
  cancel(runId: number): void;
  dispose(): Promise<void>;
}
