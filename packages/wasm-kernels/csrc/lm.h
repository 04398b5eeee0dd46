// Shared declarations of the localm WASM decoder: kernels, the bump allocator, the thread pool.
// Plain C for clang's wasm32 target, no libc; SIMD128 throughout, atomics only in the threaded build.

#ifndef LM_H
#define LM_H

#include <stddef.h>
#include <stdint.h>
#include <wasm_simd128.h>

#define EXPORT(name) __attribute__((export_name(#name)))
#define QBLOCK 32 // MatMulNBits block size: elements of K per scale

// One linear layer y[n] = sum_k W[n, k] x[k], in the layout its kernel reads.
//   f32: w row-major [n, k] (ONNX MatMul stores [k, n]; transposed at load).
//   q4:  q [n, blocks, 8 x u16]: lane j of a block holds the signed nibbles of elements j, 8+j, 16+j, 24+j
//        (bits 0-3, 4-7, 8-11, 12-15), so four shift pairs unpack a block into four i16x8 vectors;
//        s [n, blocks] fp32 scales. Padding past k is 0.
typedef struct {
  int n, k, blocks, is_q4;
  float *w;
  uint8_t *q;
  float *s;
} Linear;

// Activations quantized for the q4 kernel: per block of 32, int16 values and one fp32 scale (max|x| / 32767).
// Relative error ~2^-16 of the block's largest value: close to fp32, where int8 would be ~2^-8.
void quantize_i16(const float *x, int k, int16_t *xq, float *xs);

// Rows [r0, r1) of y[t * ldy + n] = W x_t for t < T tokens.
void q4_rows(const Linear *W, const int16_t *xq, const float *xs, int T, float *y, int ldy, int r0, int r1);
void f32_rows(const Linear *W, const float *x, int T, float *y, int ldy, int r0, int r1);

void rmsnorm(float *out, const float *x, const float *w, int n, float eps);
void rope(float *v, int heads, int head_dim, const float *cos_row, const float *sin_row, int interleaved);
void swiglu(float *out, const float *gate, const float *up, int n);
// One head of one query token over positions [0, len): out = softmax(q . K^T * scale) V. scores: len floats.
void attend(float *out, const float *q, const float *keys, const float *values, int len, int head_dim, float scale,
            float *scores);
float lm_expf(float x);

// Bump allocator over linear memory, 64-byte aligned; 0 when memory cannot grow.
void *heap_alloc(uint64_t bytes);
void heap_dry_begin(void);
uint64_t heap_dry_end(void); // the heap top the counted allocations would reach
uint32_t lm_heap_mark_internal(void);
void lm_heap_reset_internal(uint32_t mark);

// Runs fn(ctx, start, end, thread) over [0, n) split across the pool; `align` rounds the split points.
typedef void (*task_fn)(const void *ctx, int start, int end, int thread);
void parallel_for(task_fn fn, const void *ctx, int n, int align);
int pool_threads(void);

#endif
