// Fetches one file to the end through a network that drops: after a failure it asks again for the
// bytes it does not have yet (HTTP Range, RFC 9110 §14), guarded by If-Range so that a file that
// changed on the server starts over. Knows nothing of storage, hashes or models.

import { LocalmError } from '@localm/errors';

export interface RangeFetchOptions {
  signal?: AbortSignal | undefined;
  expectedBytes?: number | undefined; // the size the manifest or HEAD gave, if any
  retries: number; // failures in a row (no byte received in between) before giving up
  retryDelayMs: number; // before the first retry; doubles each time, up to 10 s
  /** Receives the bytes in order; a rejection ends the download. */
  onChunk(chunk: Uint8Array): Promise<void>;
  /** The server sent the whole file again: drop the `bytes` already passed to onChunk. */
  onRestart(bytes: number): Promise<void>;
}

export const DEFAULT_RETRIES = 5;
export const DEFAULT_RETRY_DELAY_MS = 500;
const MAX_RETRY_DELAY_MS = 10_000;

/** Fetches `url` through `onChunk` and returns its length in bytes. */
export async function fetchWithResume(url: string, name: string, options: RangeFetchOptions): Promise<number> {
  const { signal } = options;
  let offset = 0;
  let validator: string | undefined; // the first response's strong ETag or Last-Modified, for If-Range
  let failures = 0;
  const fail = async (why: string, cause?: unknown): Promise<void> => {
    if (signal?.aborted) throw signal.reason;
    if (++failures > options.retries) {
      throw new LocalmError('not_found', `cannot download ${name} from ${url}: ${why} (${failures} tries; ${offset} bytes received)`, { cause, details: { url, receivedBytes: offset } });
    }
    await sleep(Math.min(options.retryDelayMs * 2 ** (failures - 1), MAX_RETRY_DELAY_MS), signal);
  };
  const restart = async (): Promise<void> => {
    if (offset > 0) await options.onRestart(offset);
    offset = 0;
  };

  for (;;) {
    signal?.throwIfAborted();
    const headers: Record<string, string> = {};
    if (offset > 0) {
      headers['range'] = `bytes=${offset}-`;
      if (validator) headers['if-range'] = validator;
    }
    let response: Response;
    try {
      // no-store: the HTTP cache would keep a second copy of every weight file, and mixes badly with Range.
      response = await fetch(url, { headers, cache: 'no-store', ...(signal ? { signal } : {}) });
    } catch (cause) {
      await fail(String(cause), cause);
      continue;
    }
    if (response.status === 200) {
      await restart(); // a first request, or a server that ignored Range / If-Range
      validator = validatorOf(response);
    } else if (response.status === 206) {
      const start = /^bytes (\d+)-/.exec(response.headers.get('content-range') ?? '')?.[1];
      if (offset === 0 || Number(start) !== offset) {
        await response.body?.cancel();
        await restart();
        validator = undefined;
        await fail(`the server answered a Range request for byte ${offset} with '${response.headers.get('content-range')}'`);
        continue;
      }
    } else if (response.status === 416) {
      await response.body?.cancel();
      await restart(); // the file shrank on the server: fetch it whole
      validator = undefined;
      await fail('HTTP 416');
      continue;
    } else if (response.status === 408 || response.status === 429 || response.status >= 500) {
      await response.body?.cancel();
      await fail(`HTTP ${response.status}`);
      continue;
    } else {
      await response.body?.cancel();
      const what = response.status === 404 || response.status === 410 ? 'there is no such file' : `HTTP ${response.status} ${response.statusText}`;
      throw new LocalmError('not_found', `cannot download ${name} from ${url}: ${what}`, { details: { url, status: response.status } });
    }
    if (!response.body) return offset;
    const reader = response.body.getReader();
    let dropped: unknown;
    try {
      for (;;) {
        let chunk: ReadableStreamReadResult<Uint8Array>;
        try {
          chunk = await reader.read();
        } catch (cause) {
          dropped = cause ?? new Error('the connection failed');
          break;
        }
        if (chunk.done) break;
        await options.onChunk(chunk.value); // its errors (checksum, storage) end the download
        offset += chunk.value.length;
        failures = 0;
      }
    } finally {
      if (dropped === undefined) await reader.cancel().catch(() => undefined);
      reader.releaseLock();
    }
    if (dropped !== undefined) {
      await fail(String(dropped), dropped);
      continue;
    }
    // A connection closed cleanly before the announced end (a proxy timing out) is a failure too.
    if (options.expectedBytes !== undefined && offset < options.expectedBytes) {
      await fail(`the connection ended after ${offset} of ${options.expectedBytes} bytes`);
      continue;
    }
    return offset;
  }
}

function validatorOf(response: Response): string | undefined {
  const etag = response.headers.get('etag');
  if (etag && !etag.startsWith('W/')) return etag; // If-Range needs a strong validator
  return response.headers.get('last-modified') ?? undefined;
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
