// What every runtime adapter does for the bench: load a model, generate greedily from token ids, and
// say when each token arrived. Adapters measure; run-once.ts turns the raw times into metrics.

export type BenchDevice = 'cpu' | 'wasm';

export interface RunRequest {
  modelDir: string; // the Hugging Face ONNX folder
  ggufPath?: string; // the same weights for llama.cpp
  device: BenchDevice; // ours only; peers run natively
  threads: number;
  prompt: number[];
  genTokens: number;
  specialIds: number[]; // never generated where the runtime lets us say so (EOS would end a run early)
}

export interface RawRun {
  loadMs: number; // from nothing loaded to ready to generate (runtime start-up included)
  tokenTimesMs: number[]; // per generated token: ms from the generate call until it was known
  tokenIds: number[];
  notes: string[]; // how the runtime was set up, anything that makes the comparison less than exact
}

export type Runtime = (request: RunRequest) => Promise<RawRun>;

/** Index of the largest value, skipping `banned` ids. */
export function argmaxExcept(values: ArrayLike<number>, offset: number, length: number, banned: readonly number[]): number {
  let best = -1;
  let bestValue = -Infinity;
  for (let i = 0; i < length; i++) {
    const v = values[offset + i]!;
    if (v > bestValue && !banned.includes(i)) {
      best = i;
      bestValue = v;
    }
  }
  return best;
}
