// Opens test/browser (bundled by Vite) in headless Debian Chromium from a 127.0.0.1 server with
// COOP/COEP, calls its `window.synth`, and reads the renderer processes' peak memory from /proc.

import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join, normalize, sep } from 'node:path';
import { chromium } from 'playwright-core';
import { build, defaultClientConditions } from 'vite';
import type { SynthJob, SynthJobResult } from './browser/job.js';

const ARGS = ['--no-sandbox', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8' };

export type Outcome = { ok: true; value: SynthJobResult } | { ok: false; error: string; name?: string };

export interface RendererPeak {
  pid: number;
  vmHwmBytes: number; // peak resident set since the process started
  vmRssBytes: number; // resident now
}

export interface SynthPage {
  run(where: 'inWorker' | 'inPage', job: SynthJob, abortAfterMs?: number): Promise<Outcome>;
  rendererPeaks(): RendererPeak[]; // every renderer process of this browser
  readonly console: string[];
  close(): Promise<void>;
}

function statusKb(pid: number, field: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) : 0;
}

/** Renderer processes descending from the browser process whose command line names `profile`. */
function rendererPids(profile: string): number[] {
  const procs = readdirSync('/proc').filter((d) => /^\d+$/.test(d)).flatMap((d) => {
    try {
      // Chromium rewrites its children's argv into one space-separated string: match on the text.
      const cmdline = readFileSync(`/proc/${d}/cmdline`, 'utf8').replaceAll('\0', ' ');
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      return [{ pid: Number(d), ppid, cmdline }];
    } catch {
      return []; // exited meanwhile
    }
  });
  const roots = procs.filter((p) => p.cmdline.includes(profile) && !p.cmdline.includes(' --type='));
  const family = new Set(roots.map((p) => p.pid));
  for (let grew = true; grew; ) {
    grew = false;
    for (const p of procs) if (family.has(p.ppid) && !family.has(p.pid)) (family.add(p.pid), (grew = true));
  }
  return procs.filter((p) => family.has(p.pid) && p.cmdline.includes(' --type=renderer')).map((p) => p.pid);
}

export async function openSynthPage(root: string): Promise<SynthPage> {
  const dist = mkdtempSync(join(tmpdir(), 'localm-synth-page-'));
  await build({
    root,
    configFile: false,
    logLevel: 'warn',
    resolve: { conditions: ['source', ...defaultClientConditions] },
    worker: { format: 'es' },
    build: { outDir: dist, emptyOutDir: true, target: 'es2022', minify: false, chunkSizeWarningLimit: 100_000, rolldownOptions: { checks: { pluginTimings: false } } },
  });
  const server = createServer((req, res) => {
    res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
    res.setHeader('Cross-Origin-Embedder-Policy', 'require-corp');
    res.setHeader('Cache-Control', 'no-store');
    let file = normalize(join(dist, decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)));
    if (!file.startsWith(dist + sep) && file !== dist) return void res.writeHead(404).end();
    if (existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
    if (!existsSync(file)) return void res.writeHead(404).end();
    res.writeHead(200, { 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const profile = mkdtempSync(join(tmpdir(), 'localm-synth-chromium-'));
  const context = await chromium.launchPersistentContext(profile, { executablePath: '/usr/bin/chromium', headless: true, args: ARGS });
  const page = context.pages()[0] ?? (await context.newPage());
  const lines: string[] = [];
  page.on('console', (m) => lines.push(`[${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => lines.push(`[pageerror] ${e.message}`));
  page.on('worker', (w) => w.on('console', (m) => lines.push(`[worker ${m.type()}] ${m.text()}`)));
  await page.goto(`${origin}/`);
  await page.waitForFunction(() => 'synth' in window);
  return {
    console: lines,
    run: (where, job, abortAfterMs) =>
      page.evaluate(
        ([w, j, a]) => (window as unknown as { synth: Record<string, (job: SynthJob, abortAfterMs?: number) => Promise<Outcome>> }).synth[w]!(j, a ?? undefined),
        [where, job, abortAfterMs ?? null] as const,
      ),
    rendererPeaks: () =>
      rendererPids(profile).map((pid) => ({ pid, vmHwmBytes: statusKb(pid, 'VmHWM') * 1024, vmRssBytes: statusKb(pid, 'VmRSS') * 1024 })),
    close: async () => {
      await context.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(profile, { recursive: true, force: true });
      rmSync(dist, { recursive: true, force: true });
    },
  };
}
