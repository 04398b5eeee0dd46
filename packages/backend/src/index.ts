// Public surface of @localm/backend: devices, capability probe, decoder sessions with a KV cache.

export { detectCapabilities, detectWebGpu, type Capabilities, type WebGpuCapabilities } from './capabilities.js';
export { DEVICES, DEVICE_REQUESTS, planDevices, type Device, type DeviceRequest, type SkippedDevice } from './device.js';
export { createDecoder, type Decoder, type DecoderInfo, type DecoderOptions, type Engine as RuntimeEngine, type WasmEngineRequest } from './decoder.js';
export type { KvLayout } from './kv-cache.js';
export { DEFAULT_WEBGPU_ENGINE, type ByteRangeReader, type ModelFiles, type OpenedExternalData, type WebGpuEngine } from './ort-runtime.js';
export { openRuntimeCount } from './open-runtimes.js';
