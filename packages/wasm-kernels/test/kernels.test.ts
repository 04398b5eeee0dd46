// Each WASM kernel against a scalar float64 reference in JS, on seeded random inputs of odd sizes
// (not multiples of the 32-element block or the 4-lane vector), single-threaded and on two threads.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKernels, type KernelRuntime } from '../src/wasm-runtime.js';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function randomFloats(rand: () => number, n: number, scale = 1): Float32Array {
  return Float32Array.from({ length: n }, () => (rand() * 2 - 1) * scale);
}

/** Copies inputs into linear memory above the heap top, runs `body`, and releases them. */
function withBuffers<T>(rt: KernelRuntime, inputs: ArrayBufferView[], outputs: number[], body: (ptrs: number[], outs: number[]) => T): T {
  const k = rt.exports;
  const mark = k.lm_heap_mark();
  try {
    const ptrs = inputs.map((view) => {
      const p = k.lm_alloc(view.byteLength) >>> 0;
      rt.write(p, view);
      return p;
    });
    const outs = outputs.map((bytes) => k.lm_alloc(bytes) >>> 0);
    return body(ptrs, outs);
  } finally {
    k.lm_heap_reset(mark);
  }
}

const readF32 = (rt: KernelRuntime, ptr: number, n: number): Float32Array => new Float32Array(rt.memory.buffer, ptr, n).slice();

function expectClose(got: Float32Array, want: Float64Array, tol: (i: number) => number): void {
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs((got[i] as number) - (want[i] as number)) / tol(i));
  expect(worst).toBeLessThanOrEqual(1);
}

