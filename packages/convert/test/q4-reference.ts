// com.microsoft MatMulNBits' dequantization (bits 4, block 32, no zero_points input), written from the
// operator's documentation rather than from our packer: the reference the q4 tests compare against.

/** B [n, ceil(k/32), 16] + scales [n * ceil(k/32)] → fp32 [n, k]; element 2i of a block is byte i's low nibble. */
export function dequantizeMatMulNBits(packed: Uint8Array, scales: Float32Array, n: number, k: number): Float32Array {
  const blocks = Math.ceil(k / 32);
  const w = new Float32Array(n * k);
  for (let row = 0; row < n; row++) {
    for (let col = 0; col < k; col++) {
      const block = row * blocks + Math.floor(col / 32);
      const inBlock = col % 32;
      const byte = packed[block * 16 + (inBlock >> 1)]!;
      const q = inBlock % 2 === 0 ? byte & 0x0f : byte >> 4;
      w[row * k + col] = (q - 8) * scales[block]!; // 8: the default zero point for 4 bits
    }
  }
  return w;
}
