// The generation loop: prefill the prompt (reusing the KV cache's common prefix), then pick one
// token at a time until EOS, a stop string, a finished JSON document, maxTokens, the context's end
// or an abort. Text and ids meet only here.

import type { Decoder } from '@localm/backend';
import { LocalmError } from '@localm/errors';
import type { Tokenizer } from '@localm/tokenizer';
import { JsonConstraint } from './json-constraint.js';
import type { JsonSchema } from './json-prefix.js';
import type { ModelConfig } from './model-config.js';
import { nextTask } from './next-task.js';
import { Rng, applyPenalties, sampleToken, type SamplingOptions } from './sampler.js';
import { StopMatcher } from './stop-strings.js';

export interface GenerateOptions extends SamplingOptions {
  maxTokens?: number; // new tokens, not counting the prompt
  stop?: readonly string[]; // end before the first of these strings; it is not emitted
  responseFormat?: { type: 'text' } | { type: 'json_schema'; schema: JsonSchema }; // constrain the output
  signal?: AbortSignal; // aborting rethrows signal.reason from the iterator
}

/**
 * Prompt tokens fed to the decoder per call while prefilling. The signal is checked between calls, so an
 * abort or dispose() lands within one chunk instead of after the whole prompt (a 4,000-token prompt on
 * onnxruntime-web's WASM takes minutes); one event-loop task between chunks lets the abort's timer or
 * message run on backends that compute synchronously. Per-call overhead is ~1 ms on onnxruntime-node and localm's
 * kernels split prefill into 16-token calls anyway, so 128 costs little; keeping it fixed keeps the
 * float summation order, and so greedy ids, the same from run to run.
 */
export const PREFILL_CHUNK_TOKENS = 128;

/** Defaults for what neither the call nor generation_config.json sets. */
export const DEFAULT_GENERATION = Object.freeze({ maxTokens: 256, seed: 0 });

/** Why a generation ended. 'stop': a stop string, or a finished JSON document under `responseFormat`. */
export type StopReason = 'eos' | 'stop' | 'maxTokens' | 'contextFull';

export interface Usage {
  promptTokens: number;
  completionTokens: number;
  cachedPromptTokens: number; // prompt tokens whose KV entries were reused, not recomputed
  computedTokens: number; // tokens fed to the decoder in this run (prompt tokens not cached, plus generated ones fed back)
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
      timings: { prefillMs: number; decodeMs: number; constraintMs: number };
    };

export interface GenerationContext {
  decoder: Decoder;
  tokenizer: Tokenizer;
  config: ModelConfig;
  cachedIds: number[]; // ids in the decoder's KV cache; kept in step with it
}

