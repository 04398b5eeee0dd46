// Picks the next token id from logits: logit bias and penalties, then temperature, top-k, top-p and
// min-p, then a draw from a seeded PRNG so a run is reproducible on every device.

/** How the next token is chosen. Defaults: greedy, no filtering, no penalties. */
export interface SamplingOptions {
  temperature?: number; // 0 = greedy (argmax)
  topK?: number; // keep the k most likely tokens; 0 = off
  topP?: number; // keep the smallest set with probability mass >= topP; 1 = off
  minP?: number; // drop tokens with p < minP * p(most likely); 0 = off
  repetitionPenalty?: number; // HF style, over prompt and output: logit / p if > 0, logit * p if < 0; 1 = off
  presencePenalty?: number; // OpenAI style, over output: minus this once for every token already generated
  frequencyPenalty?: number; // OpenAI style, over output: minus this times the token's count so far
  logitBias?: Readonly<Record<number, number>>; // added to the logit of a token id; -Infinity bans it
  seed?: number; // PRNG seed; the same seed gives the same ids
}

/** Index of the largest logit; the first one on ties (as llama2.c's argmax). */
export function argmax(logits: Float32Array): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i;
  return best;
}

/**
 * The specified PRNG: xorshift64* (run.c's generator) with its state set from the seed by one
 * splitmix64 step, so that neighbouring seeds (0, 1, 2, ...) give unrelated streams.
 */
export class Rng {
  #state: bigint;

