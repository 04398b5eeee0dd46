// @localm/wasm-kernels' public surface: a Llama decoder that runs in our own WASM SIMD kernels.

export { createWasmDecoder, DEFAULT_WASM_DECODER } from './wasm-decoder.js';
export type { ExternalDataReader, WasmDecoder, WasmDecoderInfo, WasmDecoderOptions, WasmModelFiles } from './wasm-decoder.js';
export { canWaitOnThisThread } from './wasm-runtime.js';
export { planDecoder } from './onnx-plan.js';
export type { DecoderPlan } from './onnx-plan.js';
