// Public surface of @localm/tokenizer: text ⇄ token ids for Hugging Face tokenizer files, and a
// streaming detokenizer. Pure: no file I/O and no Node built-ins, so it runs in browsers.

export { loadTokenizer } from './tokenizer.js';
export type { DecodeOptions, EncodeChatOptions, EncodeOptions, Tokenizer, TokenizerFiles } from './tokenizer.js';
export { ChatTemplateRenderer, readChatTemplateConfig, specialTokenVariables } from './chat-template.js';
export type { ChatContentPart, ChatMessage, ChatTemplateConfig, ChatTemplateOptions, ChatToolCall } from './chat-template.js';
export { DEFAULT_TEMPLATE_LIMITS, type TemplateLimits } from './template-sandbox.js';
export { formatStrftime } from './strftime.js';
export type { StreamDecoder, StreamDecoderOptions } from './stream-decoder.js';
export { loadGgufTokenizer, tokenizerFilesFromGguf } from './gguf-tokenizer.js';
export { blobSource, bytesSource, readGgufMetadata } from './gguf-metadata.js';
export type { ByteSource, GgufMetadata, GgufMetadataValue, GgufReadLimits } from './gguf-metadata.js';
