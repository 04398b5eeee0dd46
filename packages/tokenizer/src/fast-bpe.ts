// A faster merge loop for @huggingface/tokenizers' BPE model, with the same output. The library
// keys its merge ranks by JSON.stringify([left, right]) and allocates an object per symbol, which
// profiles showed as most of encode()'s time (add_node, the GC); SentencePiece-style vocabularies
// without a pre-tokenizer (Llama 2, Gemma) hand it whole documents as one word. Here: token ids, an
// open-addressing table of (left id, right id) → rank, typed-array linked lists and a binary heap,
// as Rust's `tokenizers` does (lowest rank first, leftmost first among equal ranks).

interface LibraryBpe {
  tokens_to_ids: Map<string, number>;
  ignore_merges: boolean;
  byte_fallback: boolean;
  unk_token: string | null | undefined;
  end_of_word_suffix: string | null | undefined;
  continuing_subword_suffix: string | null | undefined;
  text_encoder?: TextEncoder;
  bpe: (word: string) => string[];
  encode: (words: string[]) => string[];
}

const EMPTY = -1;
const BYTE_PIECES: readonly string[] = Array.from({ length: 256 }, (_, b) => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);

/** (left id, right id) → merge rank and merged id, in open addressing over typed arrays. */
class PairTable {
  readonly #mask: number;
  readonly #lefts: Int32Array;
  readonly #rights: Int32Array;
  readonly #ranks: Int32Array;
  readonly #merged: Int32Array;

  constructor(count: number) {
    let capacity = 16;
    while (capacity < count * 2) capacity *= 2;
    this.#mask = capacity - 1;
    this.#lefts = new Int32Array(capacity).fill(EMPTY);
    this.#rights = new Int32Array(capacity);
    this.#ranks = new Int32Array(capacity);
    this.#merged = new Int32Array(capacity);
  }

  #slot(left: number, right: number): number {
    let slot = (Math.imul(left, 0x9e3779b1) ^ Math.imul(right + 0x7f4a7c15, 0x85ebca77)) & this.#mask;
    while (this.#lefts[slot] !== EMPTY && (this.#lefts[slot] !== left || this.#rights[slot] !== right)) {
      slot = (slot + 1) & this.#mask;
    }
    return slot;
  }

  /** A later merge of the same pair replaces an earlier one, as in both libraries' maps. */
  set(left: number, right: number, rank: number, merged: number): void {
    const slot = this.#slot(left, right);
    this.#lefts[slot] = left;
    this.#rights[slot] = right;
    this.#ranks[slot] = rank;
    this.#merged[slot] = merged;
  }

  /** The slot of the pair, or -1 when the pair does not merge. */
  find(left: number, right: number): number {
    if (left < 0 || right < 0) return -1;
    const slot = this.#slot(left, right);
    return this.#lefts[slot] === EMPTY ? -1 : slot;
  }

  rank(slot: number): number {
    return this.#ranks[slot] ?? 0;
  }

  merged(slot: number): number {
    return this.#merged[slot] ?? 0;
  }
}

class FastBpe {
  readonly #model: LibraryBpe;
  readonly #pairs: PairTable;
  readonly #pieces: string[]; // id → piece
  readonly #cache = new Map<string, string[]>();
  readonly #encoder = new TextEncoder();
  readonly #hasBytePiece: Uint8Array; // 1 where the vocab has the byte's <0xXX> piece
  // Work arrays, grown as words need; one encode runs at a time (JS is single-threaded).
  #ids = new Int32Array(256);
  #next = new Int32Array(256);
  #prev = new Int32Array(256);
  #origin = new Int32Array(256); // the original index of each symbol's first character: the tie-break
  #heap = new Float64Array(1024);

  constructor(model: LibraryBpe, merges: readonly [string, string][]) {
    this.#model = model;
    const pieces: string[] = [];
    for (const [piece, id] of model.tokens_to_ids) if (pieces[id] === undefined) pieces[id] = piece;
    this.#pieces = pieces;
    this.#hasBytePiece = Uint8Array.from(BYTE_PIECES, (p) => (model.tokens_to_ids.has(p) ? 1 : 0));
    this.#pairs = new PairTable(merges.length);
    for (const [rank, merge] of merges.entries()) {
      const [left, right] = merge;
      const leftId = model.tokens_to_ids.get(left);
      const rightId = model.tokens_to_ids.get(right);
      const mergedId = model.tokens_to_ids.get(left + right);
      // Rust refuses a file with such a merge; here it can never apply.
      if (leftId === undefined || rightId === undefined || mergedId === undefined) continue;
      this.#pairs.set(leftId, rightId, rank, mergedId);
    }
  }

  encode(words: string[]): string[] {
    const model = this.#model;
    const out: string[] = [];
    for (const word of words) {
      if (model.ignore_merges && model.tokens_to_ids.has(word)) {
        out.push(word);
        continue;
      }
      for (const piece of this.#bpe(word)) {
        if (model.tokens_to_ids.has(piece)) out.push(piece);
        else this.#unknown(piece, out);
      }
    }
    return out;
  }

  // The library's handling of a piece outside the vocab: its UTF-8 bytes as <0xXX> pieces when
  // byte fallback has them all, else the unknown token when there is one, else nothing.
  #unknown(piece: string, out: string[]): void {
    const model = this.#model;
    if (model.byte_fallback) {
      const bytes = this.#encoder.encode(piece);
      if (bytes.every((b) => this.#hasBytePiece[b] === 1)) {
        for (const b of bytes) out.push(BYTE_PIECES[b] ?? '');
        return;
      }
    }
    if (model.unk_token !== null && model.unk_token !== undefined) out.push(model.unk_token);
  }

