// Device names and the order in which 'auto' tries them. Knows nothing of sessions or models.

import type { Capabilities } from './capabilities.js';

/** Where a model runs: WebGPU, onnxruntime-web's WASM CPU kernels, or native onnxruntime-node. */
export type Device = 'webgpu' | 'wasm' | 'cpu';
export type DeviceRequest = Device | 'auto';

export const DEVICES: readonly Device[] = ['webgpu', 'wasm', 'cpu'];
export const DEVICE_REQUESTS: readonly DeviceRequest[] = ['auto', ...DEVICES];

/** A device that was not used, and why. */
export interface SkippedDevice {
  device: Device;
  reason: string;
}

/**
 * The devices to try in order for a request, and the reasons the others are out before trying.
 * Node prefers native `cpu` (same kernels, several times faster than WASM); browsers prefer WebGPU.
 */
export function planDevices(request: DeviceRequest, caps: Capabilities): { order: Device[]; skipped: SkippedDevice[] } {
  const skipped: SkippedDevice[] = [];
  const usable = (device: Device): boolean => {
    const reason = unavailableReason(device, caps);
    if (reason !== undefined) skipped.push({ device, reason });
    return reason === undefined;
  };
  if (request !== 'auto') return { order: usable(request) ? [request] : [], skipped };
  // Node: native cpu first (the webgpu package can install navigator.gpu there). Browsers: webgpu, then
  // wasm; a software WebGPU adapter is passed over for wasm when the adapter is probed (decoder.ts).
  const preference: Device[] = caps.node ? ['cpu', 'webgpu', 'wasm'] : ['webgpu', 'wasm', 'cpu'];
  return { order: preference.filter(usable), skipped };
}

function unavailableReason(device: Device, caps: Capabilities): string | undefined {
  switch (device) {
    case 'cpu':
      return caps.node ? undefined : 'native onnxruntime needs Node.js';
    case 'webgpu':
      // Node has no navigator.gpu unless a binding (the `webgpu` package) installs one.
      return caps.webgpu ? undefined : 'no navigator.gpu';
    case 'wasm':
      return undefined;
  }
}
