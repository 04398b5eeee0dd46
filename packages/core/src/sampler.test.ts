// The sampler against distributions computed here from the definitions (softmax, top-k, top-p,
// min-p, penalties), over many seeds, with a chi-square test.

import { describe, expect, test } from 'vitest';
import { Rng, applyPenalties, argmax, sampleToken, type SamplingOptions } from './sampler.js';

const LOGITS = Float32Array.from([2.0, 1.5, 1.2, 0.9, 0.3, -0.4, -1.0, -2.5]);

/** The distribution each option set should sample from, straight from the definitions. */
function expected(options: SamplingOptions): number[] {
  const t = options.temperature!;
  const order = [...LOGITS.keys()].sort((a, b) => LOGITS[b]! - LOGITS[a]!);
  const p = order.map((i) => Math.exp(LOGITS[i]! / t));
  const k = options.topK || order.length;
  const topK = p.slice(0, k);
  const z = topK.reduce((a, b) => a + b, 0);
  let keep = k;
  if (options.topP !== undefined) {
    let mass = 0;
    keep = 0;
    while (mass < options.topP) mass += topK[keep++]! / z;
  }
  if (options.minP !== undefined) keep = Math.min(keep, topK.filter((v) => v / topK[0]! >= options.minP!).length);
  const kept = topK.slice(0, keep);
  const total = kept.reduce((a, b) => a + b, 0);
  const out = new Array<number>(LOGITS.length).fill(0);
  kept.forEach((v, i) => (out[order[i]!] = v / total));
  return out;
}

/** Chi-square statistic of the counts against the expected probabilities (nonzero cells). */
function chiSquare(counts: number[], probs: number[], n: number): { stat: number; df: number } {
  let stat = 0;
  let df = -1;
  probs.forEach((p, i) => {
    if (p > 0) {
      stat += (counts[i]! - n * p) ** 2 / (n * p);
      df++;
    }
  });
  return { stat, df };
}

// 99.9th percentiles of chi-square for 1..7 degrees of freedom.
const CHI2_999 = [0, 10.83, 13.82, 16.27, 18.47, 20.52, 22.46, 24.32];

describe.each<[string, SamplingOptions]>([
  ['temperature only', { temperature: 1 }],
  ['top-k 3', { temperature: 0.7, topK: 3 }],
  ['top-p 0.8', { temperature: 1, topP: 0.8 }],
  ['min-p 0.2', { temperature: 1, minP: 0.2 }],
  ['top-k 5 + top-p 0.9 + min-p 0.1', { temperature: 1.3, topK: 5, topP: 0.9, minP: 0.1 }],
])('%s', (_, options) => {
  test('samples only the allowed ids, with the right frequencies over 20,000 seeds', () => {
    const n = 20_000;
    const counts = new Array<number>(LOGITS.length).fill(0);
    for (let seed = 0; seed < n; seed++) counts[sampleToken(LOGITS, options, new Rng(seed))]!++;
    const probs = expected(options);
    probs.forEach((p, i) => {
      if (p === 0) expect(counts[i], `id ${i} is outside the allowed set`).toBe(0);
    });
    const { stat, df } = chiSquare(counts, probs, n);
    if (df > 0) expect(stat).toBeLessThan(CHI2_999[df]!);
  });
});

test('temperature 0 is argmax, first index on ties', () => {
  expect(sampleToken(Float32Array.from([1, 3, 3, 2]), { temperature: 0 }, new Rng(1))).toBe(1);
  expect(argmax(LOGITS)).toBe(0);
});

test('the same seed gives the same stream; different seeds differ', () => {
  const draw = (seed: number): number[] => {
    const rng = new Rng(seed);
    return Array.from({ length: 8 }, () => rng.nextFloat());
  };
  expect(draw(42)).toEqual(draw(42));
  expect(draw(42)).not.toEqual(draw(43));
  for (const v of draw(7)) expect(v >= 0 && v < 1).toBe(true);
});

test('penalties follow HF (repetition) and OpenAI (presence, frequency) definitions', () => {
  const logits = Float32Array.from([2, -2, 1, 0.5]);
  applyPenalties(logits, { repetitionPenalty: 2, presencePenalty: 0.25, frequencyPenalty: 0.5, logitBias: { 3: -Infinity } }, [0, 1], new Map([[2, 2]]));
  expect(Array.from(logits)).toEqual([1, -4, 1 - 0.25 - 1, -Infinity]);
});
