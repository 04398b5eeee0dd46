// A server that sends a model manifest (localm.json) far larger than any real one, with or without a
// Content-Length: the download reads no more than MAX_MANIFEST_BYTES, fails with corrupt_model and
// leaves nothing in the cache. A manifest naming files outside the model's folder is refused before
// any of them is requested.

import { createServer, type Server } from 'node:http';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { downloadModel, openModelCache } from '@localm/core';

const LIMIT = 1 << 20; // MAX_MANIFEST_BYTES, restated: the test fails if the limit grows unnoticed
let server: Server;
let base: string;
const requests: string[] = [];
const sentBytes = new Map<string, number>();
const dirs: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    const path = req.url ?? '/';
    requests.push(path);
    const chunk = Buffer.alloc(64 << 10, 0x20); // JSON whitespace: a parser that reads it all finds nothing wrong until the end
    let sent = 0;
    const pump = (): void => {
      // Endless unless the client goes away; stop at 64 MiB so a failing test cannot fill the machine.
      while (sent < 64 << 20 && !res.destroyed) {
        sent += chunk.length;
        sentBytes.set(path, sent);
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      res.end();
    };
    if (path === '/endless/localm.json') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"version": 1, "files": [');
      pump();
    } else if (path === '/declared/localm.json') {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(8 << 30) });
      pump();
    } else if (path === '/outside/localm.json') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ version: 1, files: [{ path: 'config.json', size: 2 }, { path: '../../secret', size: 5 }] }));
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
});

async function freshCache(): Promise<{ dir: string; cache: Awaited<ReturnType<typeof openModelCache>> }> {
  const dir = mkdtempSync(join(tmpdir(), 'localm-hostile-'));
  dirs.push(dir);
  return { dir, cache: await openModelCache({ directory: dir }) };
}

test.each(['endless', 'declared'])('a %s manifest is corrupt_model after reading at most its limit; nothing cached', async (name) => {
  const { dir, cache } = await freshCache();
  await expect(downloadModel(`${base}/${name}/`, { cache })).rejects.toMatchObject({ code: 'corrupt_model' });
  expect(requests.filter((r) => r.startsWith(`/${name}/`))).toEqual([`/${name}/localm.json`]);
  // The server may have written ahead into socket buffers, but far less than it would for a whole read.
  expect(sentBytes.get(`/${name}/localm.json`) ?? 0).toBeLessThan(LIMIT + (16 << 20));
  expect(readdirSync(dir, { recursive: true }).filter((f) => String(f).includes('blobs'))).toEqual([]);
  expect(await cache.list()).toEqual([]);
});

test('a manifest naming ../../secret is corrupt_model before any model file is requested', async () => {
  const { cache } = await freshCache();
  await expect(downloadModel(`${base}/outside/`, { cache })).rejects.toMatchObject({ code: 'corrupt_model', message: expect.stringContaining('../../secret') });
  expect(requests.filter((r) => r.startsWith('/outside/') || r.includes('secret'))).toEqual(['/outside/localm.json']);
});
