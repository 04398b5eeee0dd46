// Reads a llama2.c checkpoint (legacy "version 0" export: 7-int32 header, then fp32 tensors) into
// Float32Array views. Validates before it allocates; knows nothing of ONNX or tokenizers.

import { LocalmError } from '@localm/errors';

/** The checkpoint header, named as in run.c's `Config`, plus what the sign of `vocab_size` says. */
export interface Llama2cConfig {
  dim: number; // transformer width
  hiddenDim: number; // FFN inner width
  nLayers: number;
  nHeads: number; // query heads
  nKvHeads: number; // key/value heads (GQA when < nHeads)
  vocabSize: number; // always positive here; the header's sign is in `sharedClassifier`
  seqLen: number; // max positions the model was trained for
  sharedClassifier: boolean; // true when the header's vocab_size > 0: logits use the token embedding
}

/** One transformer block's tensors, each row-major `[out, in]` as in run.c. */
export interface Llama2cLayer {
  rmsAtt: Float32Array; // [dim]
  wq: Float32Array; // [nHeads*headSize, dim]
  wk: Float32Array; // [nKvHeads*headSize, dim]
  wv: Float32Array; // [nKvHeads*headSize, dim]
  wo: Float32Array; // [dim, nHeads*headSize]
  rmsFfn: Float32Array; // [dim]
  w1: Float32Array; // [hiddenDim, dim] gate
  w2: Float32Array; // [dim, hiddenDim] down
  w3: Float32Array; // [hiddenDim, dim] up
}

/** A parsed checkpoint: views into the bytes it was read from (no copies when they are 4-byte aligned). */
export interface Llama2cCheckpoint {
  config: Llama2cConfig;
  tokenEmbedding: Float32Array; // [vocabSize, dim]
  layers: Llama2cLayer[];
  rmsFinal: Float32Array; // [dim]
  wcls: Float32Array; // [vocabSize, dim]; the same view as tokenEmbedding when sharedClassifier
}

const HEADER_BYTES = 7 * 4;
// Far above any Llama (405B: dim 16384, hidden 53248, 126 layers, vocab 128256), yet small enough
// that every size computed below stays an exact integer in a double (all under 2^46).
const MAX_DIM = 1 << 16;
const MAX_HIDDEN_DIM = 1 << 18;
const MAX_LAYERS = 1024;
const MAX_VOCAB = 1 << 21;
const MAX_SEQ_LEN = 1 << 22;

/**
 * Parses a llama2.c `.bin` checkpoint.
 * Throws `corrupt_model` for a header that cannot describe a model or a byte length that does not match it.
 * @example
 * const ckpt = readLlama2cCheckpoint(await readFile('stories260K.bin'), 'stories260K.bin');
 * ckpt.config.dim; // 64
 */
