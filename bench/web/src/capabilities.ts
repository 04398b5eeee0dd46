// What this browser offers the bench, probed once into a frozen object: WebGPU adapter and limits,
// shader-f16, cross-origin isolation (WASM threads), cores, device memory, storage quota.
import type { BrowserEnvironment } from '../../src/bench-result.js';

interface GpuAdapterLike {
  features: { has(name: string): boolean };
  limits: { maxBufferSize: number; maxStorageBufferBindingSize: number };
  info?: { vendor: string; architecture: string; description: string; isFallbackAdapter?: boolean };
  isFallbackAdapter?: boolean;
}

export async function detectEnvironment(): Promise<Readonly<BrowserEnvironment>> {
  const nav = navigator as Navigator & { deviceMemory?: number; userAgentData?: { platform: string }; gpu?: { requestAdapter(): Promise<GpuAdapterLike | null> } };
  let webgpu: BrowserEnvironment['webgpu'];
  let webgpuSkipReason: string | undefined;
  try {
    const adapter = nav.gpu ? await nav.gpu.requestAdapter() : null;
    if (!nav.gpu) webgpuSkipReason = 'navigator.gpu is missing (no WebGPU in this browser, or not a secure context)';
    else if (!adapter) webgpuSkipReason = 'requestAdapter() returned null (WebGPU blocked or no usable GPU)';
    else {
      webgpu = {
        vendor: adapter.info?.vendor ?? '',
        architecture: adapter.info?.architecture ?? '',
        description: adapter.info?.description ?? '',
        isFallbackAdapter: adapter.info?.isFallbackAdapter ?? adapter.isFallbackAdapter ?? false,
        shaderF16: adapter.features.has('shader-f16'),
        maxBufferSize: adapter.limits.maxBufferSize,
        maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
      };
    }
  } catch (err) {
    webgpuSkipReason = `requestAdapter() failed: ${String(err)}`;
  }
  const estimate = await navigator.storage?.estimate?.().catch(() => undefined);
  return Object.freeze({
    userAgent: navigator.userAgent,
    platform: nav.userAgentData?.platform ?? navigator.platform,
    hardwareConcurrency: navigator.hardwareConcurrency,
    deviceMemoryGiB: nav.deviceMemory,
    crossOriginIsolated: globalThis.crossOriginIsolated === true,
    storageQuotaBytes: estimate?.quota,
    storageUsageBytes: estimate?.usage,
    webgpu,
    ...(webgpuSkipReason ? { webgpuSkipReason } : {}),
  });
}
