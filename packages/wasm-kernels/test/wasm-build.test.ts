// The committed wasm/*.wasm must be what scripts/build-wasm.sh makes from csrc/ today.

import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const PACKAGE = new URL('../', import.meta.url).pathname;
const hasClang = spawnSync('clang', ['--version']).status === 0 && spawnSync('wasm-ld', ['--version']).status === 0;

describe('wasm build', () => {
  it.skipIf(!hasClang)('rebuilding from csrc/ gives the committed .wasm byte for byte', () => {
    const out = mkdtempSync(join(tmpdir(), 'wasm-build-'));
    try {
      execFileSync('sh', [join(PACKAGE, 'scripts/build-wasm.sh'), out], { stdio: 'pipe' });
      for (const name of ['decoder.wasm', 'decoder-mt.wasm']) {
        const built = readFileSync(join(out, name));
        const committed = readFileSync(join(PACKAGE, 'wasm', name));
        expect(built.equals(committed), `${name} is stale: run packages/wasm-kernels/scripts/build-wasm.sh`).toBe(true);
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
  if (!hasClang) it.skip('needs clang and wasm-ld (Debian: apt-get install clang lld) to check the committed .wasm', () => {});
});
