// The numeric kernels of one decoder step: q4 and fp32 matrix products, RMSNorm, rotary, attention,
// SwiGLU, exp. Each works on a slice it is given; splitting across threads is the caller's (decoder.c).

#include "lm.h"

static inline float hsum(v128_t v) {
  return wasm_f32x4_extract_lane(v, 0) + wasm_f32x4_extract_lane(v, 1) + wasm_f32x4_extract_lane(v, 2) +
         wasm_f32x4_extract_lane(v, 3);
}

void quantize_i16(const float *x, int k, int16_t *xq, float *xs) {
  int blocks = (k + QBLOCK - 1) / QBLOCK;
  for (int b = 0; b < blocks; b++) {
    const float *xb = x + b * QBLOCK;
    int len = k - b * QBLOCK < QBLOCK ? k - b * QBLOCK : QBLOCK;
    float amax = 0;
    for (int i = 0; i < len; i++) {
      float a = __builtin_fabsf(xb[i]);
      amax = a > amax ? a : amax;
    }
    float inv = amax > 0 ? 32767.0f / amax : 0;
    xs[b] = amax / 32767.0f;
    int16_t *q = xq + b * QBLOCK;
    if (len == QBLOCK) {
      v128_t vinv = wasm_f32x4_splat(inv);
      for (int i = 0; i < QBLOCK; i += 8) {
        v128_t lo = wasm_i32x4_trunc_sat_f32x4(wasm_f32x4_nearest(wasm_f32x4_mul(wasm_v128_load(xb + i), vinv)));
        v128_t hi = wasm_i32x4_trunc_sat_f32x4(wasm_f32x4_nearest(wasm_f32x4_mul(wasm_v128_load(xb + i + 4), vinv)));
        wasm_v128_store(q + i, wasm_i16x8_narrow_i32x4(lo, hi));
      }
    } else {
      for (int i = 0; i < QBLOCK; i++) q[i] = i < len ? (int16_t)__builtin_rintf(xb[i] * inv) : 0;
    }
  }
}

// Four i16x8 vectors of signed 4-bit weights from one 16-byte block (see Linear in lm.h).
#define UNPACK4(v, u0, u1, u2, u3)                                                                             \
  v128_t u0 = wasm_i16x8_shr(wasm_i16x8_shl(v, 12), 12);                                                       \
  v128_t u1 = wasm_i16x8_shr(wasm_i16x8_shl(v, 8), 12);                                                        \
  v128_t u2 = wasm_i16x8_shr(wasm_i16x8_shl(v, 4), 12);                                                        \
  v128_t u3 = wasm_i16x8_shr(v, 12)

static inline v128_t dot4(v128_t u0, v128_t u1, v128_t u2, v128_t u3, const int16_t *a) {
  v128_t d0 = wasm_i32x4_dot_i16x8(u0, wasm_v128_load(a));
  v128_t d1 = wasm_i32x4_dot_i16x8(u1, wasm_v128_load(a + 8));
  v128_t d2 = wasm_i32x4_dot_i16x8(u2, wasm_v128_load(a + 16));
  v128_t d3 = wasm_i32x4_dot_i16x8(u3, wasm_v128_load(a + 24));
  return wasm_i32x4_add(wasm_i32x4_add(d0, d1), wasm_i32x4_add(d2, d3));
}

// Decode: one token, two rows per pass sharing the activation loads.
static void q4_rows_1(const Linear *W, const int16_t *xq, const float *xs, float *y, int r0, int r1) {
  const int nb = W->blocks;
  int n = r0;
  for (; n + 2 <= r1; n += 2) {
    const v128_t *q0 = (const v128_t *)(W->q + (size_t)n * nb * 16);
    const v128_t *q1 = q0 + nb;
    const float *s0 = W->s + (size_t)n * nb, *s1 = s0 + nb;
    v128_t acc0 = wasm_f32x4_splat(0), acc1 = wasm_f32x4_splat(0);
    for (int b = 0; b < nb; b++) {
      const int16_t *a = xq + b * QBLOCK;
      float sa = xs[b];
      v128_t v0 = wasm_v128_load(q0 + b), v1 = wasm_v128_load(q1 + b);
      UNPACK4(v0, u0, u1, u2, u3);
      v128_t d0 = dot4(u0, u1, u2, u3, a);
      UNPACK4(v1, w0, w1, w2, w3);
      v128_t d1 = dot4(w0, w1, w2, w3, a);
      acc0 = wasm_f32x4_add(acc0, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(d0), wasm_f32x4_splat(s0[b] * sa)));
      acc1 = wasm_f32x4_add(acc1, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(d1), wasm_f32x4_splat(s1[b] * sa)));
    }
    y[n] = hsum(acc0);
    y[n + 1] = hsum(acc1);
  }
  for (; n < r1; n++) {
    const v128_t *q0 = (const v128_t *)(W->q + (size_t)n * nb * 16);
    const float *s0 = W->s + (size_t)n * nb;
    v128_t acc0 = wasm_f32x4_splat(0);
    for (int b = 0; b < nb; b++) {
      v128_t v0 = wasm_v128_load(q0 + b);
      UNPACK4(v0, u0, u1, u2, u3);
      v128_t d0 = dot4(u0, u1, u2, u3, xq + b * QBLOCK);
      acc0 = wasm_f32x4_add(acc0, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(d0), wasm_f32x4_splat(s0[b] * xs[b])));
    }
    y[n] = hsum(acc0);
  }
}

