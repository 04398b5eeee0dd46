// Marks special-token text inside chat messages before the template renders them, so that after
// rendering the tokenizer can tell the template's own "<|im_end|>" (a control token) from one a user
// typed (plain text). Each occurrence becomes a placeholder the template passes through unchanged:
// a noncharacter, a private-use character naming the text, and the noncharacter again.

import type { ChatMessage } from './chat-template.js';

const MARK = '\uFDD0'; // a Unicode noncharacter: text does not use it, templates do not touch it
const FIRST_NAME = 0xe000;
const MAX_NAMES = 0xf8ff - FIRST_NAME + 1;
const PLACEHOLDER = /\uFDD0([\uE000-\uF8FF])\uFDD0/g;

export interface Span {
  text: string;
  parseSpecialTokens: boolean;
}

/**
 * Messages with special-token text (matches of `specialText`, a global RegExp) replaced by
 * placeholders, and the function that cuts the rendered template back into spans: the template's
 * text (special tokens parsed) and the users' special-token text (plain).
 */
export function protectSpecialText(
  messages: readonly ChatMessage[],
  specialText: RegExp,
): { messages: ChatMessage[]; spansOf: (rendered: string) => Span[] } {
  // The mark itself is protected too, so a user cannot forge a placeholder.
  const pattern = new RegExp(`${specialText.source}|${MARK}`, 'g');
  const names = new Map<string, string>();
  const literals: string[] = [];
  const protect = (text: string): string =>
    text.replace(pattern, (literal) => {
      let name = names.get(literal);
      if (name === undefined) {
        // More distinct special strings than private-use characters: keep the rest as they are
        // (they are then parsed); a tokenizer has far fewer special tokens than 6,400.
        if (literals.length >= MAX_NAMES) return literal;
        name = String.fromCharCode(FIRST_NAME + literals.length);
        names.set(literal, name);
        literals.push(literal);
      }
      return MARK + name + MARK;
    });
  const protectedMessages = messages.map((message) => {
    const copy: ChatMessage = { ...message };
    if (typeof message.content === 'string') copy.content = protect(message.content);
    else if (Array.isArray(message.content)) {
      copy.content = message.content.map((part) => (typeof part.text === 'string' ? { ...part, text: protect(part.text) } : part));
    }
    if (typeof message.reasoning_content === 'string') copy.reasoning_content = protect(message.reasoning_content);
    return copy;
  });
  const spansOf = (rendered: string): Span[] => {
    const spans: Span[] = [];
    let start = 0;
    for (const match of rendered.matchAll(PLACEHOLDER)) {
      const literal = literals[(match[1] ?? '').charCodeAt(0) - FIRST_NAME];
      if (literal === undefined) continue;
      spans.push({ text: rendered.slice(start, match.index), parseSpecialTokens: true });
      spans.push({ text: literal, parseSpecialTokens: false });
      start = match.index + match[0].length;
    }
    spans.push({ text: rendered.slice(start), parseSpecialTokens: true });
    return spans.filter((span) => span.text.length > 0);
  };
  return { messages: protectedMessages, spansOf };
}
