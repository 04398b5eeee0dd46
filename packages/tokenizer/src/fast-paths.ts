// Faster stand-ins for two hot parts of @huggingface/tokenizers, with the same output (the corpus
// parity tests hold them to it): the added-token splitter (added-token-split.ts uses it), which
// walked a trie of one-character object keys at every position of the text, and the ByteLevel pre-tokenizer's byte → character
// mapping, which built an array per word through TextEncoder. Profiled on ~1 MB of mixed text.

interface TrieNode {
  children: Map<number, TrieNode>;
  word: string | undefined;
}

/** The library's DictionarySplitter: at each position the longest added token, else one character on. */
export class FastDictionarySplitter {
  readonly #root: TrieNode = { children: new Map(), word: undefined };

  constructor(dictionary: Iterable<string>) {
    for (const word of dictionary) {
      let node = this.#root;
      for (let i = 0; i < word.length; i++) {
        const code = word.charCodeAt(i);
        let child = node.children.get(code);
        if (child === undefined) {
          child = { children: new Map(), word: undefined };
          node.children.set(code, child);
        }
        node = child;
      }
      node.word = word;
    }
  }

  split(text: string): string[] {
    return this.splitMarked(text).parts;
  }

  /** The parts, and for each whether it is a dictionary word (no string lookups needed after). */
  splitMarked(text: string): { parts: string[]; isWord: boolean[] } {
    const result: string[] = [];
    const isWord: boolean[] = [];
    const root = this.#root.children;
    if (root.size === 0) return text.length > 0 ? { parts: [text], isWord: [false] } : { parts: [], isWord: [] };
    const n = text.length;
    let start = 0;
    let i = 0;
    while (i < n) {
      let node = root.get(text.charCodeAt(i));
      if (node === undefined) {
        i++;
        continue;
      }
      let match: string | undefined;
      for (let j = i + 1; ; j++) {
        if (node.word !== undefined) match = node.word;
        if (j >= n) break;
        const child: TrieNode | undefined = node.children.get(text.charCodeAt(j));
        if (child === undefined) break;
        node = child;
      }
      if (match === undefined) {
        i++;
        continue;
      }
      if (i > start) {
        result.push(text.slice(start, i));
        isWord.push(false);
      }
      result.push(match);
      isWord.push(true);
      i += match.length;
      start = i;
    }
    if (start < n) {
      result.push(text.slice(start));
      isWord.push(false);
    }
    return { parts: result, isWord };
  }
}

interface ByteLevelPreTokenizer {
  add_prefix_space: boolean;
  use_regex: boolean;
  pattern: RegExp;
  byte_encoder: Record<number, string>;
  pre_tokenize_text(text: string, options?: unknown): string[];
}

/** GPT-2's byte → printable character, for the bytes of one word, without a TextEncoder round trip. */
function byteLevelMapper(byteEncoder: Record<number, string>): (word: string) => string {
  const table: string[] = Array.from({ length: 256 }, (_, b) => byteEncoder[b] ?? '');
  return (word) => {
    let out = '';
    for (let i = 0; i < word.length; i++) {
      let code = word.charCodeAt(i);
      if (code < 0x80) {
        out += table[code];
        continue;
      }
      if (code >= 0xd800 && code <= 0xdbff && i + 1 < word.length) {
        const low = word.charCodeAt(i + 1);
        if (low >= 0xdc00 && low <= 0xdfff) {
          code = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
          i++;
        } else code = 0xfffd;
      } else if (code >= 0xd800 && code <= 0xdfff) code = 0xfffd; // lone surrogate: TextEncoder's U+FFFD
      if (code < 0x800) out += table[0xc0 | (code >> 6)]! + table[0x80 | (code & 0x3f)]!;
      else if (code < 0x10000) out += table[0xe0 | (code >> 12)]! + table[0x80 | ((code >> 6) & 0x3f)]! + table[0x80 | (code & 0x3f)]!;
      else {
        out += table[0xf0 | (code >> 18)]! + table[0x80 | ((code >> 12) & 0x3f)]!;
        out += table[0x80 | ((code >> 6) & 0x3f)]! + table[0x80 | (code & 0x3f)]!;
      }
    }
    return out;
  };
}

/** Gives every ByteLevel pre-tokenizer in the tree the table-driven byte mapping. */
export function accelerateByteLevel(preTokenizer: unknown): void {
  if (typeof preTokenizer !== 'function' && (typeof preTokenizer !== 'object' || preTokenizer === null)) return;
  const inner = (preTokenizer as { tokenizers?: unknown }).tokenizers;
  if (Array.isArray(inner)) for (const child of inner) accelerateByteLevel(child);
  const byteLevel = preTokenizer as Partial<ByteLevelPreTokenizer>;
  if (byteLevel.constructor?.name !== 'ByteLevel' || typeof byteLevel.byte_encoder !== 'object' || !(byteLevel.pattern instanceof RegExp)) return;
  const map = byteLevelMapper(byteLevel.byte_encoder);
  const self = byteLevel as ByteLevelPreTokenizer;
  self.pre_tokenize_text = (text: string): string[] => {
    const prefixed = self.add_prefix_space && !text.startsWith(' ') ? ` ${text}` : text;
    const words = self.use_regex ? (prefixed.match(self.pattern) ?? []) : [prefixed];
    return words.map(map);
  };
}
