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
  residentWeightBytes: number; // as the device holds them once loaded
  kvCacheBytes: number; // fp32 keys and values for contextTokens
  activationBytes: number; // the largest transient tensors of a prefill of promptTokens
  runtimeBytes: number; // the process baseline, the tokenizer, and load-time scratch
  totalBytes: number; // the predicted peak resident memory
  reservedBytes: number; // address space the device reserves (wasm: linear memory; must stay under 4 GiB)
}

/**
 * Measured on the 2-core machine (peak RSS, `node` + `@localm/core`): a process that loaded stories260K
 * peaks at 63 MB on wasm and 90 MB on cpu; a tokenizer costs about 700 bytes per vocabulary entry (the
 * 128k-entry Llama 3 tokenizer.json adds ~100 MB: 925 MB with it, 828 MB for the decoder alone).
 * onnxruntime-node holds `cpuWeightCopies` of the file once MatMulNBits has prepacked it (1B: 1000 MB peak
 * for 972 MB of weights; 0.5B: 573 MB for 405 MB). localm's WASM kernels hold the weights in their own
 * layout, computed below, not as a multiple of the file.
 */
export const CALIBRATION = {
  cpu: { baselineBytes: 90e6, weightCopies: 0.87 },
  wasm: { baselineBytes: 63e6 },
  // Headless Chromium's renderer (page, bench worker, the download streaming into the Cache API), measured
  // as renderer VmHWM minus WASM memory on the 1B preset: 1360 MB peak for 1056 MB of WASM memory.
  browserBaselineBytes: 300e6,
  tokenizerBytesPerEntry: 700,
  wasmScratchBytes: 10 * 2 ** 20, // one slab of q4 rows and its scales while loading
} as const;

/** The KV cache localm's WASM kernels reserve when loadModel is not given a contextLength. */
export const DEFAULT_CONTEXT_LENGTH = 4096;

/** Bytes of a `[n, k]` matrix in a dtype, scales included (block 32, fp32 scales in ONNX and in the kernels). */
function matrixBytes(n: number, k: number, dtype: string): number {
  const blocks = n * Math.ceil(k / 32);
  if (dtype === 'q4') return blocks * (16 + 4);
  if (dtype === 'q8') return blocks * (32 + 4);
  if (dtype === 'fp16') return n * k * 2;
  return n * k * 4;
}

interface Shape {
  h: number; headDim: number; q: number; kv: number; ff: number; dtype: string; embedDtype: string; layerBytes: number;
}

function shapeOf(config: PlannerConfig): Shape {
  const dtype = config.localm?.dtype ?? 'fp32';
  const h = config.hidden_size;
  const headDim = config.head_dim ?? h / config.num_attention_heads;
  const q = config.num_attention_heads * headDim;
  const kv = config.num_key_value_heads * headDim;
  const ff = config.intermediate_size;
  const layerBytes =
    matrixBytes(q, h, dtype) + 2 * matrixBytes(kv, h, dtype) + matrixBytes(h, q, dtype) +
    2 * matrixBytes(ff, h, dtype) + matrixBytes(h, ff, dtype) +
    2 * h * 4 + (config.attention_bias ? (q + 2 * kv) * 4 : 0);
  return { h, headDim, q, kv, ff, dtype, embedDtype: config.localm?.quantized_embedding ? dtype : 'fp32', layerBytes };
}

/** Bytes of onnx/model.onnx_data that a config (and its localm dtype) implies. */
export function weightBytes(config: PlannerConfig): number {
  const s = shapeOf(config);
  const embedding = matrixBytes(config.vocab_size, s.h, s.embedDtype);
  const head = matrixBytes(config.vocab_size, s.h, s.dtype); // tied or not, the head is its own initializer
  const rope = 2 * config.max_position_embeddings * (s.headDim / 2) * 4;
  return config.num_hidden_layers * s.layerBytes + embedding + head + s.h * 4 + rope;
}

/** Whether localm's own WASM kernels run this model (else the wasm device runs onnxruntime-web). */
export function wasmKernelsRun(config: PlannerConfig): boolean {
  const dtype = config.localm?.dtype ?? 'fp32';
  return dtype === 'q4' || dtype === 'fp32';
}

/**
 * The memory plan for a generation of `promptTokens` then up to `contextTokens` positions in all.
 * `contextLength` is what loadModel reserves (default min(max positions, 4096)).
 * @example
 * const plan = planMemory(JSON.parse(readFileSync('config.json', 'utf8')), 'cpu', { promptTokens: 128, contextTokens: 192 });
 */
