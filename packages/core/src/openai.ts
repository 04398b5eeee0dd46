// An OpenAI-compatible `chat.completions.create` over any chat function, so code written for the
// OpenAI SDK ports with one line. Request and response fields keep OpenAI's snake_case.

import { LocalmError } from '@localm/errors';
import type { ChatMessage, ChatOptions } from './chat.js';
import type { GenerationEvent, StopReason } from './generate.js';
import type { JsonSchema } from './json-prefix.js';

export interface ChatCompletionRequest {
  messages: ChatMessage[];
  model?: string; // ignored: the engine has one model
  stream?: boolean;
  max_tokens?: number;
  max_completion_tokens?: number;
  temperature?: number;
  top_p?: number;
  seed?: number;
  stop?: string | string[];
  presence_penalty?: number;
  frequency_penalty?: number;
  logit_bias?: Record<string, number>;
  n?: 1;
  response_format?: { type: 'text' } | { type: 'json_schema'; json_schema: { name?: string; schema: JsonSchema; strict?: boolean } };
  tools?: Record<string, unknown>[];
  signal?: AbortSignal; // not OpenAI's, but how a caller cancels here
}

export type FinishReason = 'stop' | 'length';

export interface ChatCompletion {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  choices: { index: 0; message: { role: 'assistant'; content: string }; finish_reason: FinishReason; logprobs: null }[];
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
}

export interface ChatCompletionChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  choices: { index: 0; delta: { role?: 'assistant'; content?: string }; finish_reason: FinishReason | null; logprobs: null }[];
  usage?: ChatCompletion['usage'];
}

export interface ChatCompletions {
  create(request: ChatCompletionRequest & { stream: true }): Promise<AsyncIterable<ChatCompletionChunk>>;
  create(request: ChatCompletionRequest & { stream?: false }): Promise<ChatCompletion>;
  create(request: ChatCompletionRequest): Promise<ChatCompletion | AsyncIterable<ChatCompletionChunk>>;
}

export type ChatFunction = (messages: readonly ChatMessage[], options?: ChatOptions) => AsyncIterable<GenerationEvent>;

let counter = 0;

/**
 * Builds `completions.create` over a chat function.
 * @example
 * const completion = await model.chat.completions.create({ messages: [{ role: 'user', content: 'Hi' }] });
 */
export function createChatCompletions(chat: ChatFunction, modelName: string): ChatCompletions {
  const create = async (request: ChatCompletionRequest): Promise<ChatCompletion | AsyncIterable<ChatCompletionChunk>> => {
    const options = toChatOptions(request);
    const id = `chatcmpl-localm-${Date.now().toString(36)}-${(counter++).toString(36)}`;
    const created = Math.floor(Date.now() / 1000);
    const events = chat(request.messages, options);
    if (request.stream) return streamChunks(events, id, created, modelName);
    let content = '';
    for await (const e of events) {
      if (e.type === 'text') content += e.text;
      else {
        return {
          id,
          object: 'chat.completion',
          created,
          model: modelName,
          choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: finishReason(e.stopReason), logprobs: null }],
          usage: usageOf(e),
        };
      }
    }
    throw new LocalmError('invalid_argument', 'the generation ended without a done event');
  };
  return { create } as ChatCompletions;
}

async function* streamChunks(events: AsyncIterable<GenerationEvent>, id: string, created: number, model: string): AsyncGenerator<ChatCompletionChunk> {
  const chunk = (delta: ChatCompletionChunk['choices'][0]['delta'], finish: FinishReason | null): ChatCompletionChunk => ({
    id,
    object: 'chat.completion.chunk',
    created,
    model,
    choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }],
  });
  yield chunk({ role: 'assistant', content: '' }, null);
  for await (const e of events) {
    if (e.type === 'text') yield chunk({ content: e.text }, null);
    else yield { ...chunk({}, finishReason(e.stopReason)), usage: usageOf(e) };
  }
}

function finishReason(reason: StopReason): FinishReason {
  return reason === 'eos' || reason === 'stop' ? 'stop' : 'length';
}

function usageOf(e: Extract<GenerationEvent, { type: 'done' }>): ChatCompletion['usage'] {
  return { prompt_tokens: e.usage.promptTokens, completion_tokens: e.usage.completionTokens, total_tokens: e.usage.promptTokens + e.usage.completionTokens };
}

function toChatOptions(r: ChatCompletionRequest): ChatOptions {
  if (r.n !== undefined && r.n !== 1) throw new LocalmError('invalid_argument', 'n must be 1: one completion per request');
  const o: ChatOptions = {};
  const maxTokens = r.max_completion_tokens ?? r.max_tokens;
  if (maxTokens !== undefined) o.maxTokens = maxTokens;
  if (r.temperature !== undefined) o.temperature = r.temperature;
  if (r.top_p !== undefined) o.topP = r.top_p;
  if (r.seed !== undefined) o.seed = r.seed;
  if (r.stop !== undefined) o.stop = typeof r.stop === 'string' ? [r.stop] : r.stop;
  if (r.presence_penalty !== undefined) o.presencePenalty = r.presence_penalty;
  if (r.frequency_penalty !== undefined) o.frequencyPenalty = r.frequency_penalty;
  if (r.logit_bias !== undefined) o.logitBias = Object.fromEntries(Object.entries(r.logit_bias).map(([k, v]) => [Number(k), v]));
  if (r.response_format?.type === 'json_schema') o.responseFormat = { type: 'json_schema', schema: r.response_format.json_schema.schema };
  if (r.tools !== undefined) o.tools = r.tools;
  if (r.signal !== undefined) o.signal = r.signal;
  return o;
}
