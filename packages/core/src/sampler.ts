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
  // Sorting the whole vocabulary is the cost; with top-k, a partial selection would do. Vocabularies
  // are at most a few 100k, and this runs once per token next to a full decoder step.
  const order = Array.from({ length: logits.length }, (_, i) => i).filter((i) => logits[i]! > -Infinity);
  order.sort((a, b) => logits[b]! - logits[a]! || a - b);
  let n = topK > 0 ? Math.min(topK, order.length) : order.length;
  const weights = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += weights[i] = Math.exp((logits[order[i]!]! - max) / temperature);
  // HF's order: top-k, then top-p and min-p on the top-k distribution; each keeps a prefix of the
  // sorted candidates, so together they keep the shorter prefix.
  let keep = n;
  if (topP < 1) {
    let mass = 0;
    let kept = 0;
    while (kept < n && mass < topP * sum) mass += weights[kept++]!;
    keep = Math.min(keep, Math.max(1, kept));
  }
  if (minP > 0) {
    let kept = 0;
    while (kept < n && weights[kept]! >= minP * weights[0]!) kept++;
    keep = Math.min(keep, Math.max(1, kept));
  }
  n = keep;
  const probs = weights.slice(0, n);
  const total = probs.reduce((a, b) => a + b, 0);
  for (let i = 0; i < n; i++) probs[i]! /= total;
  return { ids: Int32Array.from(order.slice(0, n)), probs };
}

/** Samples the next id; temperature 0 is greedy. `logits` must already hold bias and penalties. */
export function sampleToken(logits: Float32Array, options: SamplingOptions, rng: Rng): number {
  if ((options.temperature ?? 0) <= 0) return argmax(logits);
  const { ids, probs } = candidates(logits, options);
  let coin = rng.nextFloat();
  for (let i = 0; i < ids.length; i++) {
    coin -= probs[i]!;
    if (coin < 0) return ids[i]!;
  }
  return ids[ids.length - 1]!;
}
