// The prompts the bench feeds every runtime: token ids, seeded, never a special id, different per run
// (so no runtime can reuse a KV cache from the previous run).

import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface ModelFacts {
  vocabSize: number;
  specialIds: number[]; // BOS/EOS and the like: kept out of prompts and, where a runtime allows, out of outputs
}

export function readModelFacts(modelDir: string): ModelFacts {
  const config = JSON.parse(readFileSync(join(modelDir, 'config.json'), 'utf8')) as Record<string, unknown>;
  const ids = [config['bos_token_id'], config['eos_token_id']].flat().filter((x): x is number => typeof x === 'number');
  return { vocabSize: config['vocab_size'] as number, specialIds: [...new Set(ids)] };
}

/** `length` ids in [0, vocabSize) avoiding `specialIds`, from an LCG seeded by `seed` (run index). */
export function benchPrompt(facts: ModelFacts, length: number, seed: number): number[] {
  let state = (seed * 2654435761 + 12345) >>> 0;
  const ids: number[] = [];
  while (ids.length < length) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    const id = Math.floor((state / 4294967296) * facts.vocabSize);
    if (!facts.specialIds.includes(id)) ids.push(id);
  }
  return ids;
}
