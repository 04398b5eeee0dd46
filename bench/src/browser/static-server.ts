// A small static HTTP server for `pnpm bench --browser`: the built bench page at /, a model folder at
// /model/ and its GGUF at /model.gguf, all with COOP/COEP/CORP (cross-origin isolation, so WASM
// threads) and HEAD and byte ranges (the loader sizes files with HEAD). 127.0.0.1 only.

import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, sep } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm',
  '.json': 'application/json', '.css': 'text/css', '.svg': 'image/svg+xml',
};

export interface StaticServer {
  base: string; // http://127.0.0.1:PORT/
  close(): Promise<void>;
}

/** Serves `mounts` (URL prefix → folder or file), first match wins; '/' should come last. */
export async function startStaticServer(mounts: readonly { prefix: string; path: string }[]): Promise<StaticServer> {
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const pathname = decodeURIComponent(url.pathname);
    const mount = mounts.find((m) => pathname === m.prefix || pathname.startsWith(m.prefix.endsWith('/') ? m.prefix : `${m.prefix}/`));
    let file: string | undefined;
    if (mount) {
      const rest = pathname.slice(mount.prefix.length);
      const candidate = normalize(join(mount.path, rest));
      if (candidate === mount.path || candidate.startsWith(mount.path.endsWith(sep) ? mount.path : mount.path + sep)) file = candidate;
      if (file && existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
    }
    const headers: Record<string, string> = {
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cross-Origin-Embedder-Policy': 'require-corp',
      'Cross-Origin-Resource-Policy': 'same-origin',
      'Cache-Control': 'no-store',
      'Accept-Ranges': 'bytes',
    };
    if (!file || !existsSync(file) || !statSync(file).isFile() || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, headers).end();
      return;
    }
    const size = statSync(file).size;
    headers['Content-Type'] = TYPES[extname(file)] ?? 'application/octet-stream';
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    let start = 0;
    let end = size - 1;
    let code = 200;
    if (range) {
      start = Number(range[1]);
      end = range[2] ? Math.min(Number(range[2]), size - 1) : size - 1;
      if (start >= size) {
        res.writeHead(416, { ...headers, 'Content-Range': `bytes */${size}` }).end();
        return;
      }
      code = 206;
      headers['Content-Range'] = `bytes ${start}-${end}/${size}`;
    }
    headers['Content-Length'] = String(end - start + 1);
    res.writeHead(code, headers);
    if (req.method === 'HEAD' || size === 0) res.end();
    else createReadStream(file, { start, end }).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}/`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
