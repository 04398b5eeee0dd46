// Probes the JS environment once: Node or browser, WASM threads, and (asynchronously, once) the WebGPU
// adapter: its limits, shader-f16, and whether it is a software fallback. Knows nothing of models.

/** What this environment can run. Frozen; probe once with `detectCapabilities()`. */
export interface Capabilities {
  readonly node: boolean; // Node.js (native onnxruntime-node may be usable)
  readonly webgpu: boolean; // navigator.gpu exists (the adapter is probed by detectWebGpu(), only when webgpu is tried)
  readonly wasmThreads: boolean; // SharedArrayBuffer usable: Node, or a cross-origin-isolated page
  readonly hardwareConcurrency: number;
}

/** The WebGPU adapter, as probed once by `detectWebGpu()`. Frozen. */
export interface WebGpuCapabilities {
  readonly available: boolean; // an adapter was granted
  readonly reason: string | undefined; // why not, when unavailable
  readonly isFallbackAdapter: boolean; // a software adapter (SwiftShader in headless Chromium): correct but slower than wasm
  readonly shaderF16: boolean; // 'shader-f16': f16 models need it
  readonly vendor: string; // adapter.info, '' where the browser hides it
  readonly architecture: string;
  readonly maxBufferSize: number; // bytes; 0 when unavailable
  readonly maxStorageBufferBindingSize: number; // bytes: the largest weight or KV tensor one kernel can bind
}

let probed: Capabilities | undefined;
let gpuProbe: Promise<WebGpuCapabilities> | undefined;

/**
 * Probes the environment (cached after the first call).
 * @example
 * const caps = detectCapabilities(); if (!caps.wasmThreads) console.warn('single-threaded WASM');
 */
export function detectCapabilities(): Capabilities {
  if (probed) return probed;
  const g = globalThis as {
    process?: { versions?: { node?: string } };
    navigator?: { gpu?: unknown; hardwareConcurrency?: number };
    crossOriginIsolated?: boolean;
  };
  const node = typeof g.process?.versions?.node === 'string';
  const hasSab = typeof SharedArrayBuffer === 'function';
  probed = Object.freeze({
    node,
    webgpu: g.navigator?.gpu !== undefined,
    wasmThreads: hasSab && (node || g.crossOriginIsolated === true),
    hardwareConcurrency: Math.max(1, g.navigator?.hardwareConcurrency ?? 1),
  });
  return probed;
}

/** The slice of the WebGPU API the probe reads (no @webgpu/types dependency). */
interface GpuAdapterLike {
  readonly features: { has(name: string): boolean };
  readonly limits: { maxBufferSize: number; maxStorageBufferBindingSize: number };
  readonly info?: { vendor?: string; architecture?: string; isFallbackAdapter?: boolean };
  readonly isFallbackAdapter?: boolean; // before Chrome 131 it lived on the adapter
}

/**
 * Requests a WebGPU adapter once and reports what it offers (cached after the first call).
 * @example
 * const gpu = await detectWebGpu(); if (gpu.available && !gpu.shaderF16) console.log('f32 models only');
 */
export function detectWebGpu(): Promise<WebGpuCapabilities> {
  gpuProbe ??= probeWebGpu();
  return gpuProbe;
}

async function probeWebGpu(): Promise<WebGpuCapabilities> {
  const none = (reason: string): WebGpuCapabilities =>
    Object.freeze({ available: false, reason, isFallbackAdapter: false, shaderF16: false, vendor: '', architecture: '', maxBufferSize: 0, maxStorageBufferBindingSize: 0 });
  const gpu = (globalThis as { navigator?: { gpu?: { requestAdapter(): Promise<GpuAdapterLike | null> } } }).navigator?.gpu;
  if (!gpu) return none('no navigator.gpu');
  let adapter: GpuAdapterLike | null;
  try {
    adapter = await gpu.requestAdapter();
  } catch (err) {
    return none(`requestAdapter() failed: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!adapter) return none('no WebGPU adapter (blocklisted GPU, or WebGPU disabled)');
  return Object.freeze({
    available: true,
    reason: undefined,
    isFallbackAdapter: adapter.info?.isFallbackAdapter ?? adapter.isFallbackAdapter ?? false,
    shaderF16: adapter.features.has('shader-f16'),
    vendor: adapter.info?.vendor ?? '',
    architecture: adapter.info?.architecture ?? '',
    maxBufferSize: adapter.limits.maxBufferSize,
    maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
  });
}
