// A Llama-family decoder held entirely in linear memory: config, weights in kernel layout, KV cache,
// activations. The host fills weights through lm_*_ptr / lm_load_linear once, then calls lm_forward
// once per step (one token, or a prefill chunk of up to max_t tokens).

#include "lm.h"

typedef struct {
  float *attn_norm, *ffn_norm;
  float *qkv_bias; // [qkv rows]; zeros unless the graph adds q/k/v biases (Qwen 2)
  Linear qkv, o, gate_up, down; // qkv rows: q, k, v; gate_up rows: gate, up
} Layer;

enum { LIN_QKV, LIN_O, LIN_GATE_UP, LIN_DOWN, LIN_HEAD, LIN_EMBED };

static struct {
  int dim, hidden, n_layers, n_heads, n_kv, head_dim, vocab, ctx, max_t, interleaved;
  float eps, attn_scale;
  int q_dim, kv_dim, qkv_dim, max_k;
  float *embed; // [vocab, dim] fp32 (embed mode 1); 0 otherwise
  Linear embed_q; // embed mode 2: the table in the q4 kernel layout, rows dequantized on lookup
  int embed_mode; // 0: the host writes embedded rows into x itself, 1: fp32 table, 2: q4 table
  float *cos, *sin; // [ctx, head_dim / 2]
  float *final_norm;
  Linear lm_head;
  Layer *layers;
  float *keys, *values; // [layers, kv heads, ctx, head_dim]
  float *x, *xb, *qkv, *gu, *hb, *proj, *logits, *scores;
  int16_t *xq;
  float *xs;
  int32_t *tokens;
} M;

static int init_linear(Linear *L, int n, int k, int is_q4) {
  L->n = n;
  L->k = k;
  L->blocks = (k + QBLOCK - 1) / QBLOCK;
  L->is_q4 = is_q4;
  if (is_q4) {
    L->q = heap_alloc((uint64_t)n * L->blocks * 16);
    L->s = heap_alloc((uint64_t)n * L->blocks * 4);
    return L->q && L->s;
  }
  L->w = heap_alloc((uint64_t)n * k * 4);
  return L->w != 0;
}

#define ALLOC(p, count) (((p) = heap_alloc((uint64_t)(count) * sizeof(*(p)))) != 0)

static int create(int dim, int hidden, int n_layers, int n_heads, int n_kv, int head_dim, int vocab, int ctx, int max_t,
                  int is_q4, int head_mode, int interleaved, float eps, float attn_scale, int embed_mode, int max_threads,
                  int real) {
  M.dim = dim, M.hidden = hidden, M.n_layers = n_layers, M.n_heads = n_heads, M.n_kv = n_kv;
  M.head_dim = head_dim, M.vocab = vocab, M.ctx = ctx, M.max_t = max_t, M.interleaved = interleaved;
  M.eps = eps, M.attn_scale = attn_scale;
  M.q_dim = n_heads * head_dim, M.kv_dim = n_kv * head_dim, M.qkv_dim = M.q_dim + 2 * M.kv_dim;
  int max_k = dim > hidden ? dim : hidden;
  M.max_k = max_k > M.q_dim ? max_k : M.q_dim;
  int wide = dim > M.q_dim ? dim : M.q_dim;
  int ok = ALLOC(M.layers, n_layers);
  for (int l = 0; ok && l < n_layers; l++) {
    Layer *L = real ? &M.layers[l] : &(Layer){0};
    ok = ALLOC(L->attn_norm, dim) && ALLOC(L->ffn_norm, dim) && ALLOC(L->qkv_bias, M.qkv_dim) && init_linear(&L->qkv, M.qkv_dim, dim, is_q4) &&
         init_linear(&L->o, dim, M.q_dim, is_q4) && init_linear(&L->gate_up, 2 * hidden, dim, is_q4) &&
         init_linear(&L->down, dim, hidden, is_q4);
    for (int i = 0; real && ok && i < M.qkv_dim; i++) L->qkv_bias[i] = 0;
  }
  M.embed = 0;
  M.embed_mode = embed_mode;
  size_t kv = (size_t)n_layers * M.kv_dim * ctx;
  size_t blocks = (size_t)(M.max_k + QBLOCK - 1) / QBLOCK;
  ok = ok && (embed_mode != 1 || ALLOC(M.embed, (size_t)vocab * dim)) && (embed_mode != 2 || init_linear(&M.embed_q, vocab, dim, 1)) &&
       ALLOC(M.final_norm, dim) && (head_mode == 2 || init_linear(&M.lm_head, vocab, dim, head_mode)) && ALLOC(M.cos, (size_t)ctx * head_dim / 2) &&
       ALLOC(M.sin, (size_t)ctx * head_dim / 2) && ALLOC(M.keys, kv) && ALLOC(M.values, kv) &&
       ALLOC(M.x, (size_t)max_t * dim) && ALLOC(M.xb, (size_t)max_t * wide) && ALLOC(M.qkv, (size_t)max_t * M.qkv_dim) &&
       ALLOC(M.gu, (size_t)max_t * 2 * hidden) && ALLOC(M.hb, (size_t)max_t * hidden) &&
       ALLOC(M.proj, (size_t)max_t * dim) && ALLOC(M.logits, vocab) && ALLOC(M.scores, (size_t)max_threads * ctx) &&
       ALLOC(M.xq, (size_t)max_t * blocks * QBLOCK) && ALLOC(M.xs, (size_t)max_t * blocks) && ALLOC(M.tokens, max_t);
  if (ok && head_mode == 2) M.lm_head = M.embed_q; // the same codes and scales, one copy
  return ok;
}