  constructor(seed: number | bigint) {
    let z = BigInt.asUintN(64, BigInt(seed) + 0x9e3779b97f4a7c15n);
    z = BigInt.asUintN(64, (z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n);
    z = BigInt.asUintN(64, (z ^ (z >> 27n)) * 0x94d049bb133111ebn);
    this.#state = z ^ (z >> 31n) || 1n; // zero is a fixed point of xorshift
  }

  /** A uniform float in [0, 1) with 24 random bits, as run.c's random_f32. */
  nextFloat(): number {
    let s = this.#state;
    s ^= s >> 12n;
    s = BigInt.asUintN(64, s ^ (s << 25n));
    s ^= s >> 27n;
    this.#state = s;
    const u32 = Number(BigInt.asUintN(64, s * 0x2545f4914f6cdd1dn) >> 32n);
    return (u32 >>> 8) / 16777216;
  }
}

/** Applies logit bias and the penalties in place. `counts` holds how often each id was generated. */
export function applyPenalties(logits: Float32Array, options: SamplingOptions, context: readonly number[], counts: ReadonlyMap<number, number>): void {
  for (const [id, bias] of Object.entries(options.logitBias ?? {})) {
    const i = Number(id);
    if (i >= 0 && i < logits.length) logits[i] = logits[i]! + bias;
  }
  const repetition = options.repetitionPenalty ?? 1;
  if (repetition !== 1) {
    for (const id of new Set(context)) {
      const v = logits[id];
      if (v !== undefined) logits[id] = v > 0 ? v / repetition : v * repetition;
    }
  }
  const presence = options.presencePenalty ?? 0;
  const frequency = options.frequencyPenalty ?? 0;
  if (presence !== 0 || frequency !== 0) {
    for (const [id, count] of counts) {
      const v = logits[id];
      if (v !== undefined) logits[id] = v - presence - frequency * count;
    }
  }
}

/**
 * The candidates sampling may draw from, most likely first, with probabilities renormalized after
 * top-k, top-p and min-p. Exported so tests can check the allowed set directly.
 */
export function candidates(logits: Float32Array, options: SamplingOptions): { ids: Int32Array; probs: Float64Array } {
  const temperature = options.temperature ?? 0;
  const topK = options.topK ?? 0;
  const topP = options.topP ?? 1;
  const minP = options.minP ?? 0;
  let max = -Infinity;
  for (const v of logits) if (v > max) max = v;
  const weights = new Float64Array(logits.length); // softmax numerators; the most likely has weight 1
  let total = 0;
  for (let i = 0; i < logits.length; i++) total += weights[i] = Math.exp((logits[i]! - max) / temperature);
  // Sorting a 100k+ vocabulary every token costs more than the rest of sampling: every filter keeps a
  // prefix of the sorted order, so find a weight bound that holds that prefix with linear passes and
  // sort only the ids above it.
  const above = (b: number): { count: number; mass: number } => {
    let count = 0;
    let mass = 0;
    for (let i = 0; i < weights.length; i++) {
      if (weights[i]! >= b) {
        count++;
        mass += weights[i]!;
      }
    }
    return { count, mass };
  };
  // Each filter's prefix lies above its own bound, so the shorter prefix lies above the larger bound.
  let kBound = 0;
  let kTotal = total; // top-p counts mass over the top-k set (HF's order)
  if (topK > 0) {
    kBound = 1;
    while (above(kBound).count < topK && kBound > 1e-300) kBound /= 16;
    kTotal = topMass(weights, kBound, topK);
  }
  let pBound = 0;
  if (topP < 1) {
    pBound = 1;
    while (above(pBound).mass < topP * kTotal && pBound > 1e-300) pBound /= 16;
  }
  const bound = Math.max(kBound, pBound);
  const floor = Math.max(minP, Number.MIN_VALUE); // min-p: w >= minP * w_max, with w_max = 1
  const pool: number[] = [];
  for (let i = 0; i < weights.length; i++) if (weights[i]! >= bound && weights[i]! >= floor) pool.push(i);
  pool.sort((a, b) => weights[b]! - weights[a]! || a - b);
  let n = topK > 0 ? Math.min(topK, pool.length) : pool.length;
  if (topP < 1) {
    let mass = 0;
    let kept = 0;
    while (kept < n && mass < topP * kTotal) mass += weights[pool[kept++]!]!;
    n = Math.max(1, kept);
  }
  const ids = Int32Array.from(pool.slice(0, Math.max(1, n)));
  const probs = Float64Array.from(ids, (i) => weights[i]!);
  const sum = probs.reduce((a, b) => a + b, 0);
  for (let i = 0; i < probs.length; i++) probs[i]! /= sum;
  return { ids, probs };
}

/** The mass of the k largest weights, given a bound that at least k weights reach. */
function topMass(weights: Float64Array, bound: number, k: number): number {
  const head: number[] = [];
  for (let i = 0; i < weights.length; i++) if (weights[i]! >= bound) head.push(weights[i]!);
  head.sort((a, b) => b - a);
  return head.slice(0, k).reduce((a, b) => a + b, 0);
}

/** Samples the next id; temperature 0 is greedy. `logits` must already hold bias and penalties. */
export function sampleToken(logits: Float32Array, options: SamplingOptions, rng: Rng): number {
  const temperature = options.temperature ?? 0;
  if (temperature <= 0) return argmax(logits);
  if ((options.topK ?? 0) === 0 && (options.topP ?? 1) >= 1 && (options.minP ?? 0) === 0) {
    // No filter: draw from the whole softmax in two linear passes, no candidate list.
    let max = -Infinity;
    for (const v of logits) if (v > max) max = v;
    let sum = 0;
    for (let i = 0; i < logits.length; i++) sum += Math.exp((logits[i]! - max) / temperature);
    let coin = rng.nextFloat() * sum;
    for (let i = 0; i < logits.length; i++) {
      coin -= Math.exp((logits[i]! - max) / temperature);
      if (coin < 0) return i;
    }
    return argmax(logits);
  }
  const { ids, probs } = candidates(logits, options);
  let coin = rng.nextFloat();
  for (let i = 0; i < ids.length; i++) {
    coin -= probs[i]!;
    if (coin < 0) return ids[i]!;
  }
  return ids[ids.length - 1]!;
}
