// Turns a GGUF file's `tokenizer.ggml.*` metadata into the tokenizer.json and tokenizer_config.json
// that Hugging Face would have for the model, as transformers' GGUF converters do, so a .gguf needs
// nothing beside it. 'llama' (SentencePiece with scores and byte fallback) and 'gpt2' (byte-level
// BPE with merges, pre-tokenized as llama.cpp's `tokenizer.ggml.pre` names) are supported.

import { LocalmError } from '@localm/errors';
import { readGgufMetadata, type ByteSource, type GgufMetadataValue, type GgufReadLimits } from './gguf-metadata.js';
import { loadTokenizer, type Tokenizer } from './tokenizer.js';

// llama.cpp's llama_token_type.
const TOKEN_TYPE = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;

// tokenizer.json pre-tokenizers for llama.cpp's pre-tokenizer names (llama-vocab.cpp), written as
// the models' own tokenizer.json files have them. `ignoreMerges`: Llama 3's BPE takes a word that
// is in the vocab whole (llama.cpp sets ignore_merges for LLAMA3 too).
interface PreTokenization {
  normalizer: unknown;
  preTokenizer: unknown;
  ignoreMerges: boolean;
}

const byteLevel = (useRegex: boolean): Record<string, unknown> => ({ type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: useRegex });
const split = (regex: string): Record<string, unknown> => ({ type: 'Split', pattern: { Regex: regex }, behavior: 'Isolated', invert: false });

const LLAMA3_REGEX = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const QWEN2_REGEX = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const DEEPSEEK3_REGEXES = [
  '\\p{N}{1,3}',
  '[一-龥぀-ゟ゠-ヿ]+',
  "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+",
];

const sequence = (...pretokenizers: unknown[]): unknown => ({ type: 'Sequence', pretokenizers });

const PRE_TOKENIZATIONS: Record<string, PreTokenization> = {
  // GPT-2's own regex inside ByteLevel.
  'gpt-2': { normalizer: null, preTokenizer: byteLevel(true), ignoreMerges: false },
  default: { normalizer: null, preTokenizer: byteLevel(true), ignoreMerges: false },
  'llama-bpe': { normalizer: null, preTokenizer: sequence(split(LLAMA3_REGEX), byteLevel(false)), ignoreMerges: true },
  // Qwen 2 / 2.5 / 3 normalize to NFC first (their tokenizer.json says so; llama.cpp does not).
  qwen2: { normalizer: { type: 'NFC' }, preTokenizer: sequence(split(QWEN2_REGEX), byteLevel(false)), ignoreMerges: false },
  // SmolLM: single digits, then GPT-2's regex.
  smollm: {
    normalizer: null,
    preTokenizer: sequence({ type: 'Digits', individual_digits: true }, byteLevel(true)),
    ignoreMerges: false,
  },
  'deepseek-v3': { normalizer: null, preTokenizer: sequence(...DEEPSEEK3_REGEXES.map(split), byteLevel(false)), ignoreMerges: false },
};
// Other names llama.cpp gives the same pre-tokenizers.
const PRE_ALIASES: Record<string, string> = {
  llama3: 'llama-bpe',
  'llama-v3': 'llama-bpe',
  'falcon3': 'llama-bpe',
  'deepseek-r1-qwen': 'qwen2',
};

type Metadata = ReadonlyMap<string, GgufMetadataValue>;

function fail(message: string): LocalmError {
  return new LocalmError('corrupt_model', `GGUF tokenizer: ${message}`);
}

function stringList(metadata: Metadata, key: string): readonly string[] {
  const value = metadata.get(key);
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) throw fail(`${key} must be an array of strings`);
  return value as readonly string[];
}

function numberList(metadata: Metadata, key: string, length: number): ArrayLike<number> | undefined {
  const value = metadata.get(key);
  if (value === undefined) return undefined;
  const isNumeric = ArrayBuffer.isView(value) && !(value instanceof BigInt64Array) && !(value instanceof BigUint64Array);
  if (!isNumeric) throw fail(`${key} must be an array of numbers`);
  const list = value as unknown as ArrayLike<number>;
  if (list.length !== length) throw fail(`${key} has ${list.length} entries for ${length} tokens`);
  return list;
}

function optionalId(metadata: Metadata, key: string, vocabSize: number): number | undefined {
  const value = metadata.get(key);
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value)) throw fail(`${key} must be an integer`);
  // llama.cpp writes -1 (as u32 0xFFFFFFFF) for "none"; ids past the vocab are refused.
  if (value === -1 || value === 0xffffffff) return undefined;
  if (value < 0 || value >= vocabSize) throw fail(`${key} = ${value} is outside the ${vocabSize}-token vocab`);
  return value;
}

function optionalBool(metadata: Metadata, key: string): boolean | undefined {
  const value = metadata.get(key);
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') throw fail(`${key} must be a bool`);
  return value;
}

