// Loads a Hugging Face tokenizer.json (+ tokenizer_config.json) into text ⇄ token ids that match the
// Rust `tokenizers` library id for id. Built on @huggingface/tokenizers, with rust-parity.ts fixing
// where it differs. No file I/O: callers pass parsed JSON.

import { LocalmError } from '@localm/errors';
import { AddedTokenSplitter } from './added-token-split.js';
import {
  ChatTemplateRenderer,
  readChatTemplateConfig,
  specialTokenVariables,
  type ChatMessage,
  type ChatTemplateOptions,
} from './chat-template.js';
import { cleanUpTokenizationSpaces } from './clean-up.js';
import { accelerateBpe, fastBpeMerges } from './fast-bpe.js';
import { accelerateByteLevel } from './fast-paths.js';
import { Tokenizer as HfTokenizerClass, type HfInternals, type HfTokenizer } from './hf-library.js';
import { protectSpecialText } from './protect-special-text.js';
import { applyRustParity, byteFallbackValue, hasByteFallbackDecoder } from './rust-parity.js';
import {
  createStreamDecoder,
  type StreamDecodeSource,
  type StreamDecoder,
  type StreamDecoderOptions,
} from './stream-decoder.js';

/** Parsed JSON of a model folder's tokenizer files. */
export interface TokenizerFiles {
  tokenizerJson: unknown; // tokenizer.json
  tokenizerConfigJson?: unknown; // tokenizer_config.json: BOS/EOS names and the clean-up default
}

export interface EncodeOptions {
  addSpecialTokens?: boolean; // default true: the post-processor's BOS etc.
  /**
   * Default true: a special token's text in `text` (e.g. "<|im_end|>") becomes its control id. False
   * encodes it as plain text, as Rust's `encode_special_tokens` does; use it for text a user typed.
   */
  parseSpecialTokens?: boolean;
}

export interface EncodeChatOptions extends ChatTemplateOptions {
  /**
   * Default false: special-token text inside messages (what a user typed, e.g. "<|im_end|>") is
   * encoded as plain text; only the template's own markers are control tokens. True trusts the messages.
   */
  parseSpecialTokensInMessages?: boolean;
}

export interface DecodeOptions {
  skipSpecialTokens?: boolean; // default false
  /** transformers' " ." → "." clean-up. Default: tokenizer_config.json's clean_up_tokenization_spaces, else false. */
  cleanUpTokenizationSpaces?: boolean;
}

/**
 * Text ⇄ token ids for one model, with the ids and text of Hugging Face's Rust `tokenizers`.
 * @example
 * const ids = tokenizer.encode('Hello'); // BOS (when the model adds one), then the id of "▁Hello"
 * tokenizer.decode(ids, { skipSpecialTokens: true }); // 'Hello'
 */
export interface Tokenizer {
  /** Ids as Rust `tokenizers` gives them for this text (lone surrogates count as U+FFFD). */
  encode(text: string, options?: EncodeOptions): number[];
  /** Text for these ids. Ids with no piece (at or past vocabSize) are left out, as Rust does. */
  decode(ids: readonly number[], options?: DecodeOptions): string;
  idToToken(id: number): string | undefined;
  tokenToId(token: string): number | undefined;
  /** One more than the largest id, added tokens included. */
  readonly vocabSize: number;
  readonly bosTokenId: number | undefined; // tokenizer_config.json bos_token, when it names a piece
  readonly eosTokenId: number | undefined; // tokenizer_config.json eos_token, when it names a piece
  createStreamDecoder(options?: StreamDecoderOptions): StreamDecoder;
  /** True when the tokenizer files carry a chat template (tokenizer_config.json or GGUF metadata). */
  readonly hasChatTemplate: boolean;
  /**
   * The chat template rendered as Python transformers' apply_chat_template(tokenize=False) does.
   * Throws LocalmError `invalid_argument` when there is no template, the template refuses the
   * messages (raise_exception) or it passes its limits (steps, time, output size).
   * @example tok.applyChatTemplate([{ role: 'user', content: 'Hi' }], { addGenerationPrompt: true })
   */
  applyChatTemplate(messages: readonly ChatMessage[], options?: ChatTemplateOptions): string;
  /**
   * Ids of the rendered chat, as apply_chat_template(tokenize=True) gives them (no BOS added beyond
   * the template's), with special-token text inside messages kept as plain text unless asked.
   */
  encodeChat(messages: readonly ChatMessage[], options?: EncodeChatOptions): number[];
}

