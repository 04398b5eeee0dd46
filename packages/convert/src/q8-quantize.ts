// Packs an fp32 `[N, K]` weight into com.microsoft MatMulNBits' 8-bit layout (symmetric, block 32), the
// same codes and scales as ggml's Q8_0. Knows nothing of graphs or files.

import { roundToFloat16 } from './float16.js';
import { quantizeOutputs, type QuantizeOptions } from './q4-quantize.js';

/** Elements per quantization block along K (ggml's QK8_0 too). */
export const Q8_BLOCK_SIZE = 32;
// MatMulNBits' default zero point for 8 bits (2^(bits-1)) when no zero_points input is given.
const ZERO_POINT = 128;

export interface Q8Weight {
  codes: Uint8Array; // B: [N, blocksPerRow, 32], q + 128 for q in [-127, 127]; K padded with q = 0
  scales: Float32Array; // [N * blocksPerRow]
  blocksPerRow: number; // ceil(K / 32)
}

/**
 * Quantizes row-major `weight` [n, k] block by block along k, as ggml's quantize_row_q8_0:
 * scale = max|w| / 127 and q = round(w / scale), so w ≈ q * scale. MatMulNBits stores q + 128.
 * @example
 * const { codes, scales } = quantizeQ8(w, 64, 128, { fp16Scales: true }); // codes.length = 64 * 4 * 32
 */
export function quantizeQ8(weight: Float32Array, n: number, k: number, options: QuantizeOptions = {}): Q8Weight {
  if (weight.length !== n * k) throw new RangeError(`quantizeQ8: ${weight.length} values for [${n}, ${k}]`);
  const round = options.fp16Scales === true ? roundToFloat16 : Math.fround;
  const blocksPerRow = Math.ceil(k / Q8_BLOCK_SIZE);
  const { codes, scales } = quantizeOutputs(options.into, n * blocksPerRow * Q8_BLOCK_SIZE, n * blocksPerRow);
  codes.fill(ZERO_POINT);
  for (let row = 0; row < n; row++) {
    const rowStart = row * k;
    for (let b = 0; b < blocksPerRow; b++) {
      const start = b * Q8_BLOCK_SIZE;
      const end = Math.min(start + Q8_BLOCK_SIZE, k);
      let amax = 0;
      for (let i = start; i < end; i++) amax = Math.max(amax, Math.abs(weight[rowStart + i] as number));
      const scale = round(amax / 127);
      const inverse = scale === 0 ? 0 : 1 / scale;
      const block = row * blocksPerRow + b;
      scales[block] = scale;
      const at = block * Q8_BLOCK_SIZE - start;
      for (let i = start; i < end; i++) {
        // A scale rounded down to fp16 can push max|w| / scale just past 127.
        const q = Math.min(127, Math.max(-127, Math.round((weight[rowStart + i] as number) * inverse)));
        codes[at + i] = q + ZERO_POINT;
      }
    }
  }
  return { codes, scales, blocksPerRow };
}
