// The incremental SHA-256 against WebCrypto's one-shot crypto.subtle.digest, at every padding boundary
// and with the input cut into random pieces.

import { expect, test } from 'vitest';
import { Sha256, sha256Hex } from '../../src/loading/sha256.js';

async function subtleHex(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return [...digest].map((b) => b.toString(16).padStart(2, '0')).join('');
}

function seededBytes(length: number, seed: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

test.each([0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 128, 1000, 100_003])('%i bytes, fed in random pieces, equal crypto.subtle.digest', async (length) => {
  const bytes = seededBytes(length, length + 7);
  const hash = new Sha256();
  let state = length + 1;
  for (let at = 0; at < length; ) {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    const size = 1 + (state % 150);
    hash.update(bytes.subarray(at, at + size));
    at += size;
  }
  expect(hash.digestHex()).toBe(await subtleHex(bytes));
});

test('sha256Hex hashes an async stream of chunks', async () => {
  const bytes = seededBytes(3 * 65_536 + 17, 99);
  async function* pieces(): AsyncGenerator<Uint8Array> {
    for (let at = 0; at < bytes.length; at += 65_536) yield bytes.subarray(at, at + 65_536);
  }
  expect(await sha256Hex(pieces())).toBe(await subtleHex(bytes));
  expect(await sha256Hex(new Uint8Array())).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
});
