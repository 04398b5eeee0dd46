// Holds the past keys and values between decoder steps, as the runtime's own tensors so they go
// straight back in as the next step's inputs. Knows the genai layout's names; nothing of text.

import type { Tensor } from 'onnxruntime-common';
import type { OrtModule } from './ort-runtime.js';

/** Shape of one layer's cached keys (values are the same): [1, kvHeads, length, headDim]. */
export interface KvLayout {
  numLayers: number;
  kvHeads: number;
  headDim: number;
}

export class KvCache {
  #tensors: Tensor[] = []; // per layer: key, value
  #length = 0;

  constructor(
    private readonly ort: OrtModule,
    readonly layout: KvLayout,
  ) {
    this.clear();
  }

  /** Positions held (tokens already computed). */
  get length(): number {
    return this.#length;
  }

  /** Feeds for `past_key_values.{i}.key/.value`. */
  feeds(): Record<string, Tensor> {
    const feeds: Record<string, Tensor> = {};
    for (let i = 0; i < this.layout.numLayers; i++) {
      feeds[`past_key_values.${i}.key`] = this.#tensors[2 * i]!;
      feeds[`past_key_values.${i}.value`] = this.#tensors[2 * i + 1]!;
    }
    return feeds;
  }

  /** Takes a step's `present.*` outputs as the new cache. */
  replace(outputs: Record<string, Tensor>, length: number): void {
    const next: Tensor[] = [];
    for (let i = 0; i < this.layout.numLayers; i++) {
      next.push(outputs[`present.${i}.key`]!, outputs[`present.${i}.value`]!);
    }
    this.#release();
    this.#tensors = next;
    this.#length = length;
  }

  /** Keeps the first `length` positions (a shared prefix), dropping the rest. */
  truncate(length: number): void {
    if (length >= this.#length) return;
    if (length <= 0) return this.clear();
    const { kvHeads, headDim } = this.layout;
    const next = this.#tensors.map((t) => {
      const src = t.data as Float32Array;
      const dst = new Float32Array(kvHeads * length * headDim);
      for (let h = 0; h < kvHeads; h++) {
        const from = h * this.#length * headDim;
        dst.set(src.subarray(from, from + length * headDim), h * length * headDim);
      }
      return new this.ort.Tensor('float32', dst, [1, kvHeads, length, headDim]);
    });
    this.#release();
    this.#tensors = next;
    this.#length = length;
  }

  clear(): void {
    const { numLayers, kvHeads, headDim } = this.layout;
    this.#release();
    this.#tensors = Array.from({ length: 2 * numLayers }, () => new this.ort.Tensor('float32', new Float32Array(0), [1, kvHeads, 0, headDim]));
    this.#length = 0;
  }

  #release(): void {
    for (const t of this.#tensors) t.dispose();
    this.#tensors = [];
  }
}
