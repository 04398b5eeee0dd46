// The generation loop: prefill the prompt (reusing the KV cache's common prefix), then sample one
// token at a time until EOS, maxTokens, the context's end or an abort. Text and ids meet only here.

import type { Decoder } from '@localm/backend';
import { LocalmError } from '@localm/errors';
import type { Tokenizer } from '@localm/tokenizer';
import type { ModelConfig } from './model-config.js';
import { Rng, sampleToken } from './sampler.js';

export interface GenerateOptions {
  maxTokens?: number; // new tokens, not counting the prompt
  temperature?: number; // 0 = greedy; default from generation_config.json (greedy when it does not sample)
  seed?: number; // for temperature > 0; the same seed gives the same ids
  signal?: AbortSignal; // aborting rethrows signal.reason from the iterator
}

export const DEFAULT_GENERATION = Object.freeze({ maxTokens: 256, seed: 0 });

export type StopReason = 'eos' | 'maxTokens' | 'contextFull';

export interface Usage {
  promptTokens: number;
  completionTokens: number;
  cachedPromptTokens: number; // prompt tokens whose KV entries were reused, not recomputed
}

/** Events of one generation: `text` pieces (whole UTF-8 characters), then one `done`. */
export type GenerationEvent =
  | { type: 'text'; text: string; tokenId: number }
  | {
      type: 'done';
      stopReason: StopReason;
      usage: Usage;
      promptTokenIds: number[];
      tokenIds: number[]; // generated ids, without the prompt and without the EOS that stopped it
      timings: { prefillMs: number; decodeMs: number };
    };

export interface GenerationContext {
  decoder: Decoder;
  tokenizer: Tokenizer;
  config: ModelConfig;
  cachedIds: number[]; // ids in the decoder's KV cache; kept in step with it
}

export async function* generateTokens(ctx: GenerationContext, promptIds: number[], options: GenerateOptions): AsyncGenerator<GenerationEvent> {
  const { decoder, tokenizer, config, cachedIds } = ctx;
  const maxTokens = options.maxTokens ?? DEFAULT_GENERATION.maxTokens;
  const temperature = options.temperature ?? config.defaultTemperature;
  const { signal } = options;
  if (!Number.isInteger(maxTokens) || maxTokens < 0) throw new LocalmError('invalid_argument', `maxTokens must be a non-negative integer, got ${maxTokens}`);
  if (!(temperature >= 0)) throw new LocalmError('invalid_argument', `temperature must be >= 0, got ${temperature}`);
  if (promptIds.length === 0) throw new LocalmError('invalid_argument', 'the prompt is empty and the tokenizer adds no BOS token');
  if (promptIds.length >= config.contextLength) {
    throw new LocalmError('context_full', `the prompt has ${promptIds.length} tokens; the model's context holds ${config.contextLength}`);
  }
  signal?.throwIfAborted();

  const started = performance.now();
  const reused = Math.min(commonPrefixLength(cachedIds, promptIds), promptIds.length - 1);
  decoder.truncate(reused);
  cachedIds.length = reused;
  let logits = await decoder.step(promptIds.slice(reused));
  cachedIds.push(...promptIds.slice(reused));
  const prefilled = performance.now();

  const rng = new Rng(options.seed ?? DEFAULT_GENERATION.seed);
  const text = tokenizer.createStreamDecoder({ prefixIds: promptIds.slice(-4) });
  const tokenIds: number[] = [];
  let stopReason: StopReason;
  for (;;) {
    signal?.throwIfAborted();
    if (tokenIds.length >= maxTokens) {
      stopReason = 'maxTokens';
      break;
    }
    const next = sampleToken(logits, temperature, rng);
    if (config.eosTokenIds.includes(next)) {
      stopReason = 'eos';
      break;
    }
    tokenIds.push(next);
    const piece = text.push(next);
    if (piece) yield { type: 'text', text: piece, tokenId: next };
    if (tokenIds.length >= maxTokens) {
      stopReason = 'maxTokens';
      break;
    }
    if (cachedIds.length + 1 >= config.contextLength) {
      stopReason = 'contextFull';
      break;
    }
    logits = await decoder.step([next]);
    cachedIds.push(next);
  }
  const rest = text.flush();
  if (rest) yield { type: 'text', text: rest, tokenId: tokenIds[tokenIds.length - 1] ?? -1 };
  yield {
    type: 'done',
    stopReason,
    usage: { promptTokens: promptIds.length, completionTokens: tokenIds.length, cachedPromptTokens: reused },
    promptTokenIds: promptIds,
    tokenIds,
    timings: { prefillMs: prefilled - started, decodeMs: performance.now() - prefilled },
  };
}

function commonPrefixLength(a: readonly number[], b: readonly number[]): number {
  let n = 0;
  while (n < a.length && n < b.length && a[n] === b[n]) n++;
  return n;
}