// Returns 0, or 1 when linear memory cannot hold the model (found by a dry run, before memory grows).
// embed_mode: see M.embed_mode. head_mode: 0 fp32, 1 q4, 2 the q4 embedding table itself (tied weights
// stored once; needs embed_mode 2).
EXPORT(lm_create)
int lm_create(int dim, int hidden, int n_layers, int n_heads, int n_kv, int head_dim, int vocab, int ctx, int max_t,
              int is_q4, int head_mode, int interleaved, float eps, float attn_scale, int embed_mode, int max_threads) {
  if (head_mode == 2 && embed_mode != 2) return 1;
  heap_dry_begin();
  int fits = create(dim, hidden, n_layers, n_heads, n_kv, head_dim, vocab, ctx, max_t, is_q4, head_mode, interleaved, eps,
                    attn_scale, embed_mode, max_threads, 0);
  uint64_t top = heap_dry_end();
  if (!fits || top > 0xFFFF0000ull) return 1;
  return create(dim, hidden, n_layers, n_heads, n_kv, head_dim, vocab, ctx, max_t, is_q4, head_mode, interleaved, eps,
                attn_scale, embed_mode, max_threads, 1) ? 0 : 1;
}

// Where the host writes tensors that need no repacking: 0 embed, 1 attn norm, 2 ffn norm, 3 final norm,
// 4 cos, 5 sin, 6 input token ids, 7 the residual stream x (embedded rows when embed is not in the heap),
// 8 q/k/v bias.
EXPORT(lm_ptr) void *lm_ptr(int what, int layer) {
  switch (what) {
    case 0: return M.embed;
    case 1: return M.layers[layer].attn_norm;
    case 2: return M.layers[layer].ffn_norm;
    case 3: return M.final_norm;
    case 4: return M.cos;
    case 5: return M.sin;
    case 6: return M.tokens;
    case 7: return M.x;
    case 8: return M.layers[layer].qkv_bias;
    default: return 0;
  }
}

static Linear *linear_of(int layer, int which) {
  Layer *L = &M.layers[layer];
  switch (which) {
    case LIN_QKV: return &L->qkv;
    case LIN_O: return &L->o;
    case LIN_GATE_UP: return &L->gate_up;
    case LIN_DOWN: return &L->down;
    case LIN_EMBED: return &M.embed_q;
    default: return &M.lm_head;
  }
}

// MatMulNBits B [n, blocks, 16] (element 2i low nibble of byte i, unsigned, zero point 8) and scales
// [n * blocks] into rows [row0, row0 + n) of L.
static void repack_q4(Linear *L, int row0, const uint8_t *src, const float *scales, int n) {
  int nb = L->blocks;
  for (int r = 0; r < n; r++) {
    for (int b = 0; b < nb; b++) {
      const uint8_t *in = src + ((size_t)r * nb + b) * 16;
      uint16_t *out = (uint16_t *)(L->q + ((size_t)(row0 + r) * nb + b) * 16);
      for (int j = 0; j < 8; j++) {
        uint16_t lane = 0;
        for (int part = 0; part < 4; part++) {
          int e = j + 8 * part;
          int nib = (in[e >> 1] >> ((e & 1) * 4)) & 15;
          lane |= (uint16_t)((nib ^ 8) << (4 * part)); // q - 8 as a signed nibble
        }
        out[j] = lane;
      }
      L->s[(size_t)(row0 + r) * nb + b] = scales[(size_t)r * nb + b];
    }
  }
}

