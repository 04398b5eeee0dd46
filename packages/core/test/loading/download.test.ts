// Downloads of models/stories260k from a real HTTP server on 127.0.0.1 into a real cache folder:
// progress, abort, resume after a dropped connection, checksums, the cache without network, quota,
// and the cache's list / check / delete.

import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, test } from 'vitest';
import { downloadModel, loadModel, openModelCache, type GenerationEvent, type LoadProgress, type ModelCache } from '@localm/core';
import { manifestFor, ROOT, startModelServer, WEIGHTS, type ModelServer } from './model-server.js';

const expected = JSON.parse(readFileSync(join(ROOT, 'models/stories260k-source/expected-greedy.jsonl'), 'utf8').split('\n')[0]!) as {
  prompt: string;
  prompt_token_ids: number[];
  generated_token_ids: number[];
};

let server: ModelServer;
let dir: string;
let cache: ModelCache;
const dirs: string[] = [];

beforeEach(async () => {
  server = await startModelServer();
  dir = mkdtempSync(join(tmpdir(), 'localm-cache-'));
  dirs.push(dir);
  cache = await openModelCache({ directory: dir });
});
afterEach(() => server.close());
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const totalSize = (): number => [...server.files.values()].reduce((n, b) => n + b.length, 0);
const filesOnDisk = (): string[] => readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
const modelGets = (): string[] => server.log.filter((r) => r.method === 'GET' && r.path !== 'localm.json').map((r) => r.path);

/** Every cached file's bytes equal the served file's (read from the cache folder itself). */
function expectCachedFilesIdentical(): void {
  const onDisk = filesOnDisk().filter((f) => f.includes(`${join(dir, 'blobs')}`));
  expect(onDisk).toHaveLength(server.files.size);
  for (const [path, bytes] of server.files) {
    const file = onDisk.find((f) => f.endsWith(join('/', ...path.split('/'))));
    expect(file, path).toBeDefined();
    expect(Buffer.compare(readFileSync(file!), bytes), path).toBe(0);
  }
}

async function greedyIds(model: Awaited<ReturnType<typeof loadModel>>): Promise<number[]> {
  for await (const e of model.generate(expected.prompt, { maxTokens: expected.generated_token_ids.length }) as AsyncIterable<GenerationEvent>) {
    if (e.type === 'done') return e.tokenIds;
  }
  throw new Error('no done event');
}

describe.each([
  ['with localm.json', true],
  ['without a manifest (sizes from HEAD)', false],
])('progress %s', (_, manifest) => {
  test('the total is known before any model file is fetched; loaded bytes grow to it', async () => {
    server.faults = { manifest, trickle: { path: WEIGHTS, bytesPerTick: 64 << 10, tickMs: 25 } };
    const events: LoadProgress[] = [];
    let getsAtFirstEvent: string[] | undefined;
    await downloadModel(server.modelUrl, {
      cache,
      onProgress: (p) => {
        getsAtFirstEvent ??= modelGets();
        events.push(p);
      },
    });
    expect(getsAtFirstEvent).toEqual([]);
    expect(events.length).toBeGreaterThan(2);
    expect(events[0]).toMatchObject({ loadedBytes: 0, totalBytes: totalSize() });
    for (const e of events) expect(e.totalBytes).toBe(totalSize());
    for (let i = 1; i < events.length; i++) expect(events[i]!.loadedBytes).toBeGreaterThanOrEqual(events[i - 1]!.loadedBytes);
    expect(events.at(-1)!.loadedBytes).toBe(totalSize());
    expect(events.filter((e) => e.loadedBytes === totalSize())).toHaveLength(1); // one final call
    expect(events.some((e) => e.file === WEIGHTS && e.loadedBytes > 0 && e.loadedBytes < totalSize())).toBe(true);
    expectCachedFilesIdentical();
  });
});

test('abort mid-download rethrows the reason and leaves no cache entry and no file', async () => {
  server.faults = { manifest: true, trickle: { path: WEIGHTS, bytesPerTick: 16 << 10, tickMs: 20 } };
  const controller = new AbortController();
  const load = loadModel(server.modelUrl, {
    cache,
    signal: controller.signal,
    onProgress: (p) => {
      if (p.file === WEIGHTS && (server.sentBytes.get(WEIGHTS) ?? 0) > 200_000) controller.abort();
    },
  });
  await expect(load).rejects.toMatchObject({ name: 'AbortError' });
  expect(controller.signal.reason).toBeInstanceOf(DOMException);
  await expect(load).rejects.toBe(controller.signal.reason);
  expect(server.sentBytes.get(WEIGHTS)).toBeLessThan(server.files.get(WEIGHTS)!.length);
  expect(await cache.list()).toEqual([]);
  expect(await cache.isCached(server.modelUrl)).toBe(false);
  expect(filesOnDisk()).toEqual([]);
  expect(readdirSync(dir)).toEqual([]);
});

