// Holds the past keys and values between decoder steps, as the runtime's own tensors so they go
// straight back in as the next step's inputs: CPU tensors on cpu/wasm, GPU buffers on webgpu (never
// read back). Knows the genai layout's names; nothing of text.

import type { Tensor } from 'onnxruntime-common';
import type { GpuBufferLike, GpuDeviceLike } from './gpu-device.js';
import type { OrtModule } from './ort-runtime.js';

// GPUBufferUsage.COPY_SRC | COPY_DST | STORAGE: what onnxruntime-web needs of an input buffer.
const KV_BUFFER_USAGE = 0x4 | 0x8 | 0x80;

/** Shape of one layer's cached keys (values are the same): [1, kvHeads, length, headDim]. */
export interface KvLayout {
  numLayers: number;
  kvHeads: number;
  headDim: number;
}

/** Element type of the cached keys and values (the graph's past_key_values inputs). */
export type KvDataType = 'float32' | 'float16';

export class KvCache {
  #tensors: Tensor[] = []; // per layer: key, value; each holds #stored positions
  #length = 0; // positions in use
  #stored = 0; // positions the tensors hold: more than #length after a truncate() of GPU tensors

  constructor(
    private readonly ort: OrtModule,
    readonly layout: KvLayout,
    readonly dataType: KvDataType = 'float32',
    private readonly gpu?: GpuDeviceLike, // webgpu: the device onnxruntime-web runs on, for cuts on the GPU
  ) {
    this.clear();
  }

  /** Positions held (tokens already computed). */
  get length(): number {
    return this.#length;
  }

  /** Feeds for `past_key_values.{i}.key/.value`, cutting the tensors to `length` first if a truncate() is pending. */
  async feeds(): Promise<Record<string, Tensor>> {
    if (this.#stored !== this.#length) await this.#sliceGpu();
    const feeds: Record<string, Tensor> = {};
    for (let i = 0; i < this.layout.numLayers; i++) {
      feeds[`past_key_values.${i}.key`] = this.#tensors[2 * i]!;
      feeds[`past_key_values.${i}.value`] = this.#tensors[2 * i + 1]!;
    }
    return feeds;
  }

  /** Takes a step's `present.*` outputs as the new cache, disposing the old tensors (GPU buffers too). */
  replace(outputs: Record<string, Tensor>, length: number): void {
    const next: Tensor[] = [];
    for (let i = 0; i < this.layout.numLayers; i++) {
      next.push(outputs[`present.${i}.key`]!, outputs[`present.${i}.value`]!);
    }
    this.#release();
    this.#tensors = next;
    this.#length = this.#stored = length;
  }

  /** Keeps the first `length` positions (a shared prefix), dropping the rest. */
  truncate(length: number): void {
    if (length >= this.#length) return;
    if (length <= 0) return this.clear();
    this.#length = length;
    // GPU buffers cannot be read synchronously: their cut happens in the next feeds().
    if (this.#tensors.some((t) => t.location !== 'cpu')) return;
    this.#replaceWith(this.#tensors.map((t) => t.data as Float32Array | Uint16Array));
  }

  clear(): void {
    const { numLayers, kvHeads, headDim } = this.layout;
    this.#release();
    this.#tensors = Array.from({ length: 2 * numLayers }, () => this.#tensor(this.#empty(0), [1, kvHeads, 0, headDim]));
    this.#length = this.#stored = 0;
  }

  /**
   * Cuts GPU-resident keys and values to #length. With the device: the kept rows of each head are
   * copied into new buffers on the GPU (one copyBufferToBuffer per head and tensor, queued after the
   * run that wrote them), nothing crosses to JS. Without it: read back, sliced here, uploaded by the next run.
   */
  async #sliceGpu(): Promise<void> {
    // Buffer copies move 4-byte multiples: an f16 cache with an odd head size takes the read-back path.
    const rowBytes = this.layout.headDim * (this.dataType === 'float16' ? 2 : 4);
    const aligned = rowBytes % 4 === 0;
    if (this.gpu && aligned && this.#tensors.every((t) => t.location === 'gpu-buffer')) return this.#sliceOnGpu(this.gpu);
    const data = await Promise.all(this.#tensors.map(async (t) => (await t.getData()) as Float32Array | Uint16Array));
    this.#replaceWith(data);
  }

  #sliceOnGpu(device: GpuDeviceLike): void {
    const { kvHeads, headDim } = this.layout;
    const length = this.#length;
    const bytes = this.dataType === 'float16' ? 2 : 4;
    const rowBytes = headDim * bytes;
    const encoder = device.createCommandEncoder();
    const next = this.#tensors.map((t) => {
      const size = Math.max(4, kvHeads * length * rowBytes);
      const buffer: GpuBufferLike = device.createBuffer({ size, usage: KV_BUFFER_USAGE });
      for (let h = 0; h < kvHeads; h++) {
        encoder.copyBufferToBuffer(t.gpuBuffer as unknown as GpuBufferLike, h * this.#stored * rowBytes, buffer, h * length * rowBytes, length * rowBytes);
      }
      return this.ort.Tensor.fromGpuBuffer(buffer, { dataType: this.dataType, dims: [1, kvHeads, length, headDim], dispose: () => buffer.destroy() });
    });
    device.queue.submit([encoder.finish()]);
    this.#release();
    this.#tensors = next;
    this.#stored = length;
  }

  #replaceWith(data: (Float32Array | Uint16Array)[]): void {
    const { kvHeads, headDim } = this.layout;
    const length = this.#length;
    const next = data.map((src) => {
      const dst = this.#empty(kvHeads * length * headDim);
      for (let h = 0; h < kvHeads; h++) {
        const from = h * this.#stored * headDim;
        dst.set(src.subarray(from, from + length * headDim) as never, h * length * headDim);
      }
      return this.#tensor(dst, [1, kvHeads, length, headDim]);
    });
    this.#release();
    this.#tensors = next;
    this.#stored = length;
  }

  #empty(size: number): Float32Array | Uint16Array {
    return this.dataType === 'float16' ? new Uint16Array(size) : new Float32Array(size);
  }

  #tensor(data: Float32Array | Uint16Array, dims: number[]): Tensor {
    return new this.ort.Tensor(this.dataType, data, dims);
  }

  #release(): void {
    for (const t of this.#tensors) t.dispose();
    this.#tensors = [];
  }
}
