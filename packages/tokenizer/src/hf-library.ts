// A typed view of the parts of @huggingface/tokenizers that this package uses. The library's .d.ts
// files re-export through extensionless relative paths, which NodeNext resolution cannot follow, so
// its own types arrive as `any` or missing; these interfaces describe what we call instead.

import * as library from '@huggingface/tokenizers';

export interface HfDecoder {
  config: unknown;
  decode(tokens: string[]): string;
  decode_chain(tokens: string[]): string[];
}

export interface HfPreTokenizer {
  pre_tokenize_text(text: string, options?: { section_index?: number }): string[];
}

export interface HfAddedToken {
  content: string;
  id: number;
  special: boolean;
  normalized: boolean;
  lstrip: boolean;
  rstrip: boolean;
}

/** The library's trie of added-token strings. */
export interface HfSplitter {
  split(text: string): string[];
}

/** The fields of the library's Tokenizer that its encode_text reads (added-token-split.ts redoes it). */
export interface HfInternals {
  normalizer: ((text: string) => string) | null;
  pre_tokenizer: ((text: string, options: { section_index: number }) => string[]) | null;
  model: ((words: string[]) => string[]) & { tokens_to_ids: Map<string, number>; unk_token_id: number | undefined };
  post_processor: ((tokens: string[], pair: null, addSpecialTokens: boolean) => { tokens: string[] }) | null;
  added_tokens: HfAddedToken[];
  added_tokens_map: Map<string, HfAddedToken>;
  splitter_unnormalized: HfSplitter;
  splitter_normalized: HfSplitter;
}

export interface HfTokenizer {
  decoder: HfDecoder | null;
  pre_tokenizer: HfPreTokenizer | null;
  model: { vocab: (string | undefined)[] } | null;
  encode(text: string, options: { add_special_tokens: boolean }): { ids: (number | undefined)[] };
  id_to_token(id: number): string | undefined;
  token_to_id(token: string): number | undefined;
  get_added_tokens_decoder(): Map<number, HfAddedToken>;
}

interface HfLibrary {
  Tokenizer: new (tokenizerJson: object, config: object) => HfTokenizer;
  ByteFallbackDecoder: new (config: object) => HfDecoder & { text_decoder: TextDecoder };
  MetaspaceDecoder: new (config: object) => HfDecoder & { replacement: string };
  SequenceDecoder: new (config: object) => HfDecoder & { decoders: HfDecoder[] };
  MetaspacePreTokenizer: new (config: object) => HfPreTokenizer & { replacement: string; str_rep: string };
  SequencePreTokenizer: new (config: object) => HfPreTokenizer & { tokenizers: (HfPreTokenizer | null)[] };
}

const hf = library as unknown as HfLibrary;

export const {
  Tokenizer,
  ByteFallbackDecoder,
  MetaspaceDecoder,
  SequenceDecoder,
  MetaspacePreTokenizer,
  SequencePreTokenizer,
} = hf;
