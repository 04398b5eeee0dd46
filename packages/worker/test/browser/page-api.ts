// The worker test page's window.localm, typed for the Node side (page.ts defines it in the browser).

import type { Page } from 'playwright-core';

export type Outcome<T> = { ok: true; value: T } | { ok: false; error: { name: string; code?: string; message: string; details?: Record<string, unknown> } };
export interface Run {
  text: string;
  promptTokenIds: number[];
  tokenIds: number[];
  stopReason: string;
}
export interface PageApi {
  load(url: string, options: { device?: string; wasmEngine?: string }): Promise<Outcome<{ info: { device: string; engine: string; skippedDevices: { device: string; reason: string }[] }; progressCalls: number }>>;
  loadFiles(folderUrl: string, paths: string[], options: { device?: string; wasmEngine?: string }): Promise<Outcome<{ info: { device: string; source: string }; progressCalls: number }>>;
  loadBroken(url: string): Promise<Outcome<void>>;
  generate(prompt: string, maxTokens: number): Promise<Outcome<Run>>;
  abortAt(prompt: string, at: number): Promise<Outcome<{ ids: number[]; afterAbort: number; error: Outcome<void> }>>;
  breakAt(prompt: string, at: number): Promise<Outcome<number>>;
  cachedFor(ids: number[]): Promise<Outcome<number>>;
  dispose(): Promise<Outcome<void>>;
}
export type WorkerPage = <K extends keyof PageApi>(name: K, ...args: Parameters<PageApi[K]>) => ReturnType<PageApi[K]>;

/** Calls window.localm[name](...args) in the page. */
export function callPage(page: Page): WorkerPage {
  return ((name: string, ...args: unknown[]) =>
    page.evaluate(([n, a]) => (window as unknown as { localm: Record<string, (...x: unknown[]) => unknown> }).localm[n as string]!(...(a as unknown[])), [name, args] as const)) as WorkerPage;
}
