// Parses and checks config.json and generation_config.json. HF's snake_case stays in the *Json types;
// everything past parseModelConfig() is camelCase.

import { LocalmError } from '@localm/errors';
import type { SamplingOptions } from './sampler.js';

/** The fields of config.json that localm reads. */
export interface ConfigJson {
  model_type?: string;
  vocab_size?: number;
  max_position_embeddings?: number;
  bos_token_id?: number;
  eos_token_id?: number | number[];
}

/** The fields of generation_config.json that localm reads. */
export interface GenerationConfigJson {
  bos_token_id?: number;
  eos_token_id?: number | number[];
  max_length?: number;
  temperature?: number;
  do_sample?: boolean;
  top_k?: number;
  top_p?: number;
  min_p?: number;
  repetition_penalty?: number;
}

export interface ModelConfig {
  modelType: string;
  vocabSize: number;
  contextLength: number; // positions the model was trained for, prompt included
  eosTokenIds: number[]; // any of these ends a generation
  defaultSampling: SamplingOptions; // from generation_config.json; greedy when it does not sample
}

const MAX_VOCAB = 1 << 24;
const MAX_CONTEXT = 1 << 24;

export function parseJson(bytes: Uint8Array, file: string): unknown {
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (cause) {
    throw new LocalmError('corrupt_model', `${file} is not valid JSON: ${String(cause)}`, { cause });
  }
}

export function parseModelConfig(config: unknown, generation: unknown): ModelConfig {
  if (!isObject(config)) throw new LocalmError('corrupt_model', 'config.json must hold a JSON object');
  if (generation !== undefined && !isObject(generation)) {
    throw new LocalmError('corrupt_model', 'generation_config.json must hold a JSON object');
  }
  const c = config as ConfigJson;
  const g = (generation ?? {}) as GenerationConfigJson;
  const vocabSize = checkInt(c.vocab_size, 'config.json vocab_size', 1, MAX_VOCAB);
  const contextLength = checkInt(c.max_position_embeddings ?? g.max_length, 'config.json max_position_embeddings', 1, MAX_CONTEXT);
  const eos = g.eos_token_id ?? c.eos_token_id ?? [];
  const eosTokenIds = (Array.isArray(eos) ? eos : [eos]).map((id) => checkInt(id, 'eos_token_id', 0, vocabSize - 1));
  return { modelType: typeof c.model_type === 'string' ? c.model_type : 'unknown', vocabSize, contextLength, eosTokenIds, defaultSampling: parseSampling(g) };
}

function parseSampling(g: GenerationConfigJson): SamplingOptions {
  if (g.do_sample !== true) return { temperature: 0 };
  const sampling: SamplingOptions = { temperature: finite(g.temperature, 'temperature', 0, 100) ?? 1 };
  const topK = finite(g.top_k, 'top_k', 0, MAX_VOCAB);
  const topP = finite(g.top_p, 'top_p', 0, 1);
  const minP = finite(g.min_p, 'min_p', 0, 1);
  const repetition = finite(g.repetition_penalty, 'repetition_penalty', 0, 100);
  if (topK !== undefined) sampling.topK = topK;
  if (topP !== undefined) sampling.topP = topP;
  if (minP !== undefined) sampling.minP = minP;
  if (repetition !== undefined) sampling.repetitionPenalty = repetition;
  return sampling;
}

function finite(value: unknown, what: string, min: number, max: number): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !(value >= min && value <= max)) {
    throw new LocalmError('corrupt_model', `generation_config.json ${what} must be a number in [${min}, ${max}], got ${JSON.stringify(value)}`);
  }
  return value;
}

function checkInt(value: unknown, what: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new LocalmError('corrupt_model', `${what} must be an integer in [${min}, ${max}], got ${JSON.stringify(value)}`);
  }
  return value;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
