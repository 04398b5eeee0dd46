// Builds the bench page (bench/web) with Vite into a folder, for `pnpm bench --browser` and the tests.

import { fileURLToPath } from 'node:url';

/** bench/web, from bench/src/browser (tests, on sources) or bench/dist/browser (the CLI). */
export const BENCH_WEB = fileURLToPath(new URL('../../web/', import.meta.url));

export async function buildBenchPage(outDir: string): Promise<void> {
  const { build } = await import('vite');
  await build({ root: BENCH_WEB, logLevel: 'error', build: { outDir, emptyOutDir: true } });
}
