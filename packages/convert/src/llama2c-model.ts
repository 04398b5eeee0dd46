// Sees a parsed llama2.c checkpoint as the generic Llama description the graph writer takes: its
// LlamaShape and a weights source under Hugging Face names. No I/O.

import { LocalmError } from '@localm/errors';
import type { Llama2cCheckpoint } from './llama2c-checkpoint.js';
import type { LlamaShape, LlamaWeightSource } from './llama-shape.js';

// run.c's constants, not stored in the checkpoint.
const ROPE_THETA = 10000;
const RMS_NORM_EPS = 1e-5;

/** The LlamaShape a llama2.c header describes. */
export function llama2cShape(config: Llama2cCheckpoint['config']): LlamaShape {
  return {
    hiddenSize: config.dim,
    intermediateSize: config.hiddenDim,
    numLayers: config.nLayers,
    numHeads: config.nHeads,
    numKvHeads: config.nKvHeads,
    headDim: config.dim / config.nHeads,
    vocabSize: config.vocabSize,
    maxPositions: config.seqLen,
    ropeTheta: ROPE_THETA,
    ropeInterleaved: true, // run.c rotates adjacent pairs and its q/k weights are in that order
    rmsNormEps: RMS_NORM_EPS,
    tiedEmbeddings: config.sharedClassifier,
  };
}

/** Serves a checkpoint's views under the Hugging Face names the graph writer asks for. */
export function llama2cWeights(ckpt: Llama2cCheckpoint): LlamaWeightSource {
  const layer = (l: number) => {
    const found = ckpt.layers[l];
    if (found === undefined) throw new LocalmError('invalid_argument', `layer ${l} of ${ckpt.layers.length}`);
    return found;
  };
  return {
    read(ref) {
      switch (ref.kind) {
        case 'embed_tokens':
          return ckpt.tokenEmbedding;
        case 'lm_head':
          return ckpt.wcls;
        case 'norm':
          return ckpt.rmsFinal;
        case 'input_layernorm':
          return layer(ref.layer).rmsAtt;
        case 'post_attention_layernorm':
          return layer(ref.layer).rmsFfn;
        case 'linear': {
          const w = layer(ref.layer);
          const byName = {
            q_proj: w.wq, k_proj: w.wk, v_proj: w.wv, o_proj: w.wo, gate_proj: w.w1, up_proj: w.w3, down_proj: w.w2,
          };
          return byName[ref.name];
        }
        case 'bias':
          throw new LocalmError('invalid_argument', 'llama2.c checkpoints have no attention biases');
      }
    },
  };
}
