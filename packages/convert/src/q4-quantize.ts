// Packs an fp32 `[N, K]` weight into com.microsoft MatMulNBits' 4-bit layout (symmetric, block 32).
// Knows nothing of graphs or files.

import { roundToFloat16 } from './float16.js';

/** Elements per quantization block along K. */
export const Q4_BLOCK_SIZE = 32;
const BLOB_BYTES = Q4_BLOCK_SIZE / 2;
// MatMulNBits' default zero point for 4 bits (2^(bits-1)) when no zero_points input is given.
const ZERO_POINT = 8;

export interface Q4Weight {
  packed: Uint8Array; // B: [N, blocksPerRow, 16], element 2i in the low nibble of byte i, 2i+1 in the high
  scales: Float32Array; // [N * blocksPerRow]
  blocksPerRow: number; // ceil(K / 32); K is padded with zeros up to it
}

export interface QuantizeOptions {
  // Round each scale to the nearest fp16 before choosing the codes, so that a ggml file (whose block
  // scales are fp16) holds exactly the same weights. Default false: scales keep full float32 precision.
  fp16Scales?: boolean;
  // Buffers to fill instead of allocating (at least the result's sizes; views of exactly that size come
  // back), so a writer quantizing slice after slice makes no garbage.
  into?: { codes: Uint8Array; scales: Float32Array };
}

/** `into`'s buffers cut to size, or new ones. */
export function quantizeOutputs(into: QuantizeOptions['into'], codeBytes: number, scaleCount: number): { codes: Uint8Array; scales: Float32Array } {
  if (into === undefined) return { codes: new Uint8Array(codeBytes), scales: new Float32Array(scaleCount) };
  if (into.codes.length < codeBytes || into.scales.length < scaleCount) throw new RangeError(`quantize: output buffers too small for ${codeBytes} bytes and ${scaleCount} scales`);
  return { codes: into.codes.subarray(0, codeBytes), scales: into.scales.subarray(0, scaleCount) };
}

/**
 * Quantizes row-major `weight` [n, k] (PyTorch's `[out, in]`) block by block along k.
 * Like onnxruntime's MlasQuantizeBlockwise (symmetric): the element of largest magnitude, with its sign,
 * maps to -8, so scale = that / -8 and q = clamp(round(w / scale) + 8, 0, 15). This uses all 16 levels,
 * where max|w| / 7 would leave -8 unused.
 * @example
 * const { packed, scales } = quantizeQ4(w, 64, 172); // packed.length = 64 * 6 * 16
 */
export function quantizeQ4(weight: Float32Array, n: number, k: number, options: QuantizeOptions = {}): Q4Weight {
  const round = options.fp16Scales === true ? roundToFloat16 : Math.fround;
  if (weight.length !== n * k) throw new RangeError(`quantizeQ4: ${weight.length} values for [${n}, ${k}]`);
  const blocksPerRow = Math.ceil(k / Q4_BLOCK_SIZE);
  const { codes: packed, scales } = quantizeOutputs(options.into, n * blocksPerRow * BLOB_BYTES, n * blocksPerRow);
  const q = new Uint8Array(Q4_BLOCK_SIZE);
  for (let row = 0; row < n; row++) {
    const rowStart = row * k;
    for (let b = 0; b < blocksPerRow; b++) {
      const start = b * Q4_BLOCK_SIZE;
      const end = Math.min(start + Q4_BLOCK_SIZE, k);
      let extreme = 0;
      for (let i = start; i < end; i++) {
        const v = weight[rowStart + i] as number;
        if (Math.abs(v) > Math.abs(extreme)) extreme = v;
      }
      const scale = round(extreme / -ZERO_POINT);
      const inverse = scale === 0 ? 0 : 1 / scale;
      q.fill(ZERO_POINT); // the padding past k dequantizes to exactly 0
      for (let i = start; i < end; i++) {
        const level = Math.round((weight[rowStart + i] as number) * inverse) + ZERO_POINT;
        q[i - start] = Math.min(15, Math.max(0, level));
      }
      const block = row * blocksPerRow + b;
      scales[block] = scale;
      const blob = block * BLOB_BYTES;
      for (let i = 0; i < BLOB_BYTES; i++) {
        packed[blob + i] = (q[2 * i] as number) | ((q[2 * i + 1] as number) << 4);
      }
    }
  }
  return { packed, scales, blocksPerRow };
}
