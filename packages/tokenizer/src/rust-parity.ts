// Where @huggingface/tokenizers 0.2.0 gives other text or ids than the Rust `tokenizers` library
// (0.23.2, the reference), this file swaps in a part that behaves like Rust. Each fix names the case
// that shows the difference. Everything else is left to @huggingface/tokenizers.

import {
  ByteFallbackDecoder,
  MetaspaceDecoder,
  MetaspacePreTokenizer,
  SequenceDecoder,
  SequencePreTokenizer,
  type HfDecoder as Decoder,
  type HfPreTokenizer as PreTokenizer,
  type HfTokenizer,
} from './hf-library.js';

type PrependScheme = 'always' | 'first' | 'never';

/**
 * Rust's ByteFallback: a run of `<0xXX>` pieces becomes its UTF-8 text when the whole run is valid
 * UTF-8, and otherwise one U+FFFD per byte. The JS version decodes with TextDecoder, which keeps the
 * valid parts and drops a leading BOM. Cases (llama2 ids): [218,155,227] = bytes D7 98 E0 gives Rust
 * "���", JS "ט�"; [242,190,194] = EF BB BF gives Rust "\uFEFF", JS "".
 */
class RustByteFallbackDecoder extends ByteFallbackDecoder {
  override decode_chain(tokens: string[]): string[] {
    const out: string[] = [];
    let run: number[] = [];
    const endRun = (): void => {
      if (run.length === 0) return;
      out.push(utf8OrReplacement(run));
      run = [];
    };
    for (const token of tokens) {
      const byte = byteFallbackValue(token);
      if (byte === undefined) {
        endRun();
        out.push(token);
      } else {
        run.push(byte);
      }
    }
    endRun();
    return out;
  }
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function utf8OrReplacement(bytes: readonly number[]): string {
  try {
    return strictUtf8.decode(Uint8Array.from(bytes));
  } catch {
    return '\uFFFD'.repeat(bytes.length);
  }
}

/**
 * The byte a `<0xXX>` piece stands for, the way Rust reads it: exactly six bytes and
 * `u8::from_str_radix(&token[3..5], 16)`, which also accepts a leading `+` ("<0x+F>" is 15) but, unlike
 * JS parseInt, no trailing junk ("<0x1g>" is a plain piece).
 */
export function byteFallbackValue(token: string): number | undefined {
  const match = /^<0x(\+[0-9A-Fa-f]|[0-9A-Fa-f]{2})>$/.exec(token);
  return match?.[1] === undefined ? undefined : Number.parseInt(match[1], 16);
}

/**
 * Rust's Metaspace decoder: in the first piece every replacement character is dropped (not only a
 * leading one) unless prepend_scheme is "never", where it becomes a space like everywhere else. Case:
 * pieces ["▁▁", "a"] decode to "a" in Rust and " a" in JS; with prepend_scheme "never", ["▁x"] is " x"
 * in Rust and "x" in JS.
 */
class RustMetaspaceDecoder extends MetaspaceDecoder {
  prependScheme: PrependScheme = 'always';

  override decode_chain(tokens: string[]): string[] {
    return tokens.map((token, i) =>
      token.replaceAll(this.replacement, i === 0 && this.prependScheme !== 'never' ? '' : ' '),
    );
  }
}

/**
 * Rust's Metaspace pre-tokenizer with `split` (true when absent, as in older files): after replacing
 * spaces it splits before every replacement character, so "é  " gives words "▁é", "▁", "▁" (ids
 * 1233, 28705, 28705 with the llama2 vocab), where JS keeps one word "▁é▁▁" (1233, 259).
 */
class RustMetaspacePreTokenizer extends MetaspacePreTokenizer {
  split = true;

  override pre_tokenize_text(text: string, options?: { section_index?: number }): string[] {
    const words = super.pre_tokenize_text(text, options);
    if (!this.split) return words;
    return words.flatMap((word) => splitBefore(word, this.replacement));
  }
}

function splitBefore(word: string, delimiter: string): string[] {
  const parts: string[] = [];
  let start = 0;
  for (let at = word.indexOf(delimiter, 1); at !== -1; at = word.indexOf(delimiter, at + delimiter.length)) {
    parts.push(word.slice(start, at));
    start = at;
  }
  parts.push(word.slice(start));
  return parts.filter((part) => part.length > 0);
}

interface MetaspaceJson {
  replacement?: string;
  prepend_scheme?: PrependScheme;
  add_prefix_space?: boolean;
  split?: boolean;
}

function prependSchemeOf(config: MetaspaceJson): PrependScheme {
  return config.prepend_scheme ?? (config.add_prefix_space === false ? 'never' : 'always');
}

function patchDecoder(decoder: Decoder): Decoder {
  if (decoder instanceof SequenceDecoder) {
    decoder.decoders = decoder.decoders.map(patchDecoder);
    return decoder;
  }
  if (decoder instanceof ByteFallbackDecoder) {
    return new RustByteFallbackDecoder({ type: 'ByteFallback' });
  }
  if (decoder instanceof MetaspaceDecoder) {
    const config = decoder.config as MetaspaceJson;
    const fixed = new RustMetaspaceDecoder({ type: 'Metaspace', replacement: decoder.replacement });
    fixed.prependScheme = prependSchemeOf(config);
    return fixed;
  }
  return decoder;
}

function patchPreTokenizer(preTokenizer: PreTokenizer, json: unknown): PreTokenizer {
  if (typeof json !== 'object' || json === null) return preTokenizer;
  if (preTokenizer instanceof SequencePreTokenizer) {
    const children = (json as { pretokenizers?: unknown }).pretokenizers;
    if (!Array.isArray(children)) return preTokenizer;
    preTokenizer.tokenizers = preTokenizer.tokenizers.map((child, i) =>
      child === null ? null : patchPreTokenizer(child, children[i]),
    );
    return preTokenizer;
  }
  if (preTokenizer instanceof MetaspacePreTokenizer) {
    // The JS class keeps no config, so `split` and `add_prefix_space` are read from the JSON here.
    const config = json as MetaspaceJson;
    const fixed = new RustMetaspacePreTokenizer({
      type: 'Metaspace',
      replacement: preTokenizer.replacement,
      str_rep: preTokenizer.str_rep,
      prepend_scheme: prependSchemeOf(config),
    });
    fixed.split = config.split ?? true;
    return fixed;
  }
  return preTokenizer;
}

/** True when the decoder chain joins `<0xXX>` runs (after applyRustParity). */
export function hasByteFallbackDecoder(decoder: Decoder | null): boolean {
  if (decoder instanceof SequenceDecoder) return decoder.decoders.some(hasByteFallbackDecoder);
  return decoder instanceof ByteFallbackDecoder;
}

/** Replaces, in place, the parts of `tokenizer` that differ from Rust. */
export function applyRustParity(tokenizer: HfTokenizer, tokenizerJson: Record<string, unknown>): void {
  if (tokenizer.decoder !== null) tokenizer.decoder = patchDecoder(tokenizer.decoder);
  if (tokenizer.pre_tokenizer !== null) {
    tokenizer.pre_tokenizer = patchPreTokenizer(tokenizer.pre_tokenizer, tokenizerJson['pre_tokenizer']);
  }
}