export function planMemory(
  config: PlannerConfig,
  device: PlanDevice,
  use: { promptTokens: number; contextTokens: number; contextLength?: number; host?: 'node' | 'browser' },
): MemoryPlan {
  const s = shapeOf(config);
  const w = weightBytes(config);
  const reservedContext = Math.min(config.max_position_embeddings, use.contextLength ?? DEFAULT_CONTEXT_LENGTH);
  const kvPerPosition = 2 * config.num_hidden_layers * s.kv * 4;
  const tokenizerBytes = CALIBRATION.tokenizerBytesPerEntry * config.vocab_size;
  const p = use.promptTokens;
  if (device === 'wasm' && wasmKernelsRun(config)) {
    // The kernels' linear memory: layers as stored, a q4 embedding kept q4 and shared with a tied head, the
    // RoPE tables and KV cache for the reserved context. Only KV positions written become resident.
    const quantEmbed = s.embedDtype === 'q4';
    const embedding = matrixBytes(config.vocab_size, s.h, quantEmbed ? 'q4' : 'fp32');
    const tied = quantEmbed && s.dtype === 'q4' && config.tie_word_embeddings !== false;
    const head = tied ? 0 : matrixBytes(config.vocab_size, s.h, s.dtype);
    const rope = 2 * reservedContext * (s.headDim / 2) * 4;
    const residentWeightBytes = config.num_hidden_layers * s.layerBytes + embedding + head + s.h * 4 + rope;
    const chunk = 16; // prefill tokens per call into the kernels
    const activationBytes = 4 * (chunk * (s.h * 3 + s.q + 2 * s.kv + 3 * s.ff) + config.vocab_size) + 4 * 2 * reservedContext;
    const kvCacheBytes = kvPerPosition * use.contextTokens;
    const baseline = use.host === 'browser' ? CALIBRATION.browserBaselineBytes : CALIBRATION.wasm.baselineBytes;
    const runtimeBytes = baseline + tokenizerBytes + CALIBRATION.wasmScratchBytes;
    const reservedBytes = residentWeightBytes + kvPerPosition * reservedContext + activationBytes + CALIBRATION.wasmScratchBytes;
    return plan(w, residentWeightBytes, kvCacheBytes, activationBytes, runtimeBytes, reservedBytes);
  }
  // onnxruntime (native, or -web for dtypes the kernels do not run): the KV cache grows with the
  // conversation; while one step runs both the old and the new cache are alive.
  const kvCacheBytes = 2 * kvPerPosition * use.contextTokens;
  // Prefill's largest live tensors: the logits of every prompt position, the MLP's gate/up/product,
  // and one layer's attention scores.
  const activationBytes = p * config.vocab_size * 4 + 3 * p * s.ff * 4 + config.num_attention_heads * p * use.contextTokens * 4;
  // onnxruntime-web copies the weights into its heap and prepacks them there (3.17 copies on the 1B).
  const copies = device === 'cpu' ? CALIBRATION.cpu.weightCopies : 3.17;
  const residentWeightBytes = copies * w;
  const runtimeBytes = CALIBRATION.cpu.baselineBytes + tokenizerBytes;
  return plan(w, residentWeightBytes, kvCacheBytes, activationBytes, runtimeBytes, device === 'wasm' ? residentWeightBytes + kvCacheBytes + activationBytes : 0);
}

function plan(weightBytes: number, residentWeightBytes: number, kvCacheBytes: number, activationBytes: number, runtimeBytes: number, reservedBytes: number): MemoryPlan {
  return { weightBytes, residentWeightBytes, kvCacheBytes, activationBytes, runtimeBytes, reservedBytes, totalBytes: residentWeightBytes + kvCacheBytes + activationBytes + runtimeBytes };
}

/** wasm32 linear memory stops at 4 GiB; localm's kernels use up to 65535 pages of 64 KiB. */
export const WASM32_MAX_BYTES = 0xffff0000;

/** The longest context (positions) that fits `budgetBytes`, or 0 if even the weights do not. */
export function largestContext(config: PlannerConfig, device: PlanDevice, budgetBytes: number, promptTokens = 128): number {
  let lo = 0;
  let hi = config.max_position_embeddings;
  const fits = (ctx: number): boolean => {
    const plan = planMemory(config, device, { promptTokens: Math.min(promptTokens, ctx), contextTokens: ctx, contextLength: ctx });
    return plan.totalBytes <= budgetBytes && (device !== 'wasm' || plan.reservedBytes <= WASM32_MAX_BYTES);
  };
  if (!fits(1)) return 0;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (fits(mid)) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}
