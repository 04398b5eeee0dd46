// The RoPE cos/sin tables that GroupQueryAttention takes as cos_cache / sin_cache inputs.

/**
 * `[maxPositions, headDim/2]` tables: entry (pos, i) is cos/sin(pos * theta^(-2i/headDim)).
 * Computed in float32 steps the way llama2.c run.c does (`1.0f / powf(10000.0f, head_dim / (float)head_size)`,
 * `pos * freq`, `cosf`), so the converted model rotates by the same angles run.c does.
 * With `firstPosition`, the `maxPositions` rows from that position on (a slice of a larger table).
 * @example
 * const { cos, sin } = ropeCache(512, 8, 10000); // each 512 * 4 floats
 */
export function ropeCache(maxPositions: number, headDim: number, theta: number, firstPosition = 0): { cos: Float32Array; sin: Float32Array } {
  const half = headDim / 2;
  const cos = new Float32Array(maxPositions * half);
  const sin = new Float32Array(maxPositions * half);
  const f = Math.fround;
  for (let i = 0; i < half; i++) {
    const freq = f(1 / f(Math.pow(theta, f((2 * i) / headDim))));
    for (let row = 0; row < maxPositions; row++) {
      const angle = f((firstPosition + row) * freq);
      cos[row * half + i] = Math.cos(angle);
      sin[row * half + i] = Math.sin(angle);
    }
  }
  return { cos, sin };
}
