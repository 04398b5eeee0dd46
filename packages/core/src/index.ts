// Public surface of @localm/core: load a model folder and generate from it.

export { DEFAULT_CONTEXT_LENGTH, loadModel, type Engine, type LoadModelOptions, type Model, type ModelInfo } from './model.js';
export type { ModelSource } from './model-store.js';
export { downloadModel, type DownloadOptions } from './loading/download.js';
export { openModelCache, type CacheCheck, type CachedFile, type CachedModel, type CacheProblem, type ModelCache, type ModelCacheOptions } from './loading/model-cache.js';
export { MANIFEST_FILE, parseManifest, type ManifestJson, type ModelFile } from './loading/manifest.js';
export type { LoadProgress } from './loading/progress.js';
export type { StorageKind } from './loading/storage.js';
export { DEFAULT_GENERATION, type GenerateOptions, type GenerationEvent, type StopReason, type Usage } from './generate.js';
export { parseModelConfig, type ConfigJson, type GenerationConfigJson, type ModelConfig } from './model-config.js';
export { applyPenalties, argmax, candidates, sampleToken, Rng, type SamplingOptions } from './sampler.js';
export { StopMatcher } from './stop-strings.js';
export { renderChat, type ChatMessage, type ChatOptions } from './chat.js';
export { createChatCompletions, type ChatCompletion, type ChatCompletionChunk, type ChatCompletionRequest, type ChatCompletions, type ChatFunction, type FinishReason } from './openai.js';
export { checkJsonPrefix, JSON_DEFAULT_BOUNDS, type JsonSchema } from './json-prefix.js';
export { LocalmError, isLocalmError, ERROR_CODES, type ErrorCode } from '@localm/errors';
export { DEVICE_REQUESTS, type Device, type DeviceRequest, type RuntimeEngine, type SkippedDevice, type WasmEngineRequest } from '@localm/backend';
