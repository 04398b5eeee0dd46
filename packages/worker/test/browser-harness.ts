// Reusable harness for browser tests: bundles a test page with vite, serves it (and the repo's
// models/) from a small static server on 127.0.0.1 with COOP/COEP, and drives headless Debian
// Chromium through playwright-core. Knows nothing of what the page does.
//
// const harness = await openBrowserHarness({ page: fileURLToPath(new URL('./browser', import.meta.url)) });
// await harness.page.goto(`${harness.origin}/`);  // the models folder is at `${harness.origin}/models/`

import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { build, defaultClientConditions } from 'vite';

export const CHROMIUM = '/usr/bin/chromium';
/** Debian's chromium is there (`.ci/run` installs it); tests skip with this reason when it is not. */
export const hasChromium = existsSync(CHROMIUM);
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const MODELS_DIR = join(REPO_ROOT, 'models');

/** Flags measured to work for headless Debian chromium on these machines (see FACTS.md). */
export const CHROMIUM_ARGS = ['--no-sandbox', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--enable-unsafe-webgpu'];

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.css': 'text/css',
  '.png': 'image/png',
};

/**
 * Bundles the vite app whose index.html is in `root` into a fresh temp folder and returns that folder.
 * Our packages resolve through their `source` condition, so no `tsc -b` is needed first.
 */
export async function buildTestPage(root: string): Promise<string> {
  const outDir = mkdtempSync(join(tmpdir(), 'localm-page-'));
  await build({
    root,
    configFile: false,
    logLevel: 'warn',
    resolve: { conditions: ['source', ...defaultClientConditions] },
    optimizeDeps: { exclude: ['onnxruntime-web'] },
    worker: { format: 'es' },
    // pluginTimings: rolldown's note that the build spent its time in plugins; noise in test output.
    build: { outDir, emptyOutDir: true, target: 'es2022', minify: false, chunkSizeWarningLimit: 100_000, rolldownOptions: { checks: { pluginTimings: false } } },
  });
  return outDir;
}

export interface StaticServer {
  readonly origin: string; // http://127.0.0.1:PORT
  close(): Promise<void>;
}

/**
 * Serves folders under URL prefixes (`{ '/': dist, '/models/': MODELS_DIR }`, longest prefix wins) with
 * the headers that make a page cross-origin isolated (unless `isolated: false`). GET and HEAD;
 * Content-Length; 404 otherwise.
 */
export async function startStaticServer(mounts: Record<string, string>, options: { isolated?: boolean } = {}): Promise<StaticServer> {
  const prefixes = Object.keys(mounts).sort((a, b) => b.length - a.length);
  const server: Server = createServer((req, res) => {
    if (options.isolated !== false) {
      res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
      res.setHeader('Cross-Origin-Embedder-Policy', 'require-corp');
      res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
    }
    res.setHeader('Cache-Control', 'no-store');
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const prefix = prefixes.find((p) => path.startsWith(p));
    if ((req.method !== 'GET' && req.method !== 'HEAD') || prefix === undefined) return void res.writeHead(404).end();
    const base = mounts[prefix]!;
    let file = normalize(join(base, path.slice(prefix.length)));
    if (!file.startsWith(normalize(base + sep)) && file !== normalize(base)) return void res.writeHead(404).end();
    if (existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
    if (!existsSync(file) || !statSync(file).isFile()) return void res.writeHead(404).end();
    const body = readFileSync(file);
    res.writeHead(200, { 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream', 'Content-Length': body.length });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export interface Chromium {
  readonly context: BrowserContext;
  readonly page: Page;
  readonly console: string[]; // the page's and its workers' console lines, for failure messages
  close(): Promise<void>;
}

/** Launches headless chromium with a fresh temporary profile (launch() refuses --user-data-dir). */
export async function launchChromium(): Promise<Chromium> {
  const profile = mkdtempSync(join(tmpdir(), 'localm-chromium-'));
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  const page = context.pages()[0] ?? (await context.newPage());
  const lines: string[] = [];
  page.on('console', (m) => lines.push(`[${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => lines.push(`[pageerror] ${e.message}`));
  page.on('worker', (w) => w.on('console', (m) => lines.push(`[worker ${m.type()}] ${m.text()}`)));
  return {
    context,
    page,
    console: lines,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

export interface BrowserHarness extends Chromium {
  readonly origin: string; // the page is at `${origin}/`, the repo's models at `${origin}/models/`
  readonly dist: string; // the built page, to serve again (e.g. without isolation); removed by close()
}

/** Builds the page in `pageRoot`, serves it with the repo's models, and opens it in chromium. */
export async function openBrowserHarness(options: { pageRoot: string; mounts?: Record<string, string> }): Promise<BrowserHarness> {
  const dist = await buildTestPage(options.pageRoot);
  const server = await startStaticServer({ '/': dist, '/models/': MODELS_DIR, ...options.mounts });
  const browser = await launchChromium().catch(async (err: unknown) => {
    await server.close();
    throw err;
  });
  await browser.page.goto(`${server.origin}/`);
  return {
    ...browser,
    origin: server.origin,
    dist,
    close: async () => {
      await browser.close();
      await server.close();
      rmSync(dist, { recursive: true, force: true });
    },
  };
}
