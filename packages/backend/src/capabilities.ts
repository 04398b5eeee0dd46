// Probes the JS environment once: Node or browser, WebGPU, WASM threads. Knows nothing of models.

/** What this environment can run. Frozen; probe once with `detectCapabilities()`. */
export interface Capabilities {
  readonly node: boolean; // Node.js (native onnxruntime-node may be usable)
  readonly webgpu: boolean; // navigator.gpu exists (an adapter is requested only when webgpu is chosen)
  readonly wasmThreads: boolean; // SharedArrayBuffer usable: Node, or a cross-origin-isolated page
  readonly hardwareConcurrency: number;
}

let probed: Capabilities | undefined;

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