  #bpe(word: string): string[] {
    if (word.length === 0) return [];
    const cached = this.#cache.get(word);
    if (cached !== undefined) return cached;
    const result = this.#merge(word);
    // The library caches words under 256 UTF-16 units; so do we, with a bound on the entries.
    if (word.length < 256) {
      if (this.#cache.size >= 50_000) this.#cache.clear();
      this.#cache.set(word, result);
    }
    return result;
  }

  #grow(n: number): void {
    if (this.#ids.length >= n) return;
    let size = this.#ids.length;
    while (size < n) size *= 2;
    this.#ids = new Int32Array(size);
    this.#next = new Int32Array(size);
    this.#prev = new Int32Array(size);
    this.#origin = new Int32Array(size);
  }

  #merge(word: string): string[] {
    const tokensToIds = this.#model.tokens_to_ids;
    this.#grow(word.length + 1);
    const ids = this.#ids;
    const next = this.#next;
    const prev = this.#prev;
    const origin = this.#origin;
    // Symbols: one per code point; -1 for a character outside the vocab (it never merges).
    const chars: string[] = [];
    let n = 0;
    for (const char of word) {
      ids[n] = tokensToIds.get(char) ?? -1;
      origin[n] = n;
      prev[n] = n - 1;
      next[n] = n + 1;
      chars.push(char);
      n++;
    }
    next[n - 1] = -1;
    if (n > 1) {
      // Heap keys: rank * n + origin of the left symbol, smallest first.
      let heap = this.#heap;
      let size = 0;
      const push = (key: number): void => {
        if (size === heap.length) {
          const bigger = new Float64Array(heap.length * 2);
          bigger.set(heap);
          heap = this.#heap = bigger;
        }
        let at = size++;
        while (at > 0) {
          const parent = (at - 1) >> 1;
          const up = heap[parent] ?? 0;
          if (up <= key) break;
          heap[at] = up;
          at = parent;
        }
        heap[at] = key;
      };
      const pop = (): number => {
        const top = heap[0] ?? 0;
        const last = heap[--size] ?? 0;
        let at = 0;
        for (;;) {
          let child = 2 * at + 1;
          if (child >= size) break;
          const right = heap[child + 1] ?? Infinity;
          if (child + 1 < size && right < (heap[child] ?? 0)) child++;
          const down = heap[child] ?? 0;
          if (down >= last) break;
          heap[at] = down;
          at = child;
        }
        heap[at] = last;
        return top;
      };
      const pairs = this.#pairs;
      for (let i = 0; i + 1 < n; i++) {
        const slot = pairs.find(ids[i] ?? -1, ids[i + 1] ?? -1);
        if (slot >= 0) push(pairs.rank(slot) * n + i);
      }
      while (size > 0) {
        const key = pop();
        const rank = Math.floor(key / n);
        const at = key - rank * n; // a symbol's position is the origin of its first character
        const right = next[at] ?? -1;
        if (ids[at] === -2 || right < 0) continue; // merged away, or now last
        const slot = pairs.find(ids[at] ?? -1, ids[right] ?? -1);
        if (slot < 0 || pairs.rank(slot) !== rank) continue; // stale: the pair changed
        ids[at] = pairs.merged(slot);
        ids[right] = -2;
        const after = next[right] ?? -1;
        next[at] = after;
        if (after >= 0) prev[after] = at;
        const before = prev[at] ?? -1;
        if (before >= 0) {
          const left = pairs.find(ids[before] ?? -1, ids[at] ?? -1);
          if (left >= 0) push(pairs.rank(left) * n + (origin[before] ?? 0));
        }
        if (after >= 0) {
          const rightSlot = pairs.find(ids[at] ?? -1, ids[after] ?? -1);
          if (rightSlot >= 0) push(pairs.rank(rightSlot) * n + at);
        }
      }
    }
    const pieces: string[] = [];
    for (let at = 0; at >= 0; at = next[at] ?? -1) {
      const id = ids[at] ?? -1;
      pieces.push(id >= 0 ? (this.#pieces[id] ?? '') : (chars[at] ?? ''));
    }
    return pieces;
  }
}

/**
 * The merges of a tokenizer.json BPE model as the library reads them ("a b" or ["a", "b"]), when
 * FastBpe can run it: a BPE model without word suffixes (no family here has them). Undefined otherwise.
 */
export function fastBpeMerges(modelJson: Record<string, unknown>): [string, string][] | undefined {
  if (modelJson['type'] !== 'BPE' || !Array.isArray(modelJson['merges'])) return undefined;
  if (modelJson['end_of_word_suffix'] || modelJson['continuing_subword_suffix']) return undefined;
  const merges: [string, string][] = [];
  for (const merge of modelJson['merges'] as unknown[]) {
    if (Array.isArray(merge)) merges.push([String(merge[0]), String(merge[1])]);
    else if (typeof merge === 'string') {
      // The library's merge.split(' ', 2): text after a second space is dropped.
      const [left = '', right = ''] = merge.split(' ', 2);
      merges.push([left, right]);
    } else return undefined;
  }
  return merges;
}

/**
 * Swaps the merge loop of a @huggingface/tokenizers BPE model (built with no merges of its own) for
 * FastBpe over `merges`.
 */
export function accelerateBpe(model: unknown, merges: [string, string][]): void {
  const bpe = model as Partial<LibraryBpe> | null;
  if (typeof bpe?.bpe !== 'function' || !(bpe.tokens_to_ids instanceof Map)) {
    throw new Error('accelerateBpe: not a BPE model of @huggingface/tokenizers');
  }
  const fast = new FastBpe(bpe as LibraryBpe, merges);
  bpe.encode = (words: string[]) => fast.encode(words);
}