/** transformers' SentencePieceExtractor: merges from the vocab, ordered by the merged piece's score. */
function mergesFromScores(tokens: readonly string[], scores: ArrayLike<number>, isNormal: (id: number) => boolean): [string, string][] {
  const idOf = new Map<string, number>();
  tokens.forEach((token, id) => {
    if (isNormal(id) && !idOf.has(token)) idOf.set(token, id);
  });
  const merges: { left: string; right: string; score: number }[] = [];
  tokens.forEach((token, id) => {
    if (!isNormal(id)) return;
    const chars = Array.from(token);
    const local: { left: string; right: string; leftId: number; rightId: number }[] = [];
    for (let cut = 1; cut < chars.length; cut++) {
      const left = chars.slice(0, cut).join('');
      const right = chars.slice(cut).join('');
      const leftId = idOf.get(left);
      const rightId = idOf.get(right);
      if (leftId !== undefined && rightId !== undefined) local.push({ left, right, leftId, rightId });
    }
    local.sort((a, b) => a.leftId - b.leftId || a.rightId - b.rightId);
    for (const { left, right } of local) merges.push({ left, right, score: scores[id] ?? 0 });
  });
  merges.sort((a, b) => b.score - a.score); // stable: ties keep id order
  return merges.map(({ left, right }) => [left, right]);
}

function templateProcessing(bos: string | undefined, eos: string | undefined, idOf: (t: string) => number): unknown {
  const single: unknown[] = [];
  const specialTokens: Record<string, unknown> = {};
  const add = (token: string): void => {
    single.push({ SpecialToken: { id: token, type_id: 0 } });
    specialTokens[token] = { id: token, ids: [idOf(token)], tokens: [token] };
  };
  if (bos !== undefined) add(bos);
  single.push({ Sequence: { id: 'A', type_id: 0 } });
  if (eos !== undefined) add(eos);
  const pair = [...single, ...single.map((p) => JSON.parse(JSON.stringify(p).replace('"A"', '"B"').replaceAll('"type_id":0', '"type_id":1')) as unknown)];
  return { type: 'TemplateProcessing', single, pair, special_tokens: specialTokens };
}

/**
 * tokenizer.json and tokenizer_config.json for a GGUF file's tokenizer metadata. Throws
 * LocalmError 'corrupt_model' for missing or inconsistent keys and 'unsupported_model' for a
 * tokenizer model or pre-tokenizer name it does not know.
 */
