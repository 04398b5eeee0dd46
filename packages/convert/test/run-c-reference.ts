// An independent fp32 reference: a line-by-line port of llama2.c run.c's `forward()` (rmsnorm, matmul,
// RoPE on adjacent pairs, GQA attention with a KV cache, SwiGLU) over a checkpoint's Float32Arrays.
// Shares no code with the converter beyond the checkpoint reader; sums in doubles where run.c uses floats.

import type { Llama2cCheckpoint } from '../src/llama2c-checkpoint.js';

function rmsnorm(o: Float64Array, x: Float64Array, weight: Float32Array): void {
  let ss = 0;
  for (let j = 0; j < x.length; j++) ss += x[j]! * x[j]!;
  ss = 1 / Math.sqrt(ss / x.length + 1e-5);
  for (let j = 0; j < x.length; j++) o[j] = weight[j]! * (ss * x[j]!);
}

/** xout[d] = W[d, n] · x[n] */
function matmul(xout: Float64Array, x: Float64Array, w: Float32Array, n: number, d: number): void {
  for (let i = 0; i < d; i++) {
    let val = 0;
    for (let j = 0; j < n; j++) val += w[i * n + j]! * x[j]!;
    xout[i] = val;
  }
}

/** run.c's Transformer + RunState: call `forward(token, pos)` for pos = 0, 1, 2, … in order. */
export function createRunCReference(ckpt: Llama2cCheckpoint): { forward(token: number, pos: number): Float64Array } {
  const { dim, hiddenDim, nLayers, nHeads, nKvHeads, vocabSize, seqLen } = ckpt.config;
  const headSize = dim / nHeads;
  const kvDim = (dim * nKvHeads) / nHeads;
  const kvMul = nHeads / nKvHeads;
  const x = new Float64Array(dim);
  const xb = new Float64Array(dim);
  const xb2 = new Float64Array(dim);
  const hb = new Float64Array(hiddenDim);
  const hb2 = new Float64Array(hiddenDim);
  const q = new Float64Array(dim);
  const k = new Float64Array(kvDim);
  const v = new Float64Array(kvDim);
  const att = new Float64Array(seqLen);
  const keyCache = new Float64Array(nLayers * seqLen * kvDim);
  const valueCache = new Float64Array(nLayers * seqLen * kvDim);

  function forward(token: number, pos: number): Float64Array {
    for (let i = 0; i < dim; i++) x[i] = ckpt.tokenEmbedding[token * dim + i]!;
    for (let l = 0; l < nLayers; l++) {
      const w = ckpt.layers[l]!;
      rmsnorm(xb, x, w.rmsAtt);
      matmul(q, xb, w.wq, dim, dim);
      matmul(k, xb, w.wk, dim, kvDim);
      matmul(v, xb, w.wv, dim, kvDim);
      // RoPE relative positional encoding: complex-valued rotate q and k in each head
      for (let i = 0; i < dim; i += 2) {
        const headDim = i % headSize;
        const freq = 1 / Math.pow(10000, headDim / headSize);
        const val = pos * freq;
        const fcr = Math.cos(val);
        const fci = Math.sin(val);
        const rotn = i < kvDim ? 2 : 1; // how many vectors? 2 = q & k, 1 = q only
        for (let vi = 0; vi < rotn; vi++) {
          const vec = vi === 0 ? q : k;
          const v0 = vec[i]!;
          const v1 = vec[i + 1]!;
          vec[i] = v0 * fcr - v1 * fci;
          vec[i + 1] = v0 * fci + v1 * fcr;
        }
      }
      const loff = l * seqLen * kvDim;
      keyCache.set(k, loff + pos * kvDim);
      valueCache.set(v, loff + pos * kvDim);
      for (let h = 0; h < nHeads; h++) {
        const qh = h * headSize;
        const kvh = Math.floor(h / kvMul) * headSize;
        for (let t = 0; t <= pos; t++) {
          let score = 0;
          for (let i = 0; i < headSize; i++) score += q[qh + i]! * keyCache[loff + t * kvDim + kvh + i]!;
          att[t] = score / Math.sqrt(headSize);
        }
        let max = -Infinity;
        for (let t = 0; t <= pos; t++) max = Math.max(max, att[t]!);
        let sum = 0;
        for (let t = 0; t <= pos; t++) sum += att[t] = Math.exp(att[t]! - max);
        for (let i = 0; i < headSize; i++) xb[qh + i] = 0;
        for (let t = 0; t <= pos; t++) {
          const a = att[t]! / sum;
          for (let i = 0; i < headSize; i++) xb[qh + i]! += a * valueCache[loff + t * kvDim + kvh + i]!;
        }
      }
      matmul(xb2, xb, w.wo, dim, dim);
      for (let i = 0; i < dim; i++) x[i]! += xb2[i]!;
      rmsnorm(xb, x, w.rmsFfn);
      matmul(hb, xb, w.w1, dim, hiddenDim);
      matmul(hb2, xb, w.w3, dim, hiddenDim);
      for (let i = 0; i < hiddenDim; i++) {
        const g = hb[i]!;
        hb[i] = (g / (1 + Math.exp(-g))) * hb2[i]!; // silu(x) = x * σ(x)
      }
      matmul(xb, hb, w.w2, hiddenDim, dim);
      for (let i = 0; i < dim; i++) x[i]! += xb[i]!;
    }
    rmsnorm(x, x, ckpt.rmsFinal);
    const logits = new Float64Array(vocabSize);
    matmul(logits, x, ckpt.wcls, dim, vocabSize);
    return logits;
  }
  return { forward };
}
