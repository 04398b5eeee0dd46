// Splitting text on added tokens before the model sees it, as Rust's AddedVocabulary does, with the
// choice Rust calls `encode_special_tokens`: special tokens written in the text are plain text.
// Chat input uses it per span, so a user typing "<|im_end|>" cannot close their own turn while the
// template's own markers stay control tokens. @huggingface/tokenizers' encode_text has no such
// switch; this file runs the same steps over its parts with the dictionary chosen per call.

import { FastDictionarySplitter } from './fast-paths.js';
import type { HfAddedToken, HfInternals } from './hf-library.js';

/** The dictionaries of one tokenizer: all added tokens, or only the non-special ones. */
interface Dictionary {
  unnormalized: FastDictionarySplitter;
  normalized: FastDictionarySplitter;
  tokens: Map<string, HfAddedToken>;
}

/** Text between added tokens (`token` unset), or one added token. */
interface Section {
  text: string;
  isPlainInside: boolean; // holds special-token text to keep plain
  token?: HfAddedToken | undefined;
}

/** A span of text and whether special tokens written in it are control tokens. */
export interface TextSpan {
  text: string;
  parseSpecialTokens: boolean;
}

export class AddedTokenSplitter {
  readonly #hf: HfInternals;
  readonly #all: Dictionary;
  readonly #plain: Dictionary;

  constructor(hf: HfInternals) {
    this.#hf = hf;
    const lists = { unnormalized: [] as string[], normalized: [] as string[] };
    for (const token of hf.added_tokens) {
      if (token.normalized && hf.normalizer !== null) lists.normalized.push(hf.normalizer(token.content));
      else lists.unnormalized.push(token.content);
    }
    this.#all = {
      unnormalized: new FastDictionarySplitter(lists.unnormalized),
      normalized: new FastDictionarySplitter(lists.normalized),
      tokens: hf.added_tokens_map,
    };
    const tokens = new Map([...hf.added_tokens_map].filter(([, token]) => !token.special));
    const unnormalized: string[] = [];
    const normalized: string[] = [];
    // The same rule as the library's constructor: normalized tokens are matched after the normalizer.
    for (const token of hf.added_tokens) {
      if (token.special) continue;
      if (token.normalized && hf.normalizer !== null) normalized.push(hf.normalizer(token.content));
      else unnormalized.push(token.content);
    }
    this.#plain = { unnormalized: new FastDictionarySplitter(unnormalized), normalized: new FastDictionarySplitter(normalized), tokens };
  }

  /** The pieces (model tokens and added tokens) of the text, before the post-processor. */
  pieces(text: string, parseSpecialTokens: boolean): string[] {
    return this.#encodeSection(text, 0, parseSpecialTokens ? this.#all : this.#plain);
  }

  /**
   * Pieces for a text made of spans. Spans that parse special tokens are split on all added tokens
   * first, as one text; spans that do not are kept whole inside the sections between those tokens,
   * so the result equals Rust's for the joined text with the marked occurrences not matched.
   */
  piecesOfSpans(spans: readonly TextSpan[]): string[] {
    // Sections of the joined text between added tokens found in parsing spans; a plain span never
    // ends a section, so "a" + plain "<|x|>" + "b" is one section "a<|x|>b" as Rust would see it.
    const sections: Section[] = [];
    let current: Section = { text: '', isPlainInside: false };
    for (const span of spans) {
      if (!span.parseSpecialTokens) {
        current.text += span.text;
        current.isPlainInside = true;
        continue;
      }
      const parts = this.#all.unnormalized.split(span.text);
      for (const part of parts) {
        const token = this.#all.tokens.get(part);
        if (token !== undefined) {
          sections.push(current, { text: part, isPlainInside: false, token });
          current = { text: '', isPlainInside: false };
        } else {
          current.text += part;
        }
      }
    }
    sections.push(current);
    return this.#encodeSections(
      sections.filter((s) => s.text.length > 0),
      (s) => (s.isPlainInside ? this.#plain : this.#all),
    );
  }

  #encodeSection(text: string, sectionIndex: number, dictionary: Dictionary): string[] {
    const { parts, isWord } = dictionary.unnormalized.splitMarked(text);
    const sections = parts.map(
      (part, i): Section => ({ text: part, isPlainInside: false, token: isWord[i] === true ? dictionary.tokens.get(part) : undefined }),
    );
    return this.#encodeSections(sections, () => dictionary, sectionIndex);
  }

  // @huggingface/tokenizers 0.2.0's Tokenizer.encode_text, step for step, with the dictionary of
  // each section given by the caller.
  #encodeSections(
    sections: Section[],
    dictionaryOf: (section: Section) => Dictionary,
    firstIndex = 0,
  ): string[] {
    const hf = this.#hf;
    const texts = sections.map((s) => s.text);
    const tokenAt = (i: number): HfAddedToken | undefined => sections[i]?.token;
    stripAround(texts, tokenAt);
    const out: string[] = [];
    for (const [i, section] of sections.entries()) {
      let text = texts[i] ?? '';
      if (text.length === 0) continue;
      if (tokenAt(i) !== undefined) {
        out.push(text);
        continue;
      }
      const dictionary = dictionaryOf(section);
      if (hf.normalizer !== null) text = hf.normalizer(text);
      if (text.length === 0) continue;
      const { parts: subsections, isWord } = dictionary.normalized.splitMarked(text);
      stripAround(subsections, (j) => (isWord[j] === true ? dictionary.tokens.get(subsections[j] ?? '') : undefined));
      for (const [j, subsection] of subsections.entries()) {
        if (subsection.length === 0) continue;
        if (isWord[j] === true) {
          out.push(subsection);
          continue;
        }
        const words = hf.pre_tokenizer !== null ? hf.pre_tokenizer(subsection, { section_index: firstIndex + i }) : [subsection];
        out.push(...hf.model(words));
      }
    }
    return out;
  }
}

// An added token with lstrip/rstrip eats the whitespace next to it.
function stripAround(texts: string[], tokenAt: (i: number) => HfAddedToken | undefined): void {
  for (let i = 0; i < texts.length; i++) {
    const token = tokenAt(i);
    if (token === undefined) continue;
    if (token.lstrip && i > 0) texts[i - 1] = (texts[i - 1] ?? '').trimEnd();
    if (token.rstrip && i < texts.length - 1) texts[i + 1] = (texts[i + 1] ?? '').trimStart();
  }
}
