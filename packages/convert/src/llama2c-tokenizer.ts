// Reads a llama2.c tokenizer file (tokenizer.bin / tok512.bin) and writes the Hugging Face
// tokenizer.json and tokenizer_config.json of the same SentencePiece BPE vocab, Llama-2 style.
// Bytes in, JSON objects out: writing the files is the caller's job.

import { LocalmError } from '@localm/errors';

/** A llama2.c vocab as stored: piece text (U+2581 stored as a plain space) and merge score per id. */
export interface Llama2cVocab {
  pieces: string[];
  scores: Float32Array;
  maxTokenLength: number; // bytes, the longest piece
}

export interface Llama2cTokenizerOptions {
  modelMaxLength?: number; // tokenizer_config.json model_max_length; default 512 (stories260K's seq_len)
}

// llama2.c's export (tokenizer.py) fixes these ids: SentencePiece's unk, BOS, EOS, then 256 byte pieces.
const UNK = '<unk>';
const BOS = '<s>';
const EOS = '</s>';
const FIRST_BYTE_ID = 3;
const SPECIAL_NAMES = [UNK, BOS, EOS] as const;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Parses llama2.c's tokenizer format: `int32 max_token_length`, then per id `float32 score,
 * int32 len, len bytes` (little-endian) until the end of the file.
 * Throws LocalmError `corrupt_model` on truncation, a negative or too long length, or bad UTF-8.
 * @example
 * const vocab = readLlama2cTokenizer(new Uint8Array(await readFile('tok512.bin')));
 */
export function readLlama2cTokenizer(bytes: Uint8Array, fileName = 'tok512.bin'): Llama2cVocab {
  const fail = (what: string): never => {
    throw new LocalmError('corrupt_model', `${fileName}: ${what}`);
  };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.byteLength < 4) fail(`truncated: ${bytes.byteLength} bytes, the header alone is 4`);
  const maxTokenLength = view.getInt32(0, true);
  if (maxTokenLength <= 0) fail(`max_token_length is ${maxTokenLength}, expected a positive count of bytes`);
  const pieces: string[] = [];
  const scores: number[] = [];
  let offset = 4;
  while (offset < bytes.byteLength) {
    const id = pieces.length;
    if (offset + 8 > bytes.byteLength) fail(`truncated in the header of piece ${id} at byte ${offset}`);
    const score = view.getFloat32(offset, true);
    const length = view.getInt32(offset + 4, true);
    offset += 8;
    if (length < 0 || length > maxTokenLength) {
      fail(`piece ${id} has length ${length}, expected 0..${maxTokenLength} (max_token_length)`);
    }
    if (offset + length > bytes.byteLength) fail(`truncated in piece ${id}: ${length} bytes declared at byte ${offset}`);
    let piece = '';
    try {
      piece = utf8.decode(bytes.subarray(offset, offset + length));
    } catch (cause) {
      throw new LocalmError('corrupt_model', `${fileName}: piece ${id} is not valid UTF-8`, { cause });
    }
    offset += length;
    pieces.push(piece);
    scores.push(score);
  }
  if (pieces.length === 0) fail('no pieces after the header');
  return { pieces, scores: Float32Array.from(scores), maxTokenLength };
}

/** The HF name of each id: specials renamed, U+2581 put back where llama2.c stored a space. */
function hfPieceNames(vocab: Llama2cVocab): string[] {
  const { pieces, scores } = vocab;
  const fail = (what: string): never => {
    throw new LocalmError('corrupt_model', `llama2.c vocab: ${what}`);
  };
  if (pieces.length !== scores.length) fail(`${pieces.length} pieces but ${scores.length} scores`);
  if (pieces.length < FIRST_BYTE_ID + 256) fail(`${pieces.length} pieces, expected unk, BOS, EOS and 256 byte pieces`);
  const names = pieces.map((piece, id) => {
    if (id < FIRST_BYTE_ID) return SPECIAL_NAMES[id] ?? piece;
    if (id < FIRST_BYTE_ID + 256) {
      const want = byteName(id - FIRST_BYTE_ID);
      return piece === want ? piece : fail(`piece ${id} is ${JSON.stringify(piece)}, expected ${want}`);
    }
    return piece.replaceAll(' ', '\u2581');
  });
  const seen = new Map<string, number>();
  names.forEach((name, id) => {
    const other = seen.get(name);
    if (other !== undefined) fail(`pieces ${other} and ${id} are both ${JSON.stringify(name)}`);
    seen.set(name, id);
  });
  return names;
}

function byteName(byte: number): string {
  return `<0x${byte.toString(16).toUpperCase().padStart(2, '0')}>`;
}

/**
 * transformers' SentencePieceExtractor.extract: for every piece (in id order), every split into two
 * pieces of the vocab, ordered by the ids of the two parts; then all of them ordered by the merged
 * piece's score, highest first (a stable sort, so ties keep that order). HF BPE applies the lowest
 * rank first, which is llama2.c's "merge the pair whose result scores highest".
 */
function sentencePieceMerges(names: readonly string[], scores: Float32Array): [string, string][] {
  const idOf = new Map(names.map((name, id) => [name, id] as const));
  const merges: { left: string; right: string; score: number }[] = [];
  names.forEach((name, id) => {
    const chars = Array.from(name); // Python slices str by code point
    const local: { left: string; right: string; leftId: number; rightId: number }[] = [];
    for (let cut = 1; cut < chars.length; cut++) {
      const left = chars.slice(0, cut).join('');
      const right = chars.slice(cut).join('');
      const leftId = idOf.get(left);
      const rightId = idOf.get(right);
      if (leftId !== undefined && rightId !== undefined) local.push({ left, right, leftId, rightId });
    }
    local.sort((a, b) => a.leftId - b.leftId || a.rightId - b.rightId);
    const score = scores[id] ?? 0;
    for (const { left, right } of local) merges.push({ left, right, score });
  });
  merges.sort((a, b) => b.score - a.score);
  return merges.map(({ left, right }) => [left, right]);
}

/**
 * Builds a Llama-2-style tokenizer.json (BPE with byte fallback, "▁" prefix and spaces, `<s>` added
 * in front) and tokenizer_config.json for a llama2.c vocab. With these, HF `tokenizers` encodes text
 * as llama2.c's encode() does (BOS, dummy-prefix space, byte fallback, merges by score).
 * @example
 * const { tokenizerJson, tokenizerConfigJson } = llama2cTokenizerFiles(readLlama2cTokenizer(bytes));
 * await writeFile('tokenizer.json', JSON.stringify(tokenizerJson));
 */
export function llama2cTokenizerFiles(
  vocab: Llama2cVocab,
  options: Llama2cTokenizerOptions = {},
): { tokenizerJson: object; tokenizerConfigJson: object } {
  const names = hfPieceNames(vocab);
  const bosEntry = { id: BOS, ids: [1], tokens: [BOS] };
  const tokenizerJson = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: SPECIAL_NAMES.map((content, id) => ({
      id,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    // SentencePiece's dummy prefix and whitespace escape; Prepend skips empty text, as llama2.c does.
    normalizer: {
      type: 'Sequence',
      normalizers: [
        { type: 'Prepend', prepend: '\u2581' },
        { type: 'Replace', pattern: { String: ' ' }, content: '\u2581' },
      ],
    },
    pre_tokenizer: null,
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: BOS, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [
        { SpecialToken: { id: BOS, type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: BOS, type_id: 1 } },
        { Sequence: { id: 'B', type_id: 1 } },
      ],
      special_tokens: { [BOS]: bosEntry },
    },
    decoder: {
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: '\u2581' }, content: ' ' },
        { type: 'ByteFallback' },
        { type: 'Fuse' },
        { type: 'Strip', content: ' ', start: 1, stop: 0 },
      ],
    },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: UNK,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      ignore_merges: false,
      vocab: Object.fromEntries(names.map((name, id) => [name, id])),
      merges: sentencePieceMerges(names, vocab.scores),
    },
  };
  const tokenizerConfigJson = {
    add_bos_token: true,
    add_eos_token: false,
    bos_token: BOS,
    eos_token: EOS,
    unk_token: UNK,
    clean_up_tokenization_spaces: false,
    model_max_length: options.modelMaxLength ?? 512,
    tokenizer_class: 'LlamaTokenizer',
  };
  return { tokenizerJson, tokenizerConfigJson };
}
