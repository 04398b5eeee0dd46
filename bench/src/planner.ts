// Predicts a model's peak memory on a device from its config.json alone: weights as the runtime holds
// them, KV cache, the largest activations, and a runtime baseline. And the reverse question: the largest
// context (or preset) that fits a budget. The per-device constants are measured, see CALIBRATION.

export interface PlannerConfig {
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads: number;
  head_dim?: number;
  vocab_size: number;
  max_position_embeddings: number;
  tie_word_embeddings?: boolean;
  attention_bias?: boolean;
  localm?: { dtype?: string; quantized_embedding?: boolean };
}

export type PlanDevice = 'cpu' | 'wasm';

export interface MemoryPlan {
  weightBytes: number; // as stored in onnx/model.onnx_data
  kvCacheBytes: number; // fp32 keys and values for contextTokens
  activationBytes: number; // the largest transient tensors of a prefill of promptTokens
  runtimeBytes: number; // the runtime's own baseline plus the copies it makes of the weights
  totalBytes: number;
}

/**
 * How each device holds the weights, measured on the llama-3.2-1b preset (q4, 972 MB of weights) on the
 * 2-core machine: `weightCopies` is (peak RSS - baseline - KV - activations) / weight bytes, the baseline
 * the peak RSS of the tiny preset. On cpu, core reads model.onnx_data whole into a JS buffer although
 * onnxruntime-node then loads the graph from its path and reads the file again, and MatMulNBits' prepacking
 * holds a third copy while the originals are alive: 3.0. onnxruntime-node alone, from the path: 1.03.
 * On wasm the JS buffer is copied into the WASM heap and prepacked there: 3.17 on the 1B, baseline 237 MB
 * (tiny). TODO(#5): wasm is not linear in the weights: the 0.5B peaks at 2232 MB, 28% above this
 * prediction (the heap grows in steps); re-measure when the loading path changes.
 */
export const CALIBRATION: Record<PlanDevice, { baselineBytes: number; weightCopies: number }> = {
  cpu: { baselineBytes: 92e6, weightCopies: 3.0 },
  wasm: { baselineBytes: 237e6, weightCopies: 3.17 },
};

/** Bytes per weight of a `[n, k]` matrix in a dtype, scales included (block 32, fp32 scales in ONNX). */
function matrixBytes(n: number, k: number, dtype: string): number {
  const blocks = n * Math.ceil(k / 32);
  if (dtype === 'q4') return blocks * (16 + 4);
  if (dtype === 'q8') return blocks * (32 + 4);
  if (dtype === 'fp16') return n * k * 2;
  return n * k * 4;
}

/** Bytes of onnx/model.onnx_data that a config (and its localm dtype) implies. */
export function weightBytes(config: PlannerConfig): number {
  const dtype = config.localm?.dtype ?? 'fp32';
  const h = config.hidden_size;
  const headDim = config.head_dim ?? h / config.num_attention_heads;
  const q = config.num_attention_heads * headDim;
  const kv = config.num_key_value_heads * headDim;
  const ff = config.intermediate_size;
  const perLayer =
    matrixBytes(q, h, dtype) + 2 * matrixBytes(kv, h, dtype) + matrixBytes(h, q, dtype) +
    2 * matrixBytes(ff, h, dtype) + matrixBytes(h, ff, dtype) +
    2 * h * 4 + (config.attention_bias ? (q + 2 * kv) * 4 : 0);
  const embedDtype = config.localm?.quantized_embedding ? dtype : 'fp32';
  const embedding = matrixBytes(config.vocab_size, h, embedDtype);
  const head = matrixBytes(config.vocab_size, h, dtype); // tied or not, the head is its own initializer
  const rope = 2 * config.max_position_embeddings * (headDim / 2) * 4;
  return config.num_hidden_layers * perLayer + embedding + head + h * 4 + rope;
}

/**
 * The memory plan for a generation of `promptTokens` then up to `contextTokens` positions in all.
 * @example
 * const plan = planMemory(JSON.parse(readFileSync('config.json', 'utf8')), 'cpu', { promptTokens: 128, contextTokens: 192 });
 */
export function planMemory(config: PlannerConfig, device: PlanDevice, use: { promptTokens: number; contextTokens: number }): MemoryPlan {
  const h = config.hidden_size;
  const headDim = config.head_dim ?? h / config.num_attention_heads;
  const w = weightBytes(config);
  // Keys and values, fp32; the backend hands present.* back as past_key_values.*, and while one step
  // runs both the old and the new cache are alive.
  const kvCacheBytes = 2 * 2 * config.num_hidden_layers * config.num_key_value_heads * headDim * use.contextTokens * 4;
  // Prefill's largest live tensors: the logits of every prompt position, the MLP's gate/up/product,
  // and one layer's attention scores.
  const p = use.promptTokens;
  const activationBytes =
    p * config.vocab_size * 4 + 3 * p * config.intermediate_size * 4 + config.num_attention_heads * p * use.contextTokens * 4;
  const { baselineBytes, weightCopies } = CALIBRATION[device];
  const runtimeBytes = baselineBytes + (weightCopies - 1) * w;
  return { weightBytes: w, kvCacheBytes, activationBytes, runtimeBytes, totalBytes: w + kvCacheBytes + activationBytes + runtimeBytes };
}

/** The longest context (positions) that fits `budgetBytes`, or 0 if even the weights do not. */
export function largestContext(config: PlannerConfig, device: PlanDevice, budgetBytes: number, promptTokens = 128): number {
  let lo = 0;
  let hi = config.max_position_embeddings;
  const fits = (ctx: number): boolean => planMemory(config, device, { promptTokens: Math.min(promptTokens, ctx), contextTokens: ctx }).totalBytes <= budgetBytes;
  if (!fits(1)) return 0;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (fits(mid)) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}