// ONNX MatMul B [k, n] into rows [row0, row0 + n) of the row-major [N, k] weight.
static void repack_f32(Linear *L, int row0, const float *src, int n) {
  int k = L->k;
  for (int c = 0; c < k; c++)
    for (int r = 0; r < n; r++) L->w[(size_t)(row0 + r) * k + c] = src[(size_t)c * n + r];
}

// Loads n rows of one graph initializer into linear `which` from row0 on; returns 1 on a shape mismatch.
EXPORT(lm_load_linear)
int lm_load_linear(int layer, int which, int row0, int n, int k, int is_q4, const void *src, const float *scales) {
  Linear *L = linear_of(layer, which);
  if (k != L->k || is_q4 != L->is_q4 || row0 < 0 || row0 + n > L->n) return 1;
  if (is_q4) repack_q4(L, row0, src, scales, n);
  else repack_f32(L, row0, src, n);
  return 0;
}

// Row `row` of a q4 Linear back to fp32 (the inverse of repack_q4, times the block scales).
static void q4_row_to_f32(const Linear *L, int row, float *out) {
  int nb = L->blocks;
  const uint16_t *q = (const uint16_t *)(L->q + (size_t)row * nb * 16);
  const float *s = L->s + (size_t)row * nb;
  for (int b = 0; b < nb; b++)
    for (int part = 0; part < 4; part++)
      for (int j = 0; j < 8; j++) {
        int e = b * QBLOCK + 8 * part + j;
        int v4 = (q[b * 8 + j] >> (4 * part)) & 15;
        if (e < L->k) out[e] = (float)((v4 ^ 8) - 8) * s[b];
      }
}

typedef struct {
  const Linear *L;
  const void *x; // int16 blocks (q4) or fp32 rows
  const float *xs; // q4: activation scales [T, blocks]
  int T;
  float *y;
  int ldy;
} MatmulJob;

static void matmul_task(const void *ctx, int start, int end, int thread) {
  (void)thread;
  const MatmulJob *j = ctx;
  if (j->L->is_q4) q4_rows(j->L, j->x, j->xs, j->T, j->y, j->ldy, start, end);
  else f32_rows(j->L, j->x, j->T, j->y, j->ldy, start, end);
}

// y[t, :] = L x[t, :] for T tokens; x rows are L->k wide.
static void matmul(const Linear *L, const float *x, int T, float *y) {
  MatmulJob j = {L, x, M.xs, T, y, L->n};
  if (L->is_q4) {
    int kq = L->blocks * QBLOCK;
    for (int t = 0; t < T; t++) quantize_i16(x + (size_t)t * L->k, L->k, M.xq + (size_t)t * kq, M.xs + (size_t)t * L->blocks);
    j.x = M.xq;
  }
  parallel_for(matmul_task, &j, L->n, 4);
}

typedef struct {
  int layer, pos0;
} AttnJob;

static void attn_task(const void *ctx, int start, int end, int thread) {
  const AttnJob *j = ctx;
  int hd = M.head_dim, group = M.n_heads / M.n_kv;
  for (int i = start; i < end; i++) {
    int t = i / M.n_heads, h = i % M.n_heads, kvh = h / group;
    size_t base = ((size_t)j->layer * M.n_kv + kvh) * M.ctx * hd;
    attend(M.xb + (size_t)t * M.q_dim + h * hd, M.qkv + (size_t)t * M.qkv_dim + h * hd, M.keys + base, M.values + base,
           j->pos0 + t + 1, hd, M.attn_scale, M.scores + (size_t)thread * M.ctx);
  }
}

static void add_rows(float *x, const float *y, int n) {
  for (int i = 0; i < n; i++) x[i] += y[i];
}

