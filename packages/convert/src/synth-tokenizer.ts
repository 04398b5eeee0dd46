// A byte-level BPE vocabulary of any size for synthetic models: the 256 GPT-2 byte symbols, then merges
// enumerated in a fixed order (every byte pair, then pair + byte, ...), then special tokens at the ids the
// preset names. Real text encodes and decodes losslessly; the pieces carry no meaning. Writes
// tokenizer.json / tokenizer_config.json and the lists a GGUF stores. No I/O.

/** GPT-2's bytes_to_unicode: printable bytes stand for themselves, the rest for U+0100 onwards. */
export function byteSymbols(): string[] {
  const symbols: string[] = [];
  let next = 256;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    symbols.push(String.fromCodePoint(printable ? b : next++));
  }
  return symbols;
}

export interface SynthVocab {
  tokens: string[]; // by id
  isSpecial: boolean[]; // by id
  merges: string[]; // 'left right', highest priority first
  bosTokenId: number;
  eosTokenId: number;
}

// Bytes in the order their pairs are enumerated: letters, space, digits, punctuation, then the rest,
// so the first merges look like text.
function byteOrder(): number[] {
  const first: number[] = [];
  const range = (a: string, b: string): void => {
    for (let c = a.charCodeAt(0); c <= b.charCodeAt(0); c++) first.push(c);
  };
  range('a', 'z');
  first.push(32);
  range('A', 'Z');
  range('0', '9');
  range('!', '/');
  const seen = new Set(first);
  for (let b = 0; b < 256; b++) if (!seen.has(b)) first.push(b);
  return first;
}

/**
 * The vocabulary for `vocabSize` ids: ids `firstSpecialTokenId`.. and the BOS/EOS ids are special
 * tokens (`<|bos|>`, `<|eos|>`, `<|special_N|>`), every other id a byte or a merge, in id order.
 * @example
 * const vocab = synthVocab({ vocabSize: 512, bosTokenId: 509, eosTokenId: 510, firstSpecialTokenId: 509 });
 */
export function synthVocab(spec: { vocabSize: number; bosTokenId: number; eosTokenId: number; firstSpecialTokenId: number }): SynthVocab {
  const { vocabSize, bosTokenId, eosTokenId, firstSpecialTokenId } = spec;
  const isSpecial = Array.from({ length: vocabSize }, (_, id) => id >= firstSpecialTokenId || id === bosTokenId || id === eosTokenId);
  const normalCount = isSpecial.filter((s) => !s).length;
  if (normalCount < 256) throw new RangeError(`synthVocab: ${normalCount} normal ids, fewer than the 256 bytes`);
  const symbols = byteSymbols();
  const order = byteOrder().map((b) => symbols[b]!);
  const pieces: string[] = [...symbols];
  const merges: string[] = [];
  // Level by level: every piece of the previous level followed by every byte.
  let previous = order;
  while (pieces.length < normalCount) {
    const level: string[] = [];
    for (const left of previous) {
      for (const right of order) {
        if (pieces.length >= normalCount) break;
        pieces.push(left + right);
        merges.push(`${left} ${right}`);
        level.push(left + right);
      }
      if (pieces.length >= normalCount) break;
    }
    previous = level;
  }
  const tokens: string[] = new Array<string>(vocabSize);
  let next = 0;
  for (let id = 0; id < vocabSize; id++) {
    if (!isSpecial[id]) tokens[id] = pieces[next++]!;
    else if (id === eosTokenId) tokens[id] = '<|eos|>';
    else if (id === bosTokenId) tokens[id] = '<|bos|>';
    else tokens[id] = `<|special_${id - firstSpecialTokenId}|>`;
  }
  return { tokens, isSpecial, merges, bosTokenId, eosTokenId };
}

/** tokenizer.json (Hugging Face `tokenizers`) and tokenizer_config.json for `vocab`. */
export function synthTokenizerFiles(vocab: SynthVocab, options: { modelMaxLength: number }): { tokenizerJson: unknown; tokenizerConfigJson: unknown } {
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  const tokenizerJson = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: vocab.tokens.flatMap((content, id) =>
      vocab.isSpecial[id] ? [{ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }] : [],
    ),
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: null,
    decoder: byteLevel,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      // Special tokens are in the model's vocab too (as Llama 2's <s> is), so ids have no holes.
      vocab: Object.fromEntries(vocab.tokens.map((t, id) => [t, id])),
      merges: vocab.merges,
    },
  };
  const tokenizerConfigJson = {
    tokenizer_class: 'PreTrainedTokenizerFast',
    bos_token: vocab.tokens[vocab.bosTokenId],
    eos_token: vocab.tokens[vocab.eosTokenId],
    add_bos_token: false,
    clean_up_tokenization_spaces: false,
    model_max_length: options.modelMaxLength,
  };
  return { tokenizerJson, tokenizerConfigJson };
}
