// A real HTTP server on 127.0.0.1 for the download tests: serves models/stories260k with
// Content-Length, a strong ETag and Range (If-Range honoured), and faults a test switches on: a
// connection dropped partway once, a corrupted byte, a slow trickle, a 404, Range ignored. Logs every
// request. Also serves a folder of static files (a browser test's page) with COOP/COEP.

import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
export const MODEL_DIR = join(ROOT, 'models/stories260k');
export const WEIGHTS = 'onnx/model.onnx_data';
const DROP_DELAY_MS = 500;

/** The stories260k files, path → bytes. */
export function readModelFiles(dir = MODEL_DIR): Map<string, Uint8Array<ArrayBuffer>> {
  const files = new Map<string, Uint8Array<ArrayBuffer>>();
  const walk = (folder: string): void => {
    for (const name of readdirSync(folder)) {
      const full = join(folder, name);
      if (statSync(full).isDirectory()) walk(full);
      else files.set(relative(dir, full).split(sep).join('/'), new Uint8Array(readFileSync(full)));
    }
  };
  walk(dir);
  return files;
}

/** localm.json for `files`, hashed with node:crypto (not the code under test). */
export function manifestFor(files: Map<string, Uint8Array>): string {
  return JSON.stringify({
    version: 1,
    files: [...files].map(([path, bytes]) => ({ path, size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') })),
  });
}

export interface Faults {
  dropOnce?: { path: string; atByte: number }; // the next GET of path sends atByte bytes of the body, then closes
  dropAlways?: { path: string; atByte: number }; // every GET of path stops at that byte (a resume past it gets no byte)
  corrupt?: { path: string; atByte: number }; // that byte is flipped in every response
  trickle?: { path: string; bytesPerTick: number; tickMs: number }; // the body comes slowly
  notFound?: string[]; // these paths answer 404
  ignoreRange?: boolean; // 200 with the whole file for Range requests
  manifest?: boolean; // serve localm.json (default false)
}

export interface LoggedRequest {
  method: string;
  path: string;
  range: string | undefined;
  ifRange: string | undefined;
}

export interface ModelServer {
  readonly origin: string; // http://127.0.0.1:PORT
  readonly modelUrl: string; // origin + '/model/'
  readonly files: Map<string, Uint8Array>;
  faults: Faults;
  log: LoggedRequest[];
  /** Body bytes sent per path. */
  sentBytes: Map<string, number>;
  /** Serves `dir` under /app/ (a browser test's page and bundle). */
  serveApp(dir: string): void;
  close(): Promise<void>;
}

const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.json': 'application/json', '.wasm': 'application/wasm' };

export async function startModelServer(files = readModelFiles()): Promise<ModelServer> {
  let appDir: string | undefined;
  const etags = new Map([...files].map(([path, bytes]) => [path, `"${createHash('sha256').update(bytes).digest('hex').slice(0, 16)}"`]));
  const manifest = new TextEncoder().encode(manifestFor(files));
  const state: Pick<ModelServer, 'faults' | 'log' | 'sentBytes'> = { faults: {}, log: [], sentBytes: new Map() };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://x');
    const path = decodeURIComponent(url.pathname);
    res.setHeader('cross-origin-opener-policy', 'same-origin');
    res.setHeader('cross-origin-embedder-policy', 'require-corp');
    if (appDir && path.startsWith('/app/')) {
      try {
        const body = readFileSync(join(appDir, path.slice('/app/'.length) || 'index.html'));
        res.writeHead(200, { 'content-type': TYPES[extname(path)] ?? 'application/octet-stream', 'content-length': body.length });
        res.end(body);
      } catch {
        res.writeHead(404).end();
      }
      return;
    }
    if (!path.startsWith('/model/')) return void res.writeHead(404).end();
    const name = path.slice('/model/'.length);
    state.log.push({ method: req.method ?? '', path: name, range: req.headers.range, ifRange: req.headers['if-range'] as string | undefined });
    const faults = state.faults;
    let body = name === 'localm.json' && faults.manifest ? manifest : files.get(name);
    if (!body || faults.notFound?.includes(name)) return void res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    if (faults.corrupt?.path === name) {
      body = body.slice();
      body[faults.corrupt.atByte] = body[faults.corrupt.atByte]! ^ 0xff;
    }
    const headers: Record<string, string | number> = { 'accept-ranges': 'bytes', etag: etags.get(name) ?? '"manifest"', 'content-type': 'application/octet-stream' };
    let start = 0;
    let status = 200;
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const ifRange = req.headers['if-range'];
    if (range && !faults.ignoreRange && (ifRange === undefined || ifRange === headers['etag'])) {
      start = Number(range[1]);
      if (start >= body.length) return void res.writeHead(416, { 'content-range': `bytes */${body.length}` }).end();
      status = 206;
      headers['content-range'] = `bytes ${start}-${body.length - 1}/${body.length}`;
    }
    headers['content-length'] = body.length - start;
    res.writeHead(status, headers);
    if (req.method === 'HEAD') return void res.end();

    const drop = faults.dropOnce?.path === name ? faults.dropOnce : faults.dropAlways?.path === name ? faults.dropAlways : undefined;
    if (drop === faults.dropOnce) delete faults.dropOnce;
    // dropOnce cuts at its byte if the response reaches it; dropAlways also cuts a resume that starts past it, at once.
    const end = drop && (drop.atByte > start || drop === faults.dropAlways) ? Math.max(start, Math.min(drop.atByte, body.length)) : body.length;
    const trickle = faults.trickle?.path === name ? faults.trickle : undefined;
    const count = (n: number): void => void state.sentBytes.set(name, (state.sentBytes.get(name) ?? 0) + n);
    let at = start;
    const finish = (): void => {
      if (end >= body.length) return void res.end();
      // A drop closes the socket (FIN, not RST) a while after the last byte: a fetch body stream that
      // errors discards the chunks queued in it, so closing at once would lose bytes the client was
      // about to read, and the resume would start before the dropped byte.
      setTimeout(() => res.socket?.end(), DROP_DELAY_MS);
    };
    if (!trickle) {
      count(end - at);
      res.write(body.subarray(at, end), finish);
      return;
    }
    const timer = setInterval(() => {
      if (res.destroyed) return void clearInterval(timer);
      const next = Math.min(end, at + trickle.bytesPerTick);
      count(next - at);
      res.write(body.subarray(at, next));
      at = next;
      if (at >= end) {
        clearInterval(timer);
        finish();
      }
    }, trickle.tickMs);
    res.on('close', () => clearInterval(timer));
  };

  const server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return Object.assign(state, {
    origin,
    modelUrl: `${origin}/model/`,
    files,
    serveApp: (dir: string) => void (appDir = dir),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}