// Runs T tokens (ids in lm_ptr(6), or embedded rows already in x) at positions pos0..pos0+T-1 and
// returns the last token's logits. The host checks T <= max_t and pos0 + T <= ctx.
EXPORT(lm_forward) float *lm_forward(int T, int pos0) {
  int dim = M.dim, hd = M.head_dim, half = hd / 2;
  if (M.embed_mode == 1)
    for (int t = 0; t < T; t++) {
      const float *row = M.embed + (size_t)M.tokens[t] * dim;
      for (int i = 0; i < dim; i++) M.x[(size_t)t * dim + i] = row[i];
    }
  if (M.embed_mode == 2)
    for (int t = 0; t < T; t++) q4_row_to_f32(&M.embed_q, M.tokens[t], M.x + (size_t)t * dim);
  for (int l = 0; l < M.n_layers; l++) {
    Layer *L = &M.layers[l];
    for (int t = 0; t < T; t++) rmsnorm(M.xb + (size_t)t * dim, M.x + (size_t)t * dim, L->attn_norm, dim, M.eps);
    matmul(&L->qkv, M.xb, T, M.qkv);
    for (int t = 0; t < T; t++) {
      int pos = pos0 + t;
      float *q = M.qkv + (size_t)t * M.qkv_dim, *k = q + M.q_dim, *v = k + M.kv_dim;
      add_rows(q, L->qkv_bias, M.qkv_dim);
      rope(q, M.n_heads, hd, M.cos + (size_t)pos * half, M.sin + (size_t)pos * half, M.interleaved);
      rope(k, M.n_kv, hd, M.cos + (size_t)pos * half, M.sin + (size_t)pos * half, M.interleaved);
      for (int h = 0; h < M.n_kv; h++) {
        size_t at = (((size_t)l * M.n_kv + h) * M.ctx + pos) * hd;
        for (int i = 0; i < hd; i++) {
          M.keys[at + i] = k[h * hd + i];
          M.values[at + i] = v[h * hd + i];
        }
      }
    }
    AttnJob aj = {l, pos0};
    parallel_for(attn_task, &aj, T * M.n_heads, 1);
    matmul(&L->o, M.xb, T, M.proj);
    add_rows(M.x, M.proj, T * dim);
    for (int t = 0; t < T; t++) rmsnorm(M.xb + (size_t)t * dim, M.x + (size_t)t * dim, L->ffn_norm, dim, M.eps);
    matmul(&L->gate_up, M.xb, T, M.gu);
    for (int t = 0; t < T; t++)
      swiglu(M.hb + (size_t)t * M.hidden, M.gu + (size_t)t * 2 * M.hidden, M.gu + (size_t)t * 2 * M.hidden + M.hidden,
             M.hidden);
    matmul(&L->down, M.hb, T, M.proj);
    add_rows(M.x, M.proj, T * dim);
  }
  rmsnorm(M.xb, M.x + (size_t)(T - 1) * dim, M.final_norm, dim, M.eps);
  matmul(&M.lm_head, M.xb, 1, M.logits);
  return M.logits;
}

// Kernel entry points for tests: each runs one kernel on host-written buffers, through the pool.
EXPORT(lm_test_linear)
int lm_test_linear(int is_q4, int n, int k, const void *src, const float *scales, const float *x, int T, float *y) {
  uint32_t mark = lm_heap_mark_internal();
  Linear L;
  int ok = init_linear(&L, n, k, is_q4);
  int16_t *xq = 0;
  float *xs = 0;
  int blocks = L.blocks;
  ok = ok && ALLOC(xq, (size_t)T * blocks * QBLOCK) && ALLOC(xs, (size_t)T * blocks);
  if (ok) {
    if (is_q4) repack_q4(&L, 0, src, scales, n);
    else repack_f32(&L, 0, src, n);
    MatmulJob j = {&L, x, xs, T, y, n};
    if (is_q4) {
      for (int t = 0; t < T; t++) quantize_i16(x + (size_t)t * k, k, xq + (size_t)t * blocks * QBLOCK, xs + (size_t)t * blocks);
      j.x = xq;
    }
    parallel_for(matmul_task, &j, n, 4);
  }
  lm_heap_reset_internal(mark);
  return ok ? 0 : 1;
}

EXPORT(lm_test_rmsnorm) void lm_test_rmsnorm(float *out, const float *x, const float *w, int n, float eps) {
  rmsnorm(out, x, w, n, eps);
}
EXPORT(lm_test_rope) void lm_test_rope(float *v, int heads, int hd, const float *c, const float *s, int interleaved) {
  rope(v, heads, hd, c, s, interleaved);
}
EXPORT(lm_test_swiglu) void lm_test_swiglu(float *out, const float *g, const float *u, int n) { swiglu(out, g, u, n); }
EXPORT(lm_test_attend)
void lm_test_attend(float *out, const float *q, const float *k, const float *v, int len, int hd, float scale, float *scores) {
  attend(out, q, k, v, len, hd, scale, scores);
}