/** What a tokenizer needs beyond tokenizer.json: the chat template and its special-token variables. */
export interface TokenizerExtras {
  chatTemplate?: ChatTemplateRenderer | undefined;
}

class HfJsonTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly bosTokenId: number | undefined;
  readonly eosTokenId: number | undefined;
  readonly hasChatTemplate: boolean;
  readonly #hf: HfTokenizer;
  readonly #specialPieces: ReadonlySet<string>;
  readonly #cleanUpByDefault: boolean;
  readonly #hasByteFallback: boolean;
  readonly #source: StreamDecodeSource;
  readonly #splitter: AddedTokenSplitter;
  readonly #internals: HfInternals;
  readonly #chatTemplate: ChatTemplateRenderer | undefined;
  #specialTextPattern: RegExp | undefined;
  #pieceIds: Map<string, number> | undefined;

  constructor(hf: HfTokenizer, config: Record<string, unknown>, extras: TokenizerExtras = {}) {
    this.#hf = hf;
    this.#internals = hf as unknown as HfInternals;
    this.#splitter = new AddedTokenSplitter(this.#internals);
    this.#chatTemplate = extras.chatTemplate;
    this.hasChatTemplate = extras.chatTemplate !== undefined;
    const addedTokens = hf.get_added_tokens_decoder();
    this.#specialPieces = new Set([...addedTokens.values()].filter((t) => t.special).map((t) => t.content));
    // The JS model's id → piece array already holds the added tokens at their ids.
    this.vocabSize = hf.model?.vocab.length ?? 0;
    this.bosTokenId = this.#specialTokenId(config['bos_token']);
    this.eosTokenId = this.#specialTokenId(config['eos_token']);
    this.#cleanUpByDefault = config['clean_up_tokenization_spaces'] === true;
    this.#hasByteFallback = hasByteFallbackDecoder(hf.decoder);
    this.#source = {
      decodeRaw: (ids) => this.#decodeRaw(ids, false),
      isKept: (id, skip) => {
        const piece = this.idToToken(id);
        return piece !== undefined && !(skip && this.#specialPieces.has(piece));
      },
      isByteFallbackPiece: (id) => this.#hasByteFallback && byteFallbackValue(this.idToToken(id) ?? '') !== undefined,
    };
  }

  encode(text: string, options?: EncodeOptions): number[] {
    if (typeof text !== 'string') throw new LocalmError('invalid_argument', `encode: text must be a string, got ${typeof text}`);
    // added-token-split.ts runs the library's encode_text steps (with faster splitting).
    const pieces = this.#splitter.pieces(toWellFormed(text), options?.parseSpecialTokens ?? true);
    return this.#idsOf(pieces, options?.addSpecialTokens ?? true);
  }

  applyChatTemplate(messages: readonly ChatMessage[], options?: ChatTemplateOptions): string {
    return this.#template().render(messages, options);
  }

  encodeChat(messages: readonly ChatMessage[], options: EncodeChatOptions = {}): number[] {
    const template = this.#template();
    if (options.parseSpecialTokensInMessages === true) {
      return this.encode(template.render(messages, options), { addSpecialTokens: false });
    }
    this.#specialTextPattern ??= specialTextPattern(this.#internals);
    const { messages: protectedMessages, spansOf } = protectSpecialText(messages, this.#specialTextPattern);
    const spans = spansOf(template.render(protectedMessages, options)).map((span) => ({
      text: toWellFormed(span.text),
      parseSpecialTokens: span.parseSpecialTokens,
    }));
    return this.#idsOf(this.#splitter.piecesOfSpans(spans), false);
  }

  #template(): ChatTemplateRenderer {
    if (this.#chatTemplate === undefined) {
      throw new LocalmError('invalid_argument', 'this tokenizer has no chat template (tokenizer_config.json chat_template or GGUF tokenizer.chat_template)');
    }
    return this.#chatTemplate;
  }

  // The library's encode() after encode_text: the post-processor, then pieces to ids (added tokens
  // first, then the model's vocab, then unk), in one lookup. Without unk and byte fallback an unknown
  // character has no id: Rust drops it, and so do we.
  #idsOf(pieces: string[], addSpecialTokens: boolean): number[] {
    const hf = this.#internals;
    const tokens = hf.post_processor ? hf.post_processor(pieces, null, addSpecialTokens).tokens : pieces;
    const idOf = (this.#pieceIds ??= pieceIds(hf));
    const unk = hf.model.unk_token_id;
    const ids: number[] = [];
    for (const token of tokens) {
      const id = idOf.get(token) ?? unk;
      if (id !== undefined) ids.push(id);
    }
    return ids;
  }

  decode(ids: readonly number[], options?: DecodeOptions): string {
    const text = this.#decodeRaw(ids, options?.skipSpecialTokens ?? false);
    return options?.cleanUpTokenizationSpaces ?? this.#cleanUpByDefault ? cleanUpTokenizationSpaces(text) : text;
  }

  idToToken(id: number): string | undefined {
    return Number.isSafeInteger(id) && id >= 0 ? this.#hf.id_to_token(id) : undefined;
  }

  tokenToId(token: string): number | undefined {
    return this.#hf.token_to_id(token);
  }

  createStreamDecoder(options?: StreamDecoderOptions): StreamDecoder {
    return createStreamDecoder(this.#source, {
      skipSpecialTokens: options?.skipSpecialTokens ?? false,
      cleanUpTokenizationSpaces: options?.cleanUpTokenizationSpaces ?? this.#cleanUpByDefault,
      prefixIds: options?.prefixIds ?? [],
    });
  }

  // Rust's TokenizerImpl::decode: ids to pieces (unknown ids dropped), special pieces dropped when
  // asked, then the decoder chain, or the pieces joined by spaces when there is none.
  #decodeRaw(ids: readonly number[], skipSpecialTokens: boolean): string {
    const pieces: string[] = [];
    for (const id of ids) {
      if (!Number.isSafeInteger(id) || id < 0) {
        throw new LocalmError('invalid_argument', `decode: token id ${String(id)} is not a non-negative integer`);
      }
      const piece = this.#hf.id_to_token(id);
      if (piece === undefined || (skipSpecialTokens && this.#specialPieces.has(piece))) continue;
      pieces.push(piece);
    }
    const decoder = this.#hf.decoder;
    return decoder === null ? pieces.join(' ') : decoder.decode(pieces);
  }

  #specialTokenId(entry: unknown): number | undefined {
    const name = typeof entry === 'object' && entry !== null ? (entry as { content?: unknown }).content : entry;
    return typeof name === 'string' ? this.tokenToId(name) : undefined;
  }
}

