// Compile-time checks that the worker client and core's Engine cannot drift apart: `tsc -b` fails
// here if either gains, loses or changes a member, or if an option that crosses postMessage becomes
// something structured clone cannot carry (a function, an AbortSignal).

import type { ChatOptions, Engine, GenerateOptions, GenerationEvent, LoadModelOptions, ModelInfo } from '@localm/core';
import type { createWorkerEngine, WorkerEngine } from './worker-engine.js';
import type { RemoteEngine, WireChatOptions, WireGenerateOptions, WireLoadOptions } from './protocol.js';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
/** Keys of T whose values cannot be structured-cloned (checked one level down, where options live). */
type Uncloneable<T> = { [K in keyof T]-?: NonNullable<T[K]> extends ((...args: never[]) => unknown) | AbortSignal ? K : never }[keyof T];

// What createWorkerEngine resolves to is exactly core's Engine (WorkerClient is declared `implements Engine` too).
export const clientIsEngine: Equal<Awaited<ReturnType<typeof createWorkerEngine>>, Engine> = true;
export const workerEngineIsEngine: Equal<WorkerEngine, Engine> = true;

// Every Engine method that runs a model has a remote counterpart in the worker, and nothing else does.
export const remoteCoversEngine: Equal<Exclude<keyof Engine, 'info'>, Exclude<keyof RemoteEngine, 'load' | 'cancelLoad' | 'cancel'>> = true;

// The wire options are core's options minus exactly what cannot cross (it is rebuilt on this side).
export const generateWire: Equal<WireGenerateOptions, Omit<GenerateOptions, 'signal'>> = true;
export const chatWire: Equal<WireChatOptions, Omit<ChatOptions, 'signal'>> = true;
export const loadWire: Equal<WireLoadOptions, Omit<LoadModelOptions, 'onProgress' | 'signal' | 'cache'>> = true;
// ...and what is left can be cloned: a new function-valued option in core fails here until the worker handles it.
export const generateClones: Equal<Uncloneable<WireGenerateOptions>, never> = true;
export const chatClones: Equal<Uncloneable<WireChatOptions>, never> = true;
export const loadClones: Equal<Uncloneable<WireLoadOptions>, never> = true;

// What comes back is plain data too.
export const eventsClone: Equal<Uncloneable<GenerationEvent>, never> = true;
export const infoClones: Equal<Uncloneable<ModelInfo>, never> = true;
