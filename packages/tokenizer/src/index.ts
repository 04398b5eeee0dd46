// Public surface of @localm/tokenizer: text ⇄ token ids for Hugging Face tokenizer files, and a
// streaming detokenizer. Pure: no file I/O and no Node built-ins, so it runs in browsers.

export { loadTokenizer } from './tokenizer.js';
export type { DecodeOptions, EncodeOptions, Tokenizer, TokenizerFiles } from './tokenizer.js';
export type { StreamDecoder, StreamDecoderOptions } from './stream-decoder.js';