// Rust strings are UTF-8, so a lone surrogate reaches Rust `tokenizers` as U+FFFD (Node's string
// conversion does this) and can match a "�" piece. JS looks the surrogate itself up, finds no piece and
// falls back to bytes. Case: llama2 "\ud800x" is [28705, 29137 ("�"), 28744] in Rust and
// [28705, 242, 194, 192 (<0xEF> <0xBF> <0xBD>), 28744] in JS.
function toWellFormed(text: string): string {
  if (!/[\uD800-\uDFFF]/.test(text)) return text; // one scan; most text has no surrogates at all
  return text.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
}

// piece → id as the library looks it up: an added token's id over the model vocab's.
function pieceIds(hf: HfInternals): Map<string, number> {
  const ids = new Map(hf.model.tokens_to_ids);
  for (const [piece, token] of hf.added_tokens_map) ids.set(piece, token.id);
  return ids;
}

// The text of every special added token, longest first so that a longer one wins where two overlap.
function specialTextPattern(hf: HfInternals): RegExp {
  const texts = hf.added_tokens.filter((t) => t.special && t.content.length > 0).map((t) => t.content);
  texts.sort((a, b) => b.length - a.length);
  const escaped = texts.map((t) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(escaped.length > 0 ? escaped.join('|') : '(?!)', 'g');
}

// The model types Rust `tokenizers` reads. @huggingface/tokenizers has all but WordLevel.
const RUST_MODEL_TYPES: readonly string[] = ['BPE', 'Unigram', 'WordPiece', 'WordLevel'];

function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
}

