// Counts the memory a run takes that no browser API reports directly: every WebAssembly.Memory created
// or exported in this worker (ORT-web's heap, localm's kernels' heap) and the bytes of live GPUBuffers,
// by wrapping the constructors the runtimes call. Imported first in the worker, before any runtime loads.

const memories = new Set<WebAssembly.Memory>();
let gpuLiveBytes = 0;
let gpuPeakBytes = 0;
const gpuSizes = new WeakMap<object, number>();

function collect(exports: WebAssembly.Exports): void {
  for (const value of Object.values(exports)) if (value instanceof WebAssembly.Memory) memories.add(value);
}

const NativeMemory = WebAssembly.Memory;
// A Proxy, not a subclass: `instanceof WebAssembly.Memory` must stay true for memories a module exports.
WebAssembly.Memory = new Proxy(NativeMemory, {
  construct(target, args: [WebAssembly.MemoryDescriptor], newTarget) {
    const memory = Reflect.construct(target, args, newTarget) as WebAssembly.Memory;
    memories.add(memory);
    return memory;
  },
});

const nativeInstantiate = WebAssembly.instantiate.bind(WebAssembly) as (source: unknown, imports?: WebAssembly.Imports) => Promise<unknown>;
(WebAssembly as { instantiate: unknown }).instantiate = async (source: unknown, imports?: WebAssembly.Imports): Promise<unknown> => {
  const result = await nativeInstantiate(source, imports);
  collect((result instanceof WebAssembly.Instance ? result : (result as WebAssembly.WebAssemblyInstantiatedSource).instance).exports);
  return result;
};
const nativeStreaming = WebAssembly.instantiateStreaming?.bind(WebAssembly);
if (nativeStreaming) {
  WebAssembly.instantiateStreaming = async (source, imports) => {
    const result = await nativeStreaming(source, imports);
    collect(result.instance.exports);
    return result;
  };
}

// GPUDevice exists only where WebGPU does; buffers that are dropped without destroy() stay counted.
const gpu = globalThis as { GPUDevice?: { prototype: { createBuffer(d: { size: number }): object } }; GPUBuffer?: { prototype: { destroy(): void } } };
if (gpu.GPUDevice && gpu.GPUBuffer) {
  const create = gpu.GPUDevice.prototype.createBuffer;
  gpu.GPUDevice.prototype.createBuffer = function (this: unknown, descriptor: { size: number }) {
    const buffer = create.call(this, descriptor);
    gpuSizes.set(buffer, descriptor.size);
    gpuLiveBytes += descriptor.size;
    gpuPeakBytes = Math.max(gpuPeakBytes, gpuLiveBytes);
    return buffer;
  };
  const destroy = gpu.GPUBuffer.prototype.destroy;
  gpu.GPUBuffer.prototype.destroy = function (this: object) {
    const size = gpuSizes.get(this);
    if (size !== undefined) {
      gpuLiveBytes -= size;
      gpuSizes.delete(this);
    }
    destroy.call(this);
  };
}

/** WASM memory never shrinks, so the sum now is the run's peak so far. */
export function wasmMemoryBytes(): number {
  let sum = 0;
  for (const m of memories) sum += m.buffer.byteLength;
  return sum;
}

export function gpuBufferPeakBytes(): number {
  return gpuPeakBytes;
}
