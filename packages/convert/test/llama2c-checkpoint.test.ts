// readLlama2cCheckpoint on the real stories260K file and on damaged copies of it.

import { readFile } from 'node:fs/promises';
import { isLocalmError } from '@localm/errors';
import { describe, expect, test } from 'vitest';
import { readLlama2cCheckpoint } from '../src/llama2c-checkpoint.js';

const FIXTURE = new URL('../../../models/stories260k-source/stories260K.bin', import.meta.url);
const bytes = new Uint8Array(await readFile(FIXTURE));

/** A copy of the checkpoint with header field `index` (dim, hidden_dim, ...) set to `value`. */
function withHeaderField(index: number, value: number): Uint8Array {
  const copy = bytes.slice();
  new DataView(copy.buffer).setInt32(index * 4, value, true);
  return copy;
}

function expectCorrupt(input: Uint8Array): void {
  let thrown: unknown;
  try {
    readLlama2cCheckpoint(input, 'stories260K.bin');
  } catch (err) {
    thrown = err;
  }
  expect(isLocalmError(thrown, 'corrupt_model'), String(thrown)).toBe(true);
  expect(String((thrown as Error).message)).toMatch(/^stories260K\.bin: /);
}

describe('readLlama2cCheckpoint', () => {
  test('reads the stories260K header and places every tensor (README: 264128 floats)', () => {
    const ckpt = readLlama2cCheckpoint(bytes);
    expect(ckpt.config).toEqual({
      dim: 64, hiddenDim: 172, nLayers: 5, nHeads: 8, nKvHeads: 4, vocabSize: 512, seqLen: 512, sharedClassifier: true,
    });
    expect(ckpt.tokenEmbedding.length).toBe(512 * 64);
    expect(ckpt.layers).toHaveLength(5);
    const layer = ckpt.layers[4]!;
    expect([layer.wq.length, layer.wk.length, layer.wv.length, layer.wo.length]).toEqual([4096, 2048, 2048, 4096]);
    expect([layer.w1.length, layer.w2.length, layer.w3.length]).toEqual([172 * 64, 64 * 172, 172 * 64]);
    expect(ckpt.wcls).toBe(ckpt.tokenEmbedding);
    // The token embedding starts right after the 28-byte header; rms_final sits just before the two
    // [512, 4] freq_cis tables that end the file.
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    expect(ckpt.tokenEmbedding[0]).toBe(view.getFloat32(28, true));
    const rmsFinalAt = bytes.byteLength - 2 * 512 * 4 * 4 - 64 * 4;
    expect(ckpt.rmsFinal[63]).toBe(view.getFloat32(rmsFinalAt + 63 * 4, true));
    // RMSNorm gains of a trained model are positive and near 1; a misplaced view would read matrix values.
    expect(Math.min(...ckpt.rmsFinal)).toBeGreaterThan(0);
  });

  test('reads from a Uint8Array that does not start on a 4-byte boundary', () => {
    const shifted = new Uint8Array(bytes.byteLength + 1).subarray(1);
    shifted.set(bytes);
    const ckpt = readLlama2cCheckpoint(shifted);
    expect(ckpt.rmsFinal).toEqual(readLlama2cCheckpoint(bytes).rmsFinal);
  });

  const badHeaders: [string, number, number][] = [
    ['dim 0', 0, 0],
    ['negative hidden_dim', 1, -172],
    ['n_layers 0', 2, 0],
    ['n_heads not dividing dim', 3, 7],
    ['n_kv_heads not dividing n_heads', 4, 3],
    ['n_kv_heads above n_heads', 4, 16],
    ['vocab_size 0', 5, 0],
    ['seq_len 0', 6, 0],
    // Sizes that would ask for terabytes if anything were allocated from them before the length check.
    ['dim 2^30', 0, 1 << 30],
    ['seq_len 2^31-1', 6, 0x7fffffff],
    ['a different but valid shape (n_layers 4): length mismatch', 2, 4],
    // A negative vocab_size means an unshared classifier follows: the file is then too short.
    ['vocab_size -512', 5, -512],
  ];
  test.each(badHeaders)('header with %s → corrupt_model', (_, index, value) => {
    expectCorrupt(withHeaderField(index, value));
  });

  test('truncated file → corrupt_model', () => {
    expectCorrupt(bytes.subarray(0, bytes.byteLength - 4));
    expectCorrupt(bytes.subarray(0, 1000));
    expectCorrupt(bytes.subarray(0, 20)); // shorter than the header
    expectCorrupt(new Uint8Array(0));
  });

  test('trailing bytes → corrupt_model', () => {
    const longer = new Uint8Array(bytes.byteLength + 4);
    longer.set(bytes);
    expectCorrupt(longer);
  });
});
