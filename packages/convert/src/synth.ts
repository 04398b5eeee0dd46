// @localm/convert/synth: synthetic models written through a sink, for Node and for browsers (a bench
// page generating a preset into OPFS). Nothing here imports node:, so bundlers can take it into a worker.

export type { BinaryWriter, ModelSink } from './model-sink.js';
export { synthesizeModel, GGUF_FILE } from './synthesize-model.js';
export type { SynthesizeModelOptions, SynthesizeModelResult } from './synthesize-model.js';
export { opfsSink } from './opfs-sink.js';
export { plannedSynthBytes } from './synth-plan.js';
export { SYNTH_PRESETS, parameterCount, type SynthPreset, type SynthFamily } from './synth-presets.js';
export type { ConvertDtype } from './llama-graph.js';
export type { LlamaShape } from './llama-shape.js';