export function readLlama2cCheckpoint(bytes: Uint8Array, fileName = 'checkpoint'): Llama2cCheckpoint {
  const corrupt = (what: string): LocalmError =>
    new LocalmError('corrupt_model', `${fileName}: ${what}; expected a llama2.c (version 0) checkpoint`);
  if (bytes.byteLength < HEADER_BYTES) {
    throw corrupt(`${bytes.byteLength} bytes is shorter than the ${HEADER_BYTES}-byte header`);
  }
  const header = new DataView(bytes.buffer, bytes.byteOffset, HEADER_BYTES);
  const field = (i: number): number => header.getInt32(i * 4, true);
  const [dim, hiddenDim, nLayers, nHeads, nKvHeads, rawVocab, seqLen] = [0, 1, 2, 3, 4, 5, 6].map(field) as [
    number, number, number, number, number, number, number,
  ];
  const vocabSize = Math.abs(rawVocab);
  const checks: [boolean, string][] = [
    [dim > 0 && dim <= MAX_DIM, `dim ${dim} out of range 1..${MAX_DIM}`],
    [hiddenDim > 0 && hiddenDim <= MAX_HIDDEN_DIM, `hidden_dim ${hiddenDim} out of range 1..${MAX_HIDDEN_DIM}`],
    [nLayers > 0 && nLayers <= MAX_LAYERS, `n_layers ${nLayers} out of range 1..${MAX_LAYERS}`],
    [nHeads > 0 && nHeads <= dim, `n_heads ${nHeads} out of range 1..dim`],
    [nKvHeads > 0 && nKvHeads <= nHeads, `n_kv_heads ${nKvHeads} out of range 1..n_heads`],
    [nHeads % nKvHeads === 0, `n_heads ${nHeads} is not a multiple of n_kv_heads ${nKvHeads}`],
    [dim % nHeads === 0, `dim ${dim} is not a multiple of n_heads ${nHeads}`],
    // RoPE rotates pairs, so a head must have an even size.
    [(dim / nHeads) % 2 === 0, `head size ${dim / nHeads} is odd`],
    [vocabSize > 0 && vocabSize <= MAX_VOCAB, `vocab_size ${rawVocab} out of range (0 or |v| > ${MAX_VOCAB})`],
    [seqLen > 0 && seqLen <= MAX_SEQ_LEN, `seq_len ${seqLen} out of range 1..${MAX_SEQ_LEN}`],
  ];
  for (const [ok, what] of checks) if (!ok) throw corrupt(what);

  const sharedClassifier = rawVocab > 0;
  const headSize = dim / nHeads;
  const qDim = nHeads * headSize;
  const kvDim = nKvHeads * headSize;
  // Element counts in file order (run.c memory_map_weights), per layer where it applies.
  const layerCounts = {
    rmsAtt: dim,
    wq: qDim * dim,
    wk: kvDim * dim,
    wv: kvDim * dim,
    wo: dim * qDim,
    rmsFfn: dim,
    w1: hiddenDim * dim,
    w2: dim * hiddenDim,
    w3: hiddenDim * dim,
  } satisfies Record<keyof Llama2cLayer, number>;
  const freqCisFloats = seqLen * headSize; // freq_cis_real + freq_cis_imag, both [seq_len, head_size/2]
  const totalFloats =
    vocabSize * dim +
    nLayers * Object.values(layerCounts).reduce((a, b) => a + b, 0) +
    dim +
    freqCisFloats +
    (sharedClassifier ? 0 : vocabSize * dim);
  const expectedBytes = HEADER_BYTES + totalFloats * 4;
  if (bytes.byteLength !== expectedBytes) {
    throw corrupt(
      `${bytes.byteLength} bytes, but the header (dim ${dim}, hidden ${hiddenDim}, ${nLayers} layers, ` +
        `${nHeads}/${nKvHeads} heads, vocab ${rawVocab}, seq ${seqLen}) needs ${expectedBytes}`,
    );
  }

  // Float32Array needs a 4-byte-aligned offset; a Buffer slice from a pool may not have one.
  // (Typed arrays use the host's byte order; every platform Node ships for is little-endian, like the file.)
  const aligned = bytes.byteOffset % 4 === 0 ? bytes : new Uint8Array(bytes); // copy starts at offset 0
  const floats = new Float32Array(aligned.buffer, aligned.byteOffset + HEADER_BYTES, totalFloats);
  let cursor = 0;
  const take = (count: number): Float32Array => floats.subarray(cursor, (cursor += count));
  const takeLayers = (count: number): Float32Array[] => Array.from({ length: nLayers }, () => take(count));

  const tokenEmbedding = take(vocabSize * dim);
  const rmsAtt = takeLayers(layerCounts.rmsAtt);
  const wq = takeLayers(layerCounts.wq);
  const wk = takeLayers(layerCounts.wk);
  const wv = takeLayers(layerCounts.wv);
  const wo = takeLayers(layerCounts.wo);
  const rmsFfn = takeLayers(layerCounts.rmsFfn);
  const w1 = takeLayers(layerCounts.w1);
  const w2 = takeLayers(layerCounts.w2);
  const w3 = takeLayers(layerCounts.w3);
  const rmsFinal = take(dim);
  take(freqCisFloats); // precomputed RoPE tables that run.c skips too; we recompute them exactly
  const wcls = sharedClassifier ? tokenEmbedding : take(vocabSize * dim);

  const layers = Array.from({ length: nLayers }, (_, l): Llama2cLayer => {
    const at = (group: Float32Array[]): Float32Array => group[l] as Float32Array;
    return {
      rmsAtt: at(rmsAtt), wq: at(wq), wk: at(wk), wv: at(wv), wo: at(wo),
      rmsFfn: at(rmsFfn), w1: at(w1), w2: at(w2), w3: at(w3),
    };
  });
  return {
    config: { dim, hiddenDim, nLayers, nHeads, nKvHeads, vocabSize, seqLen, sharedClassifier },
    tokenEmbedding,
    layers,
    rmsFinal,
    wcls,
  };
}
