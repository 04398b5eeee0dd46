// Types of corpus.mjs.
/** mulberry32: a small seeded generator. */
export function seededRandom(seed: number): () => number;
/** The parity corpus: the fixed strings, then `randomCount` seeded mixes. */
export function buildCorpus(seed?: number, randomCount?: number): string[];
