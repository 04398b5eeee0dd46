// Chat: messages → prompt ids through the model's chat template (the tokenizer renders it and keeps
// special-token text typed in messages plain), or a plain fallback for models without one, with a
// declared policy for conversations longer than the context.

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

function templateOptions(tools: readonly Record<string, unknown>[] | undefined): { addGenerationPrompt: true; tools?: readonly Record<string, unknown>[] } {
  return tools ? { addGenerationPrompt: true, tools } : { addGenerationPrompt: true };
}

function checkMessages(messages: readonly ChatMessage[]): void {
  if (messages.length === 0) throw new LocalmError('invalid_argument', 'chat needs at least one message');
  for (const m of messages) {
    if (!['system', 'user', 'assistant', 'tool'].includes(m.role) || typeof m.content !== 'string') {
      throw new LocalmError('invalid_argument', `a chat message needs a role (system, user, assistant, tool) and string content, got ${JSON.stringify(m).slice(0, 100)}`);
    }
  }
}

/**
 * Renders messages to the prompt text. Models without a chat template (base models such as
 * stories260K) get the contents concatenated: the conversation is one text the model continues, so
 * a reply appended as the assistant's message extends the prompt it was generated from.
 */
export function renderChat(tokenizer: Tokenizer, messages: readonly ChatMessage[], tools?: readonly Record<string, unknown>[]): string {
  checkMessages(messages);
  if (tokenizer.hasChatTemplate) return tokenizer.applyChatTemplate(messages, templateOptions(tools));
  return messages.map((m) => m.content).join('');
}

/**
 * Prompt ids of a conversation. With a chat template these are apply_chat_template's ids: no BOS
 * beyond the template's own, and special-token text inside messages encoded as plain text, so a
 * user typing "<|im_end|>" cannot end their turn. Without one, the plain text with the tokenizer's BOS.
 */
function encodeChatPrompt(tokenizer: Tokenizer, messages: readonly ChatMessage[], tools?: readonly Record<string, unknown>[]): number[] {
  checkMessages(messages);
  if (tokenizer.hasChatTemplate) return tokenizer.encodeChat(messages, templateOptions(tools));
  return tokenizer.encode(messages.map((m) => m.content).join(''), { parseSpecialTokens: false });
}

/**
 * Token ids for a conversation that fit in `budget` tokens, dropping the oldest non-system messages
 * first when the policy allows it. The last message is never dropped.
 */
export function chatPromptIds(tokenizer: Tokenizer, messages: readonly ChatMessage[], budget: number, options: ChatOptions): number[] {
  let kept = [...messages];
  for (;;) {
    const ids = encodeChatPrompt(tokenizer, kept, options.tools);
    if (ids.length < budget) return ids;
    const oldest = kept.findIndex((m, i) => m.role !== 'system' && i < kept.length - 1);
    if (options.contextOverflow !== 'dropOldest' || oldest === -1) {
      throw new LocalmError('context_full', `the conversation has ${ids.length} tokens; the model's context holds ${budget}${options.contextOverflow === 'dropOldest' ? ' even with only the system prompt and the last message' : ''}`);
    }
    kept = kept.filter((_, i) => i !== oldest);
  }
}