export async function* generateTokens(ctx: GenerationContext, promptIds: number[], options: GenerateOptions): AsyncGenerator<GenerationEvent> {
  const { decoder, tokenizer, config, cachedIds } = ctx;
  const sampling: SamplingOptions = { ...config.defaultSampling, ...definedOnly(options) };
  const maxTokens = options.maxTokens ?? DEFAULT_GENERATION.maxTokens;
  const { signal } = options;
  checkOptions(sampling, maxTokens);
  if (promptIds.length === 0) throw new LocalmError('invalid_argument', 'the prompt is empty and the tokenizer adds no BOS token');
  if (promptIds.length >= config.contextLength) {
    throw new LocalmError('context_full', `the prompt has ${promptIds.length} tokens; the model's context holds ${config.contextLength}`);
  }
  signal?.throwIfAborted();
  let constraint: JsonConstraint | undefined;
  if (options.responseFormat?.type === 'json_schema') constraint = new JsonConstraint(options.responseFormat.schema, tokenizer);

  const started = performance.now();
  decoder.truncate(Math.min(commonPrefixLength(cachedIds, promptIds), promptIds.length - 1));
  const reused = decoder.cachedTokens; // a device may keep less than asked
  cachedIds.length = reused;
  let logits: Float32Array | undefined;
  // A decoder that splits long calls anyway (backend's maxStepTokens) gets chunks of its size, so an
  // abort is checked between the calls it really makes.
  const chunkTokens = Math.min(PREFILL_CHUNK_TOKENS, decoder.info.maxStepTokens ?? PREFILL_CHUNK_TOKENS);
  for (let at = reused; at < promptIds.length; at += chunkTokens) {
    if (at > reused) {
      await nextTask();
      signal?.throwIfAborted(); // the cache keeps the chunks fed so far: cachedIds says which
    }
    const chunk = promptIds.slice(at, at + chunkTokens);
    logits = await decoder.step(chunk);
    cachedIds.push(...chunk);
  }
  if (!logits) throw new LocalmError('invalid_argument', 'nothing to prefill'); // unreachable: reused < promptIds.length
  let computed = promptIds.length - reused;
  const prefilled = performance.now();

  const rng = new Rng(sampling.seed ?? DEFAULT_GENERATION.seed);
  const text = tokenizer.createStreamDecoder({ prefixIds: promptIds.slice(-4) });
  const stops = new StopMatcher(options.stop ?? []);
  const counts = new Map<number, number>();
  const tokenIds: number[] = [];
  let constraintMs = 0;
  let stopReason: StopReason;
  let stoppedByString = false;
  for (;;) {
    signal?.throwIfAborted();
    if (tokenIds.length >= maxTokens) {
      stopReason = 'maxTokens';
      break;
    }
    applyPenalties(logits, sampling, sampling.repetitionPenalty === undefined ? [] : [...promptIds, ...tokenIds], counts);
    let next: number;
    if (constraint) {
      const t0 = performance.now();
      // Only tokens after which the document can still be closed within the token budget.
      const budget = maxTokens - tokenIds.length - 1;
      const picked = constraint.pick(logits, sampling, rng, budget) ?? constraint.completionIds()[0];
      constraintMs += performance.now() - t0;
      if (picked === undefined) throw new LocalmError('invalid_argument', 'no token can continue the JSON document under this schema');
      next = picked;
      constraint.accept(next);
    } else {
      next = sampleToken(logits, sampling, rng);
      if (config.eosTokenIds.includes(next)) {
        stopReason = 'eos';
        break;
      }
    }
    tokenIds.push(next);
    counts.set(next, (counts.get(next) ?? 0) + 1);
    const matched = stops.push(text.push(next));
    if (matched.text) yield { type: 'text', text: matched.text, tokenId: next };
    if (matched.stopped) {
      stopReason = 'stop';
      stoppedByString = true;
      break;
    }
    if (constraint?.isComplete) {
      stopReason = 'stop';
      break;
    }
    if (tokenIds.length >= maxTokens) {
      stopReason = 'maxTokens';
      break;
    }
    if (cachedIds.length + 1 >= config.contextLength) {
      stopReason = 'contextFull';
      break;
    }
    signal?.throwIfAborted(); // aborted or disposed while the caller held the last event
    logits = await decoder.step([next]);
    cachedIds.push(next);
    computed++;
  }
  if (!stoppedByString) {
    const rest = stops.push(text.flush());
    const tail = rest.text + (rest.stopped ? '' : stops.flush());
    if (tail) yield { type: 'text', text: tail, tokenId: tokenIds[tokenIds.length - 1] ?? -1 };
    if (rest.stopped) stopReason = 'stop';
  }
  yield {
    type: 'done',
    stopReason,
    usage: { promptTokens: promptIds.length, completionTokens: tokenIds.length, cachedPromptTokens: reused, computedTokens: computed },
    promptTokenIds: promptIds,
    tokenIds,
    timings: { prefillMs: prefilled - started, decodeMs: performance.now() - prefilled, constraintMs },
  };
}

function checkOptions(sampling: SamplingOptions, maxTokens: number): void {
  const bad = (what: string, value: unknown): never => {
    throw new LocalmError('invalid_argument', `${what} is out of range: ${JSON.stringify(value)}`);
  };
  if (!Number.isInteger(maxTokens) || maxTokens < 0) bad('maxTokens (a non-negative integer)', maxTokens);
  const { temperature = 0, topK = 0, topP = 1, minP = 0, repetitionPenalty = 1, seed = 0 } = sampling;
  if (!(temperature >= 0) || !Number.isFinite(temperature)) bad('temperature (>= 0)', temperature);
  if (!Number.isInteger(topK) || topK < 0) bad('topK (a non-negative integer)', topK);
  if (!(topP > 0 && topP <= 1)) bad('topP (in (0, 1])', topP);
  if (!(minP >= 0 && minP <= 1)) bad('minP (in [0, 1])', minP);
  if (!(repetitionPenalty > 0) || !Number.isFinite(repetitionPenalty)) bad('repetitionPenalty (> 0)', repetitionPenalty);
  if (!Number.isInteger(seed)) bad('seed (an integer)', seed);
}

/** The options with undefined fields dropped, so they do not hide the model's defaults. */
function definedOnly(options: GenerateOptions): SamplingOptions {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options)) if (value !== undefined) out[key] = value;
  return out as SamplingOptions;
}

function commonPrefixLength(a: readonly number[], b: readonly number[]): number {
  let n = 0;
  while (n < a.length && n < b.length && a[n] === b[n]) n++;
  return n;
}
