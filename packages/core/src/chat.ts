// Chat: messages → prompt text through the model's chat template (or a plain fallback for models
// without one), with a declared policy for conversations longer than the context.

import { LocalmError } from '@localm/errors';
import type { Tokenizer } from '@localm/tokenizer';
import type { GenerateOptions } from './generate.js';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | 'tool';
  content: string;
}

export interface ChatOptions extends GenerateOptions {
  tools?: readonly Record<string, unknown>[]; // passed to the chat template as `tools`
  /** What to do when the rendered conversation does not fit: fail, or drop the oldest turns (never the system prompt). */
  contextOverflow?: 'error' | 'dropOldest';
}

/** The tokenizer's template renderer, where the tokenizer package provides one. */
type TemplateRenderer = (messages: readonly ChatMessage[], options: { addGenerationPrompt: boolean; tools?: readonly Record<string, unknown>[] }) => string;

function templateOf(tokenizer: Tokenizer): TemplateRenderer | undefined {
  const t = tokenizer as Tokenizer & { hasChatTemplate?: boolean; applyChatTemplate?: TemplateRenderer };
  return t.hasChatTemplate && t.applyChatTemplate ? t.applyChatTemplate.bind(t) : undefined;
}

/**
 * Renders messages to the prompt text. Models without a chat template (base models such as
 * stories260K) get the contents concatenated: the conversation is one text the model continues, so
 * a reply appended as the assistant's message extends the prompt it was generated from.
 */
export function renderChat(tokenizer: Tokenizer, messages: readonly ChatMessage[], tools?: readonly Record<string, unknown>[]): string {
  if (messages.length === 0) throw new LocalmError('invalid_argument', 'chat needs at least one message');
  for (const m of messages) {
    if (!['system', 'user', 'assistant', 'tool'].includes(m.role) || typeof m.content !== 'string') {
      throw new LocalmError('invalid_argument', `a chat message needs a role (system, user, assistant, tool) and string content, got ${JSON.stringify(m).slice(0, 100)}`);
    }
  }
  const template = templateOf(tokenizer);
  if (template) return template(messages, tools ? { addGenerationPrompt: true, tools } : { addGenerationPrompt: true });
  return messages.map((m) => m.content).join('');
}

/**
 * Token ids for a conversation that fit in `budget` tokens, dropping the oldest non-system messages
 * first when the policy allows it. The last message is never dropped.
 */
export function chatPromptIds(tokenizer: Tokenizer, messages: readonly ChatMessage[], budget: number, options: ChatOptions): number[] {
  let kept = [...messages];
  for (;;) {
    const ids = tokenizer.encode(renderChat(tokenizer, kept, options.tools));
    if (ids.length < budget) return ids;
    const oldest = kept.findIndex((m, i) => m.role !== 'system' && i < kept.length - 1);
    if (options.contextOverflow !== 'dropOldest' || oldest === -1) {
      throw new LocalmError('context_full', `the conversation has ${ids.length} tokens; the model's context holds ${budget}${options.contextOverflow === 'dropOldest' ? ' even with only the system prompt and the last message' : ''}`);
    }
    kept = kept.filter((_, i) => i !== oldest);
  }
}