// Prefill: each row's blocks are unpacked once and applied to up to four tokens.
void q4_rows(const Linear *W, const int16_t *xq, const float *xs, int T, float *y, int ldy, int r0, int r1) {
  if (T == 1) {
    q4_rows_1(W, xq, xs, y, r0, r1);
    return;
  }
  const int nb = W->blocks, kq = nb * QBLOCK;
  for (int n = r0; n < r1; n++) {
    const v128_t *q0 = (const v128_t *)(W->q + (size_t)n * nb * 16);
    const float *s0 = W->s + (size_t)n * nb;
    for (int t0 = 0; t0 < T; t0 += 4) {
      int tn = T - t0 < 4 ? T - t0 : 4;
      v128_t acc[4] = {wasm_f32x4_splat(0), wasm_f32x4_splat(0), wasm_f32x4_splat(0), wasm_f32x4_splat(0)};
      for (int b = 0; b < nb; b++) {
        v128_t v0 = wasm_v128_load(q0 + b);
        UNPACK4(v0, u0, u1, u2, u3);
        for (int t = 0; t < tn; t++) {
          int tok = t0 + t;
          v128_t d = dot4(u0, u1, u2, u3, xq + (size_t)tok * kq + b * QBLOCK);
          float sc = s0[b] * xs[tok * nb + b];
          acc[t] = wasm_f32x4_add(acc[t], wasm_f32x4_mul(wasm_f32x4_convert_i32x4(d), wasm_f32x4_splat(sc)));
        }
      }
      for (int t = 0; t < tn; t++) y[(size_t)(t0 + t) * ldy + n] = hsum(acc[t]);
    }
  }
}

static inline float dot_f32(const float *a, const float *b, int k) {
  v128_t acc0 = wasm_f32x4_splat(0), acc1 = wasm_f32x4_splat(0);
  int i = 0;
  for (; i + 8 <= k; i += 8) {
    acc0 = wasm_f32x4_add(acc0, wasm_f32x4_mul(wasm_v128_load(a + i), wasm_v128_load(b + i)));
    acc1 = wasm_f32x4_add(acc1, wasm_f32x4_mul(wasm_v128_load(a + i + 4), wasm_v128_load(b + i + 4)));
  }
  for (; i + 4 <= k; i += 4) acc0 = wasm_f32x4_add(acc0, wasm_f32x4_mul(wasm_v128_load(a + i), wasm_v128_load(b + i)));
  float sum = hsum(wasm_f32x4_add(acc0, acc1));
  for (; i < k; i++) sum += a[i] * b[i];
  return sum;
}

void f32_rows(const Linear *W, const float *x, int T, float *y, int ldy, int r0, int r1) {
  const int k = W->k;
  for (int n = r0; n < r1; n++) {
    const float *row = W->w + (size_t)n * k;
    for (int t = 0; t < T; t++) y[(size_t)t * ldy + n] = dot_f32(row, x + (size_t)t * k, k);
  }
}

void rmsnorm(float *out, const float *x, const float *w, int n, float eps) {
  float ss = dot_f32(x, x, n);
  float inv = 1.0f / __builtin_sqrtf(ss / (float)n + eps);
  for (int i = 0; i < n; i++) out[i] = x[i] * inv * w[i];
}

void rope(float *v, int heads, int head_dim, const float *cos_row, const float *sin_row, int interleaved) {
  int half = head_dim / 2;
  for (int h = 0; h < heads; h++) {
    float *x = v + h * head_dim;
    for (int i = 0; i < half; i++) {
      int i0 = interleaved ? 2 * i : i, i1 = interleaved ? 2 * i + 1 : i + half;
      float a = x[i0], b = x[i1], c = cos_row[i], s = sin_row[i];
      x[i0] = a * c - b * s;
      x[i1] = a * s + b * c;
    }
  }
}

// exp via 2^n * p(r), r = x - n ln2 in [-ln2/2, ln2/2]; degree-6 Taylor, relative error < 2e-7.
float lm_expf(float x) {
  if (x < -87.3f) return 0;
  if (x > 88.7f) return __builtin_inff();
  float n = __builtin_rintf(x * 1.44269504f);
  float r = x - n * 0.693145752f - n * 1.42860677e-6f;
  float p = 1.0f + r * (1.0f + r * (0.5f + r * (1.0f / 6 + r * (1.0f / 24 + r * (1.0f / 120 + r * (1.0f / 720))))));
  union { float f; int32_t i; } u = {p};
  u.i += (int32_t)n << 23;
  return u.f;
}

void swiglu(float *out, const float *gate, const float *up, int n) {
  for (int i = 0; i < n; i++) {
    float g = gate[i];
    out[i] = g * (1.0f / (1.0f + lm_expf(-g))) * up[i];
  }
}

void attend(float *out, const float *q, const float *keys, const float *values, int len, int head_dim, float scale,
            float *scores) {
  float max = -__builtin_inff();
  for (int j = 0; j < len; j++) {
    float s = dot_f32(q, keys + (size_t)j * head_dim, head_dim) * scale;
    scores[j] = s;
    max = s > max ? s : max;
  }
  float sum = 0;
  for (int j = 0; j < len; j++) {
    scores[j] = lm_expf(scores[j] - max);
    sum += scores[j];
  }
  float inv = 1.0f / sum;
  for (int i = 0; i < head_dim; i++) out[i] = 0;
  for (int j = 0; j < len; j++) {
    const float *v = values + (size_t)j * head_dim;
    float p = scores[j] * inv;
    int i = 0;
    v128_t vp = wasm_f32x4_splat(p);
    for (; i + 4 <= head_dim; i += 4)
      wasm_v128_store(out + i, wasm_f32x4_add(wasm_v128_load(out + i), wasm_f32x4_mul(vp, wasm_v128_load(v + i))));
    for (; i < head_dim; i++) out[i] += p * v[i];
  }
}
