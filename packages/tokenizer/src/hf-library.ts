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
  special: boolean;
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
