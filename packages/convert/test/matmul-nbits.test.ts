// Proves the 4-bit packing: onnxruntime's MatMulNBits on our packed weight equals a dequantize-then-matmul
// written here from the operator's spec (low nibble first, (q - 8) * scale, K padded to the block).

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createExternalDataWriter } from '../src/external-data-writer.js';
import { DataType, GraphBuilder } from '../src/graph-builder.js';
import { openNodeBinary } from '../src/node-sink.js';
import { quantizeQ4 } from '../src/q4-quantize.js';
import { dequantizeMatMulNBits } from './q4-reference.js';
import { seededUniform } from './seeded-random.js';

let workDir: string;
beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'localm-matmulnbits-'));
});
afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

async function runMatMulNBits(a: Float32Array, m: number, weight: Float32Array, n: number, k: number): Promise<Float32Array> {
  const dir = await mkdtemp(join(workDir, `k${k}-`));
  const data = createExternalDataWriter(await openNodeBinary(join(dir, 'model.onnx_data')), 'model.onnx_data');
  const g = new GraphBuilder(data);
  const input = g.input('a', DataType.float, ['m', k]);
  const { packed, scales, blocksPerRow } = quantizeQ4(weight, n, k);
  const b = await g.weight('w.weight_q4', DataType.uint8, [n, blocksPerRow, 16], packed);
  const s = await g.weight('w.scales', DataType.float, [n * blocksPerRow], scales);
  g.op('MatMulNBits', [input, b, s], {
    name: 'w.MatMulNBits',
    domain: 'com.microsoft',
    attributes: { K: k, N: n, bits: 4, block_size: 32 },
    output: 'y',
  });
  g.output('y', DataType.float, ['m', n]);
  await data.close();
  await writeFile(join(dir, 'model.onnx'), g.encode({ producerVersion: 'test' }));

  const session = await ort.InferenceSession.create(join(dir, 'model.onnx'));
  const out = await session.run({ a: new ort.Tensor('float32', a, [m, k]) });
  await session.release();
  const y = out['y']!.data as Float32Array;

  // The reference: dequantize the packed bytes as the spec says, then multiply in doubles.
  const w = dequantizeMatMulNBits(packed, scales, n, k);
  let maxDiff = 0;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let sum = 0;
      for (let c = 0; c < k; c++) sum += a[i * k + c]! * w[j * k + c]!;
      maxDiff = Math.max(maxDiff, Math.abs(sum - y[i * n + j]!));
    }
  }
  // And the quantization itself: each weight within one step (|scale|) of the original.
  for (let j = 0; j < n; j++) {
    for (let c = 0; c < k; c++) {
      const step = Math.abs(scales[j * blocksPerRow + Math.floor(c / 32)]!);
      expect(Math.abs(w[j * k + c]! - weight[j * k + c]!)).toBeLessThanOrEqual(step * (1 + 1e-6));
    }
  }
  return Float32Array.of(maxDiff);
}

test.each([
  ['K a multiple of the block (q_proj, 64 → 64)', 64, 64],
  ['K padded to the block (down_proj, 172 → 64)', 172, 64],
  ['K below one block, N = vocab-like', 20, 96],
])('MatMulNBits on our packing equals dequantize-then-matmul within 1e-4: %s', async (_, k, n) => {
  const random = seededUniform(1234 + k * 31 + n);
  const m = 5;
  const a = Float32Array.from({ length: m * k }, () => random() * 2 - 1);
  const weight = Float32Array.from({ length: n * k }, () => (random() * 2 - 1) * 0.2);
  const [maxDiff] = await runMatMulNBits(a, m, weight, n, k);
  expect(maxDiff).toBeLessThan(1e-4);
});
