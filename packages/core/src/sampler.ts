// Picks the next token id from logits: greedy, or temperature sampling with a seeded PRNG so a run
// is reproducible on every device.

/** Index of the largest logit; the first one on ties (as llama2.c's argmax). */
export function argmax(logits: Float32Array): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i;
  return best;
}

/** xorshift64*, the generator of llama2.c's run.c, so a seed means the same stream there and here. */
export class Rng {
  #state: bigint;

  constructor(seed: number | bigint) {
    this.#state = BigInt.asUintN(64, BigInt(seed)) || 1n; // zero is a fixed point of xorshift
  }

  /** A uniform float in [0, 1). */
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

/** Samples from softmax(logits / temperature); temperature 0 is greedy. */
export function sampleToken(logits: Float32Array, temperature: number, rng: Rng): number {
  if (temperature <= 0) return argmax(logits);
  let max = -Infinity;
  for (const v of logits) if (v > max) max = v;
  const probs = new Float64Array(logits.length);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += probs[i] = Math.exp((logits[i]! - max) / temperature);
  let coin = rng.nextFloat() * sum;
  for (let i = 0; i < probs.length; i++) {
    coin -= probs[i]!;
    if (coin < 0) return i;
  }
  return probs.length - 1;
}
