// The Hugging Face JSON files that describe a Llama model folder: config.json and generation_config.json.
// snake_case keys mirror the files; nothing here reads weights or tokenizers.

import type { LlamaShape } from './llama-shape.js';

/** config.json as transformers' LlamaConfig (and transformers.js) reads it. */
export interface LlamaConfigJson {
  architectures: [string]; // 'LlamaForCausalLM', or 'Qwen2ForCausalLM' for a Qwen2 shape
  model_type: string; // 'llama' | 'qwen2'
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads: number;
  head_dim: number;
  vocab_size: number;
  max_position_embeddings: number;
  rms_norm_eps: number;
  rope_theta: number;
  hidden_act: 'silu';
  attention_bias: boolean;
  mlp_bias: false;
  tie_word_embeddings: boolean;
  bos_token_id: number;
  eos_token_id: number | number[];
  torch_dtype: 'float32';
  use_cache: true;
  // transformers.js 3.x loads `onnx/model.onnx_data` only when told the model uses external data.
  'transformers.js_config': { use_external_data_format: true };
  // Written by `convertSynth`: how the weights were made and stored, for the bench and its memory planner.
  localm?: { preset: string; seed: number; dtype: string; block_size?: number; quantized_embedding: boolean };
}

export interface GenerationConfigJson {
  bos_token_id: number;
  eos_token_id: number | number[];
  max_length: number; // total positions, prompt included
  do_sample: boolean;
}

/** Builds config.json for `shape`. Activations are fp32 in both dtypes, hence torch_dtype float32. */
export function llamaConfigJson(
  shape: LlamaShape,
  tokens: { bosTokenId: number; eosTokenId: number | number[] },
): LlamaConfigJson {
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    hidden_size: shape.hiddenSize,
    intermediate_size: shape.intermediateSize,
    num_hidden_layers: shape.numLayers,
    num_attention_heads: shape.numHeads,
    num_key_value_heads: shape.numKvHeads,
    head_dim: shape.headDim,
    vocab_size: shape.vocabSize,
    max_position_embeddings: shape.maxPositions,
    rms_norm_eps: shape.rmsNormEps,
    rope_theta: shape.ropeTheta,
    hidden_act: 'silu',
    attention_bias: shape.attentionBias === true,
    mlp_bias: false,
    tie_word_embeddings: shape.tiedEmbeddings,
    bos_token_id: tokens.bosTokenId,
    eos_token_id: tokens.eosTokenId,
    torch_dtype: 'float32',
    use_cache: true,
    'transformers.js_config': { use_external_data_format: true },
  };
}
