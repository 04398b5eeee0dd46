// @localm/convert's public surface: writes Hugging Face ONNX model folders. A Node tool (uses node:fs);
// `@localm/convert/synth` (synth.ts) is the browser-safe part.

export { convertLlama2c } from './convert-llama2c.js';
export type { ConvertLlama2cOptions, ConvertResult } from './convert-llama2c.js';
export type { ConvertDtype } from './llama-graph.js';
export { readLlama2cCheckpoint } from './llama2c-checkpoint.js';
export type { Llama2cCheckpoint, Llama2cConfig, Llama2cLayer } from './llama2c-checkpoint.js';
export { readLlama2cTokenizer, llama2cTokenizerFiles, type Llama2cVocab } from './llama2c-tokenizer.js';
export { convertSynth } from './convert-synth.js';
export type { ConvertSynthOptions, ConvertSynthResult } from './convert-synth.js';
export { SYNTH_PRESETS, parameterCount, type SynthPreset, type SynthFamily } from './synth-presets.js';
export type { LlamaShape } from './llama-shape.js';
export { fillSeededUniform } from './seeded-weights.js';
export { synthesizeModel, GGUF_FILE } from './synthesize-model.js';
export type { SynthesizeModelOptions, SynthesizeModelResult } from './synthesize-model.js';
export type { BinaryWriter, ModelSink } from './model-sink.js';
export { nodeSink } from './node-sink.js';
export { plannedSynthBytes } from './synth-plan.js';