export function tokenizerFilesFromGguf(metadata: Metadata): { tokenizerJson: Record<string, unknown>; tokenizerConfigJson: Record<string, unknown> } {
  const model = metadata.get('tokenizer.ggml.model');
  if (typeof model !== 'string') throw fail('tokenizer.ggml.model is missing');
  const tokens = stringList(metadata, 'tokenizer.ggml.tokens');
  const vocabSize = tokens.length;
  if (vocabSize === 0) throw fail('tokenizer.ggml.tokens is empty');
  const types = numberList(metadata, 'tokenizer.ggml.token_type', vocabSize);
  const typeOf = (id: number): number => types?.[id] ?? TOKEN_TYPE.NORMAL;
  const bosId = optionalId(metadata, 'tokenizer.ggml.bos_token_id', vocabSize);
  const eosId = optionalId(metadata, 'tokenizer.ggml.eos_token_id', vocabSize);
  const unkId = optionalId(metadata, 'tokenizer.ggml.unknown_token_id', vocabSize);
  const padId = optionalId(metadata, 'tokenizer.ggml.padding_token_id', vocabSize);
  const tokenAt = (id: number | undefined): string | undefined => (id === undefined ? undefined : tokens[id]);

  // Control and user-defined tokens are matched in text before the model, as added tokens.
  const isAdded = (id: number): boolean => typeOf(id) === TOKEN_TYPE.CONTROL || typeOf(id) === TOKEN_TYPE.USER_DEFINED;
  const addedTokens = tokens.flatMap((content, id) =>
    isAdded(id) || id === unkId
      ? [{ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: typeOf(id) !== TOKEN_TYPE.USER_DEFINED }]
      : [],
  );
  const vocab: Record<string, number> = Object.create(null) as Record<string, number>;
  tokens.forEach((token, id) => {
    if (!(token in vocab)) vocab[token] = id;
  });

  let tokenizerJson: Record<string, unknown>;
  let addBos: boolean;
  let addSpacePrefix = true;
  if (model === 'llama') {
    const scores = numberList(metadata, 'tokenizer.ggml.scores', vocabSize);
    if (scores === undefined) throw fail('a llama (SentencePiece) tokenizer needs tokenizer.ggml.scores');
    addBos = optionalBool(metadata, 'tokenizer.ggml.add_bos_token') ?? true;
    addSpacePrefix = optionalBool(metadata, 'tokenizer.ggml.add_space_prefix') ?? true;
    const normalizers: unknown[] = [{ type: 'Replace', pattern: { String: ' ' }, content: '\u2581' }];
    if (addSpacePrefix) normalizers.unshift({ type: 'Prepend', prepend: '\u2581' });
    const decoders: unknown[] = [{ type: 'Replace', pattern: { String: '\u2581' }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' }];
    if (addSpacePrefix) decoders.push({ type: 'Strip', content: ' ', start: 1, stop: 0 });
    tokenizerJson = {
      normalizer: { type: 'Sequence', normalizers },
      pre_tokenizer: null,
      decoder: { type: 'Sequence', decoders },
      model: {
        type: 'BPE',
        dropout: null,
        unk_token: tokenAt(unkId) ?? null,
        continuing_subword_prefix: null,
        end_of_word_suffix: null,
        fuse_unk: true,
        byte_fallback: true,
        ignore_merges: false,
        vocab,
        merges: mergesFromScores(tokens, scores, (id) => typeOf(id) === TOKEN_TYPE.NORMAL),
      },
    };
  } else if (model === 'gpt2') {
    const preName = metadata.get('tokenizer.ggml.pre') ?? 'default';
    if (typeof preName !== 'string') throw fail('tokenizer.ggml.pre must be a string');
    const pre = PRE_TOKENIZATIONS[PRE_ALIASES[preName] ?? preName];
    if (pre === undefined) {
      throw new LocalmError(
        'unsupported_model',
        `GGUF tokenizer: pre-tokenizer "${preName}" is not supported (known: ${[...Object.keys(PRE_TOKENIZATIONS), ...Object.keys(PRE_ALIASES)].join(', ')})`,
      );
    }
    const merges = stringList(metadata, 'tokenizer.ggml.merges').map((merge, i) => {
      const at = merge.indexOf(' ', 1); // a merge's left part never starts with a space in byte-level BPE
      if (at <= 0 || at === merge.length - 1) throw fail(`tokenizer.ggml.merges[${i}] ${JSON.stringify(merge).slice(0, 40)} is not "left right"`);
      return [merge.slice(0, at), merge.slice(at + 1)];
    });
    addBos = optionalBool(metadata, 'tokenizer.ggml.add_bos_token') ?? false;
    tokenizerJson = {
      normalizer: pre.normalizer,
      pre_tokenizer: pre.preTokenizer,
      decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
      model: {
        type: 'BPE',
        dropout: null,
        unk_token: null,
        continuing_subword_prefix: null,
        end_of_word_suffix: null,
        fuse_unk: false,
        byte_fallback: false,
        ignore_merges: pre.ignoreMerges,
        vocab,
        merges,
      },
    };
  } else {
    throw new LocalmError('unsupported_model', `GGUF tokenizer: model "${model}" is not supported (llama and gpt2 are)`);
  }
  const addEos = optionalBool(metadata, 'tokenizer.ggml.add_eos_token') ?? false;
  const bos = addBos ? tokenAt(bosId) : undefined;
  const eos = addEos ? tokenAt(eosId) : undefined;
  tokenizerJson['post_processor'] = bos === undefined && eos === undefined ? null : templateProcessing(bos, eos, (t) => vocab[t] ?? 0);
  tokenizerJson['added_tokens'] = addedTokens;
  tokenizerJson['version'] = '1.0';

  const chatTemplate = metadata.get('tokenizer.chat_template');
  if (chatTemplate !== undefined && typeof chatTemplate !== 'string') throw fail('tokenizer.chat_template must be a string');
  const tokenizerConfigJson: Record<string, unknown> = {
    add_bos_token: addBos,
    add_eos_token: addEos,
    clean_up_tokenization_spaces: false,
  };
  const named: [string, number | undefined][] = [
    ['bos_token', bosId],
    ['eos_token', eosId],
    ['unk_token', unkId],
    ['pad_token', padId],
  ];
  for (const [key, id] of named) if (id !== undefined) tokenizerConfigJson[key] = tokens[id];
  if (chatTemplate !== undefined) tokenizerConfigJson['chat_template'] = chatTemplate;
  return { tokenizerJson, tokenizerConfigJson };
}

/**
 * Loads the tokenizer of a GGUF file from its metadata alone (the tensors are never read).
 * @example
 * const tok = await loadGgufTokenizer(blobSource(file), file.name); // a File from an <input>
 * tok.encode('Hello'); // the ids llama.cpp's model was trained on
 */
export async function loadGgufTokenizer(source: ByteSource, fileName = 'GGUF file', limits?: GgufReadLimits): Promise<Tokenizer> {
  const { metadata } = await readGgufMetadata(source, fileName, limits);
  return loadTokenizer(tokenizerFilesFromGguf(metadata));
}
