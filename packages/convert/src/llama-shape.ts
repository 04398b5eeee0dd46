// The few numbers that fix a Llama-family decoder's graph, and the weights source the graph builder
// reads from. Independent of where weights come from (a llama2.c file, a seeded generator).

/** The architecture of a Llama-family decoder, enough to build its graph and its config.json. */
export interface LlamaShape {
  hiddenSize: number; // model width (llama2.c `dim`)
  intermediateSize: number; // FFN inner width (llama2.c `hidden_dim`)
  numLayers: number;
  numHeads: number; // query heads
  numKvHeads: number; // key/value heads; numHeads must be a multiple
  headDim: number; // per-head width, even (RoPE rotates pairs)
  vocabSize: number;
  maxPositions: number; // context length; also the rows of the RoPE cos/sin caches
  ropeTheta: number; // RoPE base, 10000 for Llama 2
  // true: RoPE rotates adjacent pairs (x[2i], x[2i+1]), as Meta's and llama2.c's weights expect;
  // false: it rotates (x[i], x[i + headDim/2]), as Hugging Face's permuted q/k weights expect.
  ropeInterleaved: boolean;
  rmsNormEps: number;
  tiedEmbeddings: boolean; // the LM head is the token embedding
  attentionBias?: boolean; // q, k and v projections add a bias (Qwen2); default false
}

/** The linear layers of one block, named as in Hugging Face's LlamaForCausalLM. */
export type LlamaLinear = 'q_proj' | 'k_proj' | 'v_proj' | 'o_proj' | 'gate_proj' | 'up_proj' | 'down_proj';

/** One tensor a weights source must provide. Linear weights are row-major `[out, in]` (PyTorch's layout). */
export type LlamaTensorRef =
  | { kind: 'embed_tokens' } // [vocabSize, hiddenSize]
  | { kind: 'input_layernorm'; layer: number } // [hiddenSize]
  | { kind: 'post_attention_layernorm'; layer: number } // [hiddenSize]
  | { kind: 'linear'; layer: number; name: LlamaLinear } // [out, in]
  | { kind: 'bias'; layer: number; name: 'q_proj' | 'k_proj' | 'v_proj' } // [out]; only when attentionBias
  | { kind: 'norm' } // [hiddenSize], the final RMSNorm
  | { kind: 'lm_head' }; // [vocabSize, hiddenSize]; only asked for when the embeddings are not tied

/**
 * Where the graph builder gets weights. It asks for one tensor at a time and drops it after writing,
 * so a source may generate or read lazily and only one tensor need be in memory.
 */
export interface LlamaWeightSource {
  read(ref: LlamaTensorRef): Float32Array | Promise<Float32Array>;
  /**
   * Rows `firstRow .. firstRow + rowCount - 1` of a matrix (embedding, head, linear layer), `rowCount × in`
   * values. Optional: a source that has it lets the writer hold one slice of a big tensor, not all of it.
   * With `out` (that many values), the source fills and returns it: the writer reuses one buffer.
   */
  readRows?(ref: LlamaTensorRef, firstRow: number, rowCount: number, out?: Float32Array): Float32Array | Promise<Float32Array>;
}

/** `[out, in]` of a block's linear layer. */
export function linearShape(shape: LlamaShape, name: LlamaLinear): [number, number] {
  const q = shape.numHeads * shape.headDim;
  const kv = shape.numKvHeads * shape.headDim;
  const { hiddenSize: h, intermediateSize: ff } = shape;
  const table: Record<LlamaLinear, [number, number]> = {
    q_proj: [q, h], k_proj: [kv, h], v_proj: [kv, h], o_proj: [h, q],
    gate_proj: [ff, h], up_proj: [ff, h], down_proj: [h, ff],
  };
  return table[name];
}

/** Element count a source must return for `ref`. */
export function tensorSize(shape: LlamaShape, ref: LlamaTensorRef): number {
  switch (ref.kind) {
    case 'embed_tokens':
    case 'lm_head':
      return shape.vocabSize * shape.hiddenSize;
    case 'linear': {
      const [out, inp] = linearShape(shape, ref.name);
      return out * inp;
    }
    case 'bias':
      return linearShape(shape, ref.name)[0];
    default:
      return shape.hiddenSize;
  }
}
