// Ranged reads over blobs laid end to end (the Cache API's parts, an OPFS File) against plain slices of
// the same bytes.

import { expect, test } from 'vitest';
import { blobRanges } from '../../src/loading/storage.js';

test('ranges across part boundaries equal the bytes they stand for', async () => {
  const bytes = Uint8Array.from({ length: 10_007 }, (_, i) => (i * 2654435761) >>> 24);
  const cuts = [0, 1, 4096, 4097, 7000, 10_007];
  const blobs = cuts.slice(1).map((end, i) => new Blob([bytes.slice(cuts[i], end)]));
  const ranges = blobRanges(blobs, 'test');
  expect(ranges.size).toBe(bytes.length);
  let seed = 7;
  const next = (n: number): number => ((seed = (seed * 1103515245 + 12345) >>> 0) % n);
  for (let i = 0; i < 200; i++) {
    const offset = next(bytes.length);
    const length = next(bytes.length - offset + 1);
    const target = new Uint8Array(length);
    await ranges.read(offset, target);
    expect(target).toEqual(bytes.subarray(offset, offset + length));
  }
  await expect(ranges.read(10_000, new Uint8Array(8))).rejects.toThrow(RangeError);
});
