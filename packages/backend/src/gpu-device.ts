// Watches the GPUDevice onnxruntime-web computes on. A lost device (driver reset, GPU process crash,
// device.destroy()) ends open steps with a typed error, and later loads in this realm skip webgpu:
// onnxruntime-web starts its WebGPU backend once per module and cannot swap in a new device.

import { LocalmError } from '@localm/errors';
import type { OrtModule } from './ort-runtime.js';

/** The slice of GPUDevice we use (no @webgpu/types dependency). */
export interface GpuDeviceLike {
  readonly lost: Promise<{ reason?: string; message?: string }>;
  createBuffer(descriptor: { size: number; usage: number }): GpuBufferLike;
  createCommandEncoder(): { copyBufferToBuffer(src: GpuBufferLike, srcOffset: number, dst: GpuBufferLike, dstOffset: number, size: number): void; finish(): unknown };
  readonly queue: { submit(buffers: unknown[]): void };
}
export interface GpuBufferLike {
  destroy(): void;
}

/** One decoder's view of its device. */
export interface GpuWatch {
  readonly device: GpuDeviceLike | undefined; // undefined where the engine does not expose it
  readonly lost: string | undefined; // the loss reason once the device is lost
  readonly whenLost: Promise<void>; // resolves when it is lost (never, if it is not)
  /** The error a step gets once the device is lost. */
  lostError(cause?: unknown): LocalmError;
  /** Stops watching (the decoder is disposed): onnxruntime's native engine destroys its device with its last session. */
  release(): void;
}

let lostHere: string | undefined;

/** Why webgpu cannot be used again in this realm (a device was lost), or undefined. */
export function webGpuLostReason(): string | undefined {
  return lostHere;
}

/** Watches the device behind `ort`'s WebGPU backend (call after a webgpu session exists). */
export async function watchGpuDevice(ort: OrtModule): Promise<GpuWatch> {
  let device: GpuDeviceLike | undefined;
  try {
    device = (await ort.env.webgpu?.device) as GpuDeviceLike | undefined;
  } catch {
    device = undefined; // an engine that does not expose its device: a loss then surfaces as a failed run
  }
  let lost: string | undefined;
  let released = false;
  const whenLost = new Promise<void>((resolve) => {
    void device?.lost.then((info) => {
      if (released) return; // destroyed by the runtime when its last session went: not a loss
      lost = `${info.reason ?? 'unknown'}${info.message ? `: ${info.message}` : ''}`;
      lostHere ??= lost;
      resolve();
    });
  });
  return {
    device,
    get lost() {
      return lost;
    },
    whenLost,
    release: () => void (released = true),
    lostError: (cause?: unknown) =>
      new LocalmError(
        'no_backend',
        `webgpu: the GPU device was lost (${lost ?? 'unknown'}); load the model again: device 'auto' falls back to wasm here, and a new worker or page can use WebGPU again`,
        { details: { deviceLost: true, reason: lost ?? 'unknown' }, ...(cause === undefined ? {} : { cause }) },
      ),
  };
}
