// KvCache on the CPU and, with stand-in GPU tensors, the lazy cut of GPU-resident keys and values:
// the kept rows per head against a slice computed here, and every replaced tensor disposed.

import { Tensor } from 'onnxruntime-common';
import { describe, expect, test } from 'vitest';
import { KvCache, type KvLayout } from './kv-cache.js';
import type { OrtModule } from './ort-runtime.js';

const ort = { Tensor } as unknown as OrtModule;
const layout: KvLayout = { numLayers: 2, kvHeads: 2, headDim: 3 };

/** [1, heads, length, headDim] filled with a value that names its (tensor, head, position, dim). */
function filled(tensor: number, length: number): Float32Array {
  const data = new Float32Array(layout.kvHeads * length * layout.headDim);
  for (let h = 0; h < layout.kvHeads; h++)
    for (let p = 0; p < length; p++) for (let d = 0; d < layout.headDim; d++) data[(h * length + p) * layout.headDim + d] = tensor * 1000 + h * 100 + p * 10 + d;
  return data;
}

/** What `filled(tensor, length)` keeps after a cut to `kept` positions. */
function cut(tensor: number, length: number, kept: number): number[] {
  const src = filled(tensor, length);
  const out: number[] = [];
  for (let h = 0; h < layout.kvHeads; h++) out.push(...src.subarray(h * length * layout.headDim, (h * length + kept) * layout.headDim));
  return out;
}

/** A stand-in for a GPU-resident output: data only through getData(), and a dispose count. */
function gpuTensor(data: Float32Array, length: number) {
  const t = { location: 'gpu-buffer', dims: [1, layout.kvHeads, length, layout.headDim], type: 'float32', disposed: 0, getData: async () => data, dispose: () => void t.disposed++ };
  return t;
}

function outputs(make: (i: number) => unknown): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (let i = 0; i < layout.numLayers; i++) {
    out[`present.${i}.key`] = make(2 * i) as Tensor;
    out[`present.${i}.value`] = make(2 * i + 1) as Tensor;
  }
  return out;
}

describe('KvCache', () => {
  test('starts empty: zero-length past tensors of the layout', async () => {
    const feeds = await new KvCache(ort, layout).feeds();
    expect(Object.keys(feeds)).toHaveLength(4);
    expect(feeds['past_key_values.1.value']!.dims).toEqual([1, 2, 0, 3]);
  });

  test('truncate keeps the first positions of every head (CPU tensors)', async () => {
    const cache = new KvCache(ort, layout);
    cache.replace(outputs((i) => new Tensor('float32', filled(i, 5), [1, 2, 5, 3])), 5);
    cache.truncate(2);
    expect(cache.length).toBe(2);
    const feeds = await cache.feeds();
    expect(feeds['past_key_values.1.key']!.dims).toEqual([1, 2, 2, 3]);
    expect([...(feeds['past_key_values.1.key']!.data as Float32Array)]).toEqual(cut(2, 5, 2));
  });

  test('GPU tensors are cut lazily in the next feeds(): read back once, old buffers disposed', async () => {
    const cache = new KvCache(ort, layout);
    const gpu = outputs((i) => gpuTensor(filled(i, 6), 6));
    cache.replace(gpu, 6);
    cache.truncate(4);
    cache.truncate(3);
    expect(cache.length).toBe(3); // what the caller reads right away
    const feeds = await cache.feeds();
    for (let i = 0; i < 4; i++) {
      const name = `past_key_values.${i >> 1}.${i % 2 ? 'value' : 'key'}`;
      expect([...(feeds[name]!.data as Float32Array)]).toEqual(cut(i, 6, 3));
    }
    expect(Object.values(gpu).map((t) => (t as unknown as { disposed: number }).disposed)).toEqual([1, 1, 1, 1]);
  });

  test('with the device, the cut is copies on the GPU: each head keeps its first rows, nothing is read back', async () => {
    type FakeBuffer = { bytes: Uint8Array; destroyed: boolean; destroy(): void };
    const buffer = (bytes: Uint8Array): FakeBuffer => ({ bytes, destroyed: false, destroy() { this.destroyed = true; } });
    const submitted: string[] = [];
    const pending: (() => void)[] = [];
    const device = {
      lost: new Promise<never>(() => {}),
      createBuffer: ({ size }: { size: number }) => buffer(new Uint8Array(size)),
      createCommandEncoder: () => ({
        copyBufferToBuffer: (src: FakeBuffer, srcOffset: number, dst: FakeBuffer, dstOffset: number, size: number) =>
          void pending.push(() => dst.bytes.set(src.bytes.subarray(srcOffset, srcOffset + size), dstOffset)),
        finish: () => 'commands',
      }),
      queue: { submit: (list: unknown[]) => void submitted.push(...(list as string[])) },
    };
    const cache = new KvCache(ort, layout, 'float32', device);
    const gpu = outputs((i) => {
      const t = gpuTensor(filled(i, 6), 6) as ReturnType<typeof gpuTensor> & { gpuBuffer: FakeBuffer };
      t.gpuBuffer = buffer(new Uint8Array(filled(i, 6).buffer));
      t.getData = () => Promise.reject(new Error('read back'));
      return t;
    });
    cache.replace(gpu, 6);
    cache.truncate(2);
    const feeds = await cache.feeds();
    expect(submitted).toEqual(['commands']); // one submission for all layers
    for (const run of pending) run();
    for (let i = 0; i < 4; i++) {
      const t = feeds[`past_key_values.${i >> 1}.${i % 2 ? 'value' : 'key'}`]!;
      expect(t.location).toBe('gpu-buffer');
      expect(t.dims).toEqual([1, 2, 2, 3]);
      expect([...new Float32Array((t.gpuBuffer as unknown as FakeBuffer).bytes.buffer)]).toEqual(cut(i, 6, 2));
    }
    const made = Object.values(feeds).map((t) => t.gpuBuffer as unknown as FakeBuffer);
    cache.clear(); // the new buffers belong to the cache: freed with it
    expect(made.map((b) => b.destroyed)).toEqual([true, true, true, true]);
  });

  test('replace disposes the tensors it replaces (GPU buffers are freed step by step)', () => {
    const cache = new KvCache(ort, layout);
    const first = outputs((i) => gpuTensor(filled(i, 1), 1));
    cache.replace(first, 1);
    cache.replace(outputs((i) => gpuTensor(filled(i, 2), 2)), 2);
    expect(Object.values(first).map((t) => (t as unknown as { disposed: number }).disposed)).toEqual([1, 1, 1, 1]);
    cache.clear();
    expect(cache.length).toBe(0);
  });

  test('float16 caches start with Uint16 tensors', async () => {
    const feeds = await new KvCache(ort, layout, 'float16').feeds();
    expect(feeds['past_key_values.0.key']!.type).toBe('float16');
  });
});