test('a signal aborted with a reason of its own rethrows that reason', async () => {
  server.faults = { manifest: true, trickle: { path: WEIGHTS, bytesPerTick: 16 << 10, tickMs: 20 } };
  const controller = new AbortController();
  const reason = new Error('user left the page');
  const load = downloadModel(server.modelUrl, { cache, signal: controller.signal, onProgress: (p) => p.file === WEIGHTS && controller.abort(reason) });
  await expect(load).rejects.toBe(reason);
  expect(filesOnDisk()).toEqual([]);
});

test.each([true, false])('a connection dropped halfway resumes with a Range request from the dropped byte (manifest: %s)', async (manifest) => {
  const half = server.files.get(WEIGHTS)!.length >> 1;
  server.faults = { manifest, dropOnce: { path: WEIGHTS, atByte: half } };
  const events: LoadProgress[] = [];
  await downloadModel(server.modelUrl, { cache, onProgress: (p) => events.push(p) });
  const weightGets = server.log.filter((r) => r.method === 'GET' && r.path === WEIGHTS);
  expect(weightGets.map((r) => r.range)).toEqual([undefined, `bytes=${half}-`]);
  expect(weightGets[1]!.ifRange).toMatch(/^"/); // the first response's ETag guards the resume
  expect(server.sentBytes.get(WEIGHTS)).toBe(server.files.get(WEIGHTS)!.length); // no byte sent twice
  for (let i = 1; i < events.length; i++) expect(events[i]!.loadedBytes).toBeGreaterThanOrEqual(events[i - 1]!.loadedBytes);
  expect(events.at(-1)).toMatchObject({ loadedBytes: totalSize(), totalBytes: totalSize() });
  expectCachedFilesIdentical();
  expect(await cache.check(server.modelUrl)).toMatchObject({ ok: true, problems: [] });
});

test('a server that ignores Range after a drop sends the file again; the result is still whole', async () => {
  const half = server.files.get(WEIGHTS)!.length >> 1;
  server.faults = { manifest: true, dropOnce: { path: WEIGHTS, atByte: half }, ignoreRange: true };
  await downloadModel(server.modelUrl, { cache, retryDelayMs: 10 });
  expect(server.log.filter((r) => r.path === WEIGHTS).map((r) => r.range)).toEqual([undefined, `bytes=${half}-`]);
  expectCachedFilesIdentical();
});

test('a connection that keeps dropping fails with not_found after the retries, leaving nothing', async () => {
  server.faults = { manifest: true, dropAlways: { path: WEIGHTS, atByte: 1000 } };
  await expect(downloadModel(server.modelUrl, { cache, retries: 2, retryDelayMs: 10 })).rejects.toMatchObject({ name: 'LocalmError', code: 'not_found' });
  // The first GET got 1000 bytes; the retries resumed at 1000 and were dropped before any byte.
  expect(server.log.filter((r) => r.path === WEIGHTS).map((r) => r.range)).toEqual([undefined, 'bytes=1000-', 'bytes=1000-']);
  expect(await cache.list()).toEqual([]);
  expect(filesOnDisk()).toEqual([]);
});

describe('sha256', () => {
  test('a wrong pinned hash is checksum_mismatch and leaves no cache entry', async () => {
    const load = loadModel(server.modelUrl, { cache, sha256: { [WEIGHTS]: '0'.repeat(64) } });
    await expect(load).rejects.toMatchObject({ name: 'LocalmError', code: 'checksum_mismatch' });
    await expect(load).rejects.toThrow(WEIGHTS);
    expect(await cache.list()).toEqual([]);
    expect(filesOnDisk()).toEqual([]);
  });

  test('a corrupted byte against localm.json is checksum_mismatch', async () => {
    server.faults = { manifest: true, corrupt: { path: WEIGHTS, atByte: 12345 } };
    await expect(downloadModel(server.modelUrl, { cache })).rejects.toMatchObject({ code: 'checksum_mismatch', details: { file: WEIGHTS } });
    expect(await cache.list()).toEqual([]);
    expect(filesOnDisk()).toEqual([]);
  });

  test("a pin wins over localm.json's digest", async () => {
    server.faults = { manifest: true, corrupt: { path: WEIGHTS, atByte: 7 } };
    const { createHash } = await import('node:crypto');
    const corrupted = server.files.get(WEIGHTS)!.slice();
    corrupted[7] = corrupted[7]! ^ 0xff;
    const pinCorrupted = createHash('sha256').update(corrupted).digest('hex');
    const model = await downloadModel(server.modelUrl, { cache, sha256: { [WEIGHTS]: pinCorrupted } });
    expect(model.files.find((f) => f.path === WEIGHTS)?.sha256).toBe(pinCorrupted);
  });

  test('a pin for a file the model does not have is invalid_argument, before any download', async () => {
    server.faults = { manifest: true };
    await expect(downloadModel(server.modelUrl, { cache, sha256: { 'onnx/model_q4.onnx': 'a'.repeat(64) } })).rejects.toMatchObject({ code: 'invalid_argument' });
    await expect(downloadModel(server.modelUrl, { cache, sha256: { [WEIGHTS]: 'xyz' } })).rejects.toMatchObject({ code: 'invalid_argument' });
    expect(modelGets()).toEqual([]);
  });
});

test('a second load comes from the cache with the server stopped, and generates llama2.c greedy ids', async () => {
  server.faults = { manifest: true };
  const first = await loadModel(server.modelUrl, { cache, device: 'cpu' });
  await first.dispose();
  await server.close();
  const events: LoadProgress[] = [];
  const model = await loadModel(new URL(server.modelUrl.slice(0, -1)), { cache, device: 'cpu', onProgress: (p) => events.push(p) });
  try {
    expect(model.info.source).toBe(server.modelUrl);
    expect(events).toEqual([{ file: expect.any(String), loadedBytes: totalSize(), totalBytes: totalSize() }]);
    expect(await greedyIds(model)).toEqual(expected.generated_token_ids);
  } finally {
    await model.dispose();
  }
  // A pin that the cached file does not match sends the load back to the (stopped) server.
  await expect(loadModel(server.modelUrl, { cache, sha256: { [WEIGHTS]: 'f'.repeat(64) } })).rejects.toMatchObject({ code: 'not_found' });
  expect(await cache.isCached(server.modelUrl)).toBe(true); // the cached model is still there
});

test('cache: false downloads into memory, keeps nothing, and generates the same ids', async () => {
  const model = await loadModel(server.modelUrl, { cache: false, device: 'cpu' });
  try {
    expect(await greedyIds(model)).toEqual(expected.generated_token_ids);
  } finally {
    await model.dispose();
  }
  expect(filesOnDisk()).toEqual([]);
});

test('list, check and delete', async () => {
  server.faults = { manifest: true };
  const before = Date.now();
  await downloadModel(server.modelUrl, { cache });
  const list = await cache.list();
  expect(list).toHaveLength(1);
  expect(list[0]!.url).toBe(server.modelUrl);
  expect(list[0]!.sizeBytes).toBe(totalSize());
  expect(Date.parse(list[0]!.cachedAt)).toBeGreaterThanOrEqual(before - 1000);
  expect(JSON.stringify({ version: 1, files: list[0]!.files.map((f) => ({ path: f.path, size: f.sizeBytes, sha256: f.sha256 })) })).toBe(manifestFor(server.files));
  expect(await cache.check(server.modelUrl)).toEqual({ url: server.modelUrl, ok: true, problems: [] });

  // Damage one cached file on disk: check names it.
  const weights = filesOnDisk().find((f) => f.endsWith('model.onnx_data'))!;
  const bytes = readFileSync(weights);
  bytes[100] = bytes[100]! ^ 1;
  writeFileSync(weights, bytes);
  const check = await cache.check(server.modelUrl);
  expect(check.ok).toBe(false);
  expect(check.problems).toEqual([{ path: WEIGHTS, problem: 'sha256', expected: expect.stringMatching(/^[0-9a-f]{64}$/), actual: expect.stringMatching(/^[0-9a-f]{64}$/) }]);
  writeFileSync(weights, bytes.subarray(0, 10));
  expect((await cache.check(server.modelUrl)).problems).toEqual([{ path: WEIGHTS, problem: 'size', expected: bytes.length, actual: 10 }]);
  rmSync(weights);
  expect((await cache.check(server.modelUrl)).problems).toEqual([{ path: WEIGHTS, problem: 'missing' }]);

  expect(await cache.delete(server.modelUrl)).toBe(true);
  expect(await cache.list()).toEqual([]);
  expect(readdirSync(dir)).toEqual([]);
  expect(await cache.delete(server.modelUrl)).toBe(false);
  await expect(cache.check(server.modelUrl)).rejects.toMatchObject({ code: 'not_found' });
});

test('prune removes files a killed download left, and nothing else', async () => {
  server.faults = { manifest: true };
  await downloadModel(server.modelUrl, { cache });
  const kept = filesOnDisk().sort();
  // What a process killed mid-download leaves: files under a download id no record names.
  const leftover = join(dir, 'blobs', 'f'.repeat(32), 'killed-1', 'onnx');
  (await import('node:fs')).mkdirSync(leftover, { recursive: true });
  writeFileSync(join(leftover, 'model.onnx_data'), 'partial');
  expect(await cache.prune()).toBe(1);
  expect(filesOnDisk().sort()).toEqual(kept);
  expect(await cache.check(server.modelUrl)).toMatchObject({ ok: true });
});

test('a cache too small for the model is out_of_memory before any model file is fetched', async () => {
  server.faults = { manifest: true };
  const small = await openModelCache({ directory: dir, maxBytes: totalSize() - 1 });
  const load = loadModel(server.modelUrl, { cache: small });
  await expect(load).rejects.toMatchObject({ name: 'LocalmError', code: 'out_of_memory', details: { neededBytes: totalSize(), availableBytes: totalSize() - 1, storage: 'fs' } });
  expect(modelGets()).toEqual([]);
  expect(filesOnDisk()).toEqual([]);
  // Without a manifest the sizes come from HEAD: still nothing fetched.
  server.faults = {};
  await expect(loadModel(server.modelUrl, { cache: small })).rejects.toMatchObject({ code: 'out_of_memory' });
  expect(modelGets()).toEqual([]);
  // The limit counts what is already cached.
  await downloadModel(server.modelUrl, { cache });
  const roomForOne = await openModelCache({ directory: dir, maxBytes: totalSize() * 2 - 1 });
  await expect(downloadModel(`${server.origin}/model/?copy`, { cache: roomForOne })).rejects.toMatchObject({ code: 'out_of_memory' });
});

test('the free disk space of the cache folder is checked (fs.statfs)', async () => {
  // A model larger than any disk: the HEAD sizes it, the check refuses it.
  const { createServer } = await import('node:http');
  const huge = createServer((req, res) => {
    const size = req.url?.endsWith('model.onnx_data') ? 2 ** 52 : 10;
    res.writeHead(req.url?.endsWith('localm.json') ? 404 : 200, { 'content-length': req.url?.endsWith('localm.json') ? 0 : size }).end();
  });
  await new Promise<void>((resolve) => huge.listen(0, '127.0.0.1', resolve));
  try {
    const url = `http://127.0.0.1:${(huge.address() as { port: number }).port}/m/`;
    await expect(downloadModel(url, { cache })).rejects.toMatchObject({ code: 'out_of_memory', details: { storage: 'fs' } });
  } finally {
    huge.closeAllConnections();
    huge.close();
  }
  expect(filesOnDisk()).toEqual([]);
});

describe('missing files', () => {
  test('a file localm.json lists that answers 404 is not_found, leaving nothing', async () => {
    server.faults = { manifest: true, notFound: [WEIGHTS] };
    await expect(downloadModel(server.modelUrl, { cache })).rejects.toMatchObject({ code: 'not_found', details: { status: 404 } });
    expect(filesOnDisk()).toEqual([]);
  });

  test('without a manifest, a missing config.json is not_found before any download', async () => {
    server.faults = { notFound: ['config.json'] };
    await expect(downloadModel(server.modelUrl, { cache })).rejects.toMatchObject({ code: 'not_found' });
    expect(modelGets()).toEqual([]);
  });

  test('without a manifest, missing optional files are skipped', async () => {
    server.faults = { notFound: ['generation_config.json', 'tokenizer_config.json'] };
    const model = await downloadModel(server.modelUrl, { cache });
    expect(model.files.map((f) => f.path)).toEqual(['config.json', 'tokenizer.json', 'onnx/model.onnx', WEIGHTS]);
  });

  test('a server that cannot be reached is not_found', async () => {
    await server.close();
    await expect(downloadModel(server.modelUrl, { cache })).rejects.toMatchObject({ code: 'not_found' });
  });
});

test('two loads of one model at once share one cache entry, and both models work', async () => {
  server.faults = { manifest: true, trickle: { path: WEIGHTS, bytesPerTick: 128 << 10, tickMs: 10 } };
  const [a, b] = await Promise.all([loadModel(server.modelUrl, { cache, device: 'cpu' }), loadModel(server.modelUrl, { cache, device: 'cpu' })]);
  try {
    expect(await greedyIds(a)).toEqual(expected.generated_token_ids);
    expect(await greedyIds(b)).toEqual(expected.generated_token_ids);
  } finally {
    await Promise.all([a.dispose(), b.dispose()]);
  }
  expect(await cache.list()).toHaveLength(1);
  expect(filesOnDisk().filter((f) => f.includes(join(dir, 'blobs')))).toHaveLength(server.files.size);
  expect(await cache.check(server.modelUrl)).toMatchObject({ ok: true });
});
