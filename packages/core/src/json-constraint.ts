// Constrains generation to JSON that a schema accepts: a candidate token is allowed only when the
// text so far plus its text is still a valid prefix (json-prefix.ts). Checks candidates lazily, most
// likely first, so the cost per token is a few prefix checks, not one per vocabulary entry.

import type { Tokenizer } from '@localm/tokenizer';
import { checkJsonPrefix, type JsonSchema, type PrefixState } from './json-prefix.js';
import { candidates, type Rng, type SamplingOptions } from './sampler.js';

const pieceCache = new WeakMap<Tokenizer, string[]>();

/** Each token's text in the middle of a sequence ('' for special tokens and partial UTF-8). */
function tokenPieces(tokenizer: Tokenizer): string[] {
  let pieces = pieceCache.get(tokenizer);
  if (pieces) return pieces;
  // Decoding a token alone can drop its leading space (SentencePiece's Strip decoder); decoding it
  // after an anchor token and cutting the anchor's text gives the text it adds mid-sequence.
  const anchor = tokenizer.encode('a', { addSpecialTokens: false });
  const anchorText = tokenizer.decode(anchor);
  pieces = [];
  for (let id = 0; id < tokenizer.vocabSize; id++) {
    const text = tokenizer.decode([...anchor, id], { skipSpecialTokens: true }).slice(anchorText.length);
    pieces.push(text.includes('\uFFFD') ? '' : text);
  }
  pieceCache.set(tokenizer, pieces);
  return pieces;
}

export class JsonConstraint {
  readonly #schema: JsonSchema;
  readonly #pieces: string[];
  readonly #charToken = new Map<string, number>();
  #text = '';
  #state: PrefixState;
  checks = 0; // prefix checks made, for measuring the constraint's cost

  constructor(schema: JsonSchema, tokenizer: Tokenizer) {
    this.#schema = schema;
    this.#pieces = tokenPieces(tokenizer);
    this.#pieces.forEach((piece, id) => {
      if (piece.length === 1 && !this.#charToken.has(piece)) this.#charToken.set(piece, id);
    });
    this.#state = checkJsonPrefix(schema, '');
  }

  /** True once the text is a whole document that cannot grow (a closed object, array or string). */
  get isComplete(): boolean {
    return this.#state.valid && this.#state.complete;
  }

  /** Whether `id` keeps the text a valid prefix that `budget` more one-character tokens can finish. */
  allows(id: number, budget = Infinity): boolean {
    const piece = this.#pieces[id];
    if (!piece) return false;
    this.checks++;
    const state = checkJsonPrefix(this.#schema, this.#text + piece);
    return state.valid && state.completion.length <= budget;
  }

  accept(id: number): void {
    this.#text += this.#pieces[id] ?? '';
    this.#state = checkJsonPrefix(this.#schema, this.#text);
  }

  /** Token ids that finish the document in the fewest characters, one character per token. */
  completionIds(): number[] {
    if (!this.#state.valid) return [];
    return [...this.#state.completion].map((ch) => {
      const id = this.#charToken.get(ch);
      if (id === undefined) throw new Error(`no single-character token for ${JSON.stringify(ch)}`);
      return id;
    });
  }

  /** Picks an allowed token: greedy over the sorted logits, or a draw with invalid ids rejected. */
  pick(logits: Float32Array, sampling: SamplingOptions, rng: Rng, budget = Infinity): number | undefined {
    if ((sampling.temperature ?? 0) > 0) {
      const { ids, probs } = candidates(logits, sampling);
      const weights = Float64Array.from(probs);
      let left = 1;
      for (let tries = 0; tries < ids.length && left > 1e-12; tries++) {
        let coin = rng.nextFloat() * left;
        let i = 0;
        for (; i < ids.length - 1; i++) if ((coin -= weights[i]!) < 0) break;
        if (this.allows(ids[i]!, budget)) return ids[i]!;
        left -= weights[i]!;
        weights[i] = 0;
      }
    }
    // Most likely first: a few linear argmax passes (each O(vocab)) before paying for a full sort.
    const rejected = new Set<number>();
    for (let tries = 0; tries < 16; tries++) {
      let best = -1;
      for (let i = 0; i < logits.length; i++) if (!rejected.has(i) && (best < 0 || logits[i]! > logits[best]!)) best = i;
      if (best < 0) return undefined;
      if (this.allows(best, budget)) return best;
      rejected.add(best);
    }
    const order = Array.from({ length: logits.length }, (_, i) => i).sort((a, b) => logits[b]! - logits[a]! || a - b);
    return order.find((id) => !rejected.has(id) && this.allows(id, budget));
  }
}