describe.each([1, 2])('kernels with %i thread(s)', (threads) => {
  let rt: KernelRuntime;
  beforeAll(async () => {
    rt = await startKernels(threads);
  });
  afterAll(async () => {
    await rt.dispose();
  });

  // [n rows, k columns, tokens]: k = 75 leaves an 11-element tail block, n = 37 a partial 4-row group.
  const linearCases: [number, number, number][] = [[37, 75, 1], [37, 75, 3], [1, 1, 1], [13, 33, 5], [66, 161, 2]];

  it.each(linearCases)('q4 matmul [%i, %i] x %i tokens matches dequantize-then-multiply', (n, k, T) => {
    const rand = rng(n * 1000 + k * 10 + T);
    const blocks = Math.ceil(k / 32);
    const packed = Uint8Array.from({ length: n * blocks * 16 }, () => Math.floor(rand() * 256));
    const scales = randomFloats(rand, n * blocks, 0.1);
    const x = randomFloats(rand, T * k, 3);
    const want = new Float64Array(T * n);
    const bound = new Float64Array(T * n);
    for (let t = 0; t < T; t++) {
      for (let r = 0; r < n; r++) {
        let sum = 0;
        let mag = 0;
        for (let c = 0; c < k; c++) {
          const byte = packed[(r * blocks + (c >> 5)) * 16 + ((c & 31) >> 1)]!;
          const level = (c & 1 ? byte >> 4 : byte & 15) - 8;
          const w = level * scales[r * blocks + (c >> 5)]!;
          sum += w * x[t * k + c]!;
          mag += Math.abs(w * x[t * k + c]!);
        }
        want[t * n + r] = sum;
        bound[t * n + r] = mag;
      }
    }
    const got = withBuffers(rt, [packed, scales, x], [T * n * 4], ([p, s, xp], [y]) => {
      expect(rt.exports.lm_test_linear(1, n, k, p!, s!, xp!, T, y!)).toBe(0);
      return readF32(rt, y!, T * n);
    });
    // Activations are rounded to int16 per block of 32: relative error about 2^-16 of the block's largest value.
    expectClose(got, want, (i) => 4e-5 * bound[i]! + 1e-6);
  });

  it.each(linearCases)('fp32 matmul [%i, %i] x %i tokens matches the scalar product', (n, k, T) => {
    const rand = rng(n * 7 + k * 3 + T);
    const weightKn = randomFloats(rand, k * n); // ONNX MatMul layout [k, n]
    const x = randomFloats(rand, T * k, 2);
    const want = new Float64Array(T * n);
    for (let t = 0; t < T; t++) {
      for (let r = 0; r < n; r++) {
        let sum = 0;
        for (let c = 0; c < k; c++) sum += weightKn[c * n + r]! * x[t * k + c]!;
        want[t * n + r] = sum;
      }
    }
    const got = withBuffers(rt, [weightKn, x], [T * n * 4], ([w, xp], [y]) => {
      expect(rt.exports.lm_test_linear(0, n, k, w!, 0, xp!, T, y!)).toBe(0);
      return readF32(rt, y!, T * n);
    });
    expectClose(got, want, () => 1e-5 * Math.sqrt(k) * 2);
  });

  it.each([1, 7, 67, 173])('RMSNorm of %i values', (n) => {
    const rand = rng(n);
    const x = randomFloats(rand, n, 5);
    const w = randomFloats(rand, n);
    const eps = 1e-5;
    const ms = x.reduce((a, v) => a + v * v, 0) / n;
    const want = Float64Array.from(x, (v, i) => (v / Math.sqrt(ms + eps)) * w[i]!);
    const got = withBuffers(rt, [x, w], [n * 4], ([xp, wp], [out]) => {
      rt.exports.lm_test_rmsnorm(out!, xp!, wp!, n, eps);
      return readF32(rt, out!, n);
    });
    expectClose(got, want, (i) => 1e-6 * (1 + Math.abs(want[i]!)));
  });

  it.each([
    [3, 6, true], [3, 6, false], [5, 10, true], [2, 64, false], [1, 2, true],
  ])('rotary on %i heads of %i, interleaved %s', (heads, headDim, interleaved) => {
    const rand = rng(heads * 100 + headDim);
    const half = headDim / 2;
    const v = randomFloats(rand, heads * headDim);
    const angle = Array.from({ length: half }, () => rand() * 6);
    const cos = Float32Array.from(angle, Math.cos);
    const sin = Float32Array.from(angle, Math.sin);
    const want = new Float64Array(v.length);
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < half; i++) {
        const [i0, i1] = interleaved ? [2 * i, 2 * i + 1] : [i, i + half];
        const a = v[h * headDim + i0]!, b = v[h * headDim + i1]!;
        want[h * headDim + i0] = a * cos[i]! - b * sin[i]!;
        want[h * headDim + i1] = a * sin[i]! + b * cos[i]!;
      }
    }
    const got = withBuffers(rt, [v, cos, sin], [], ([vp, c, s]) => {
      rt.exports.lm_test_rope(vp!, heads, headDim, c!, s!, interleaved ? 1 : 0);
      return readF32(rt, vp!, v.length);
    });
    expectClose(got, want, () => 1e-6);
  });

  it.each([1, 9, 171])('SwiGLU of %i values', (n) => {
    const rand = rng(n + 5);
    const g = randomFloats(rand, n, 20);
    const u = randomFloats(rand, n, 3);
    const want = Float64Array.from(g, (x, i) => (x / (1 + Math.exp(-x))) * u[i]!);
    const got = withBuffers(rt, [g, u], [n * 4], ([gp, up], [out]) => {
      rt.exports.lm_test_swiglu(out!, gp!, up!, n);
      return readF32(rt, out!, n);
    });
    expectClose(got, want, (i) => 1e-6 * (1 + Math.abs(want[i]!)));
  });

  it.each([[1, 8], [7, 6], [33, 10], [129, 64], [5, 3]])('attention over %i positions, head size %i', (len, headDim) => {
    const rand = rng(len * 31 + headDim);
    const q = randomFloats(rand, headDim, 2);
    const keys = randomFloats(rand, len * headDim, 2);
    const values = randomFloats(rand, len * headDim);
    const scale = 1 / Math.sqrt(headDim);
    const scores = Array.from({ length: len }, (_, j) => {
      let s = 0;
      for (let i = 0; i < headDim; i++) s += q[i]! * keys[j * headDim + i]!;
      return s * scale;
    });
    const max = Math.max(...scores);
    const e = scores.map((s) => Math.exp(s - max));
    const sum = e.reduce((a, b) => a + b, 0);
    const want = new Float64Array(headDim);
    for (let j = 0; j < len; j++) for (let i = 0; i < headDim; i++) want[i]! += (e[j]! / sum) * values[j * headDim + i]!;
    const got = withBuffers(rt, [q, keys, values], [headDim * 4, len * 4], ([qp, kp, vp], [out, sc]) => {
      rt.exports.lm_test_attend(out!, qp!, kp!, vp!, len, headDim, scale, sc!);
      return readF32(rt, out!, headDim);
    });
    expectClose(got, want, () => 2e-6);
  });
});