/**
 * Builds a tokenizer from the parsed JSON of tokenizer.json and, optionally, tokenizer_config.json.
 * Throws LocalmError `corrupt_model` when either is not the object it should be.
 * @example
 * const tok = loadTokenizer({ tokenizerJson: JSON.parse(a), tokenizerConfigJson: JSON.parse(b) });
 * tok.decode(tok.encode('Hello'), { skipSpecialTokens: true }); // 'Hello'
 */
export function loadTokenizer(files: TokenizerFiles): Tokenizer {
  const json = files.tokenizerJson;
  if (!isJsonObject(json)) {
    throw new LocalmError('corrupt_model', `tokenizer.json: expected a JSON object, got ${describe(json)}`);
  }
  if (!isJsonObject(json['model'])) {
    throw new LocalmError('corrupt_model', `tokenizer.json: "model" must be an object, got ${describe(json['model'])}`);
  }
  const modelType = json['model']['type'];
  if (modelType !== undefined && !RUST_MODEL_TYPES.includes(modelType as string)) {
    throw new LocalmError('corrupt_model', `tokenizer.json: unknown model type ${JSON.stringify(modelType)}`);
  }
  if (modelType === 'WordLevel') {
    throw new LocalmError('unsupported_model', 'tokenizer.json: WordLevel models are not supported (BPE, Unigram, WordPiece are)');
  }
  if (json['added_tokens'] !== undefined && !Array.isArray(json['added_tokens'])) {
    throw new LocalmError('corrupt_model', 'tokenizer.json: "added_tokens" must be an array');
  }
  const config = files.tokenizerConfigJson ?? {};
  if (!isJsonObject(config)) {
    throw new LocalmError('corrupt_model', `tokenizer_config.json: expected a JSON object, got ${describe(config)}`);
  }
  // Rust reads tokenizer.json alone. The JS library would also act on some tokenizer_config keys
  // (additional_special_tokens, remove_space, do_lowercase_and_remove_accent), so it gets none.
  const complete = {
    normalizer: null,
    pre_tokenizer: null,
    post_processor: null,
    decoder: null,
    ...json,
    added_tokens: json['added_tokens'] ?? [],
  };
  let hf: HfTokenizer;
  try {
    // FastBpe replaces the library's merge loop; the library then need not build its own merge table
    // (a JSON.stringify key per merge: a third of loading Gemma 3's 514k merges).
    const modelJson = json['model'];
    const fastMerges = fastBpeMerges(modelJson);
    hf = new HfTokenizerClass(fastMerges ? { ...complete, model: { ...modelJson, merges: [] } } : complete, {});
    applyRustParity(hf, complete);
    if (fastMerges) accelerateBpe(hf.model, fastMerges);
    accelerateByteLevel(hf.pre_tokenizer);
  } catch (cause) {
    const why = cause instanceof Error ? cause.message : String(cause);
    throw new LocalmError('corrupt_model', `tokenizer.json: cannot build the tokenizer (${why})`, { cause });
  }
  const templateConfig = readChatTemplateConfig(config);
  const chatTemplate =
    templateConfig === undefined ? undefined : new ChatTemplateRenderer(templateConfig, specialTokenVariables(config));
  return new HfJsonTokenizer(hf, config, { chatTemplate });
}
