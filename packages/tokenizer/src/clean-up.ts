// transformers' `clean_up_tokenization` (" ." → ".", " n't" → "n't", ...), whole-text and streamed.
// Applied after decoding when tokenizer_config.json's clean_up_tokenization_spaces asks for it; the
// Rust library itself never does this.

// transformers' PreTrainedTokenizerBase.clean_up_tokenization: ten str.replace calls in this order.
const REPLACEMENTS: readonly (readonly [string, string])[] = [
  [' .', '.'],
  [' ?', '?'],
  [' !', '!'],
  [' ,', ','],
  [" ' ", "'"],
  [" n't", "n't"],
  [" 'm", "'m"],
  [" 's", "'s"],
  [" 've", "'ve"],
  [" 're", "'re"],
];

/** Python's `str.replace` chain: each step replaces non-overlapping matches, left to right. */
export function cleanUpTokenizationSpaces(text: string): string {
  let out = text;
  for (const [from, to] of REPLACEMENTS) out = out.replaceAll(from, to);
  return out;
}

// Characters that occur in no pattern. Why a cut after one is safe: every step only deletes spaces, so
// the cleaned left part still ends with that character, which can end no prefix of a pattern; hence no
// match at any step spans the cut, and cleaning the parts apart gives the same text as cleaning the whole.
const PATTERN_CHARS = new Set(REPLACEMENTS.flatMap(([from]) => [...from]));

/**
 * Cleans text that arrives in pieces so that the concatenated output equals
 * `cleanUpTokenizationSpaces(all input)`. It holds back the tail after the last character that
 * appears in no pattern (usually part of a word).
 */
export class CleanUpStream {
  #pending = '';

  push(text: string): string {
    this.#pending += text;
    let cut = this.#pending.length;
    while (cut > 0 && PATTERN_CHARS.has(this.#pending[cut - 1] ?? ' ')) cut--;
    const ready = this.#pending.slice(0, cut);
    this.#pending = this.#pending.slice(cut);
    return cleanUpTokenizationSpaces(ready);
  }

  flush(): string {
    const rest = cleanUpTokenizationSpaces(this.#pending);
    this.#pending = '';
    return rest;
  }
}
