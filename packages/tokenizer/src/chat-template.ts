// Renders a model's chat template (Jinja, run by @huggingface/jinja) the way Python transformers'
// apply_chat_template does: the same variables, `raise_exception`, `strftime_now` and `tojson`.
// Turning the text into ids is the tokenizer's job; choosing what to send is the caller's.

import { Template } from '@huggingface/jinja';
import { LocalmError } from '@localm/errors';
import { formatStrftime } from './strftime.js';
import { renderLimited, TemplateLimitExceeded, type TemplateLimits } from './template-sandbox.js';

/** One part of a multimodal message, e.g. `{ type: 'text', text: 'Hi' }` or `{ type: 'image' }`. */
export interface ChatContentPart {
  type: string;
  text?: string;
  [key: string]: unknown;
}

/** An OpenAI-style tool call in an assistant message; `arguments` is an object or a JSON string. */
export interface ChatToolCall {
  type?: string;
  id?: string;
  function: { name: string; arguments: string | Record<string, unknown> };
}

/** A chat message as templates read it (snake_case keys, as in the OpenAI and transformers JSON). */
export interface ChatMessage {
  role: string; // 'system' | 'user' | 'assistant' | 'tool', or what the template knows
  content: string | readonly ChatContentPart[] | null; // null: an assistant turn with only tool_calls
  tool_calls?: readonly ChatToolCall[];
  reasoning_content?: string;
  tool_call_id?: string;
  name?: string;
}

export interface ChatTemplateOptions {
  /** End with the header of an assistant turn, so the model answers. Default false, as in transformers. */
  addGenerationPrompt?: boolean;
  /** JSON schemas of the tools, OpenAI style: `{ type: 'function', function: { name, description, parameters } }`. */
  tools?: readonly Record<string, unknown>[];
  documents?: readonly Record<string, unknown>[]; // for templates with retrieval-augmented generation
  /** The template's own variables, e.g. Qwen 3's `{ enable_thinking: false }`. */
  templateVariables?: Record<string, unknown>;
  /** A named template of tokenizer_config.json's list (e.g. 'tool_use'), or the text of a template. */
  chatTemplate?: string;
  now?: Date; // the clock of `strftime_now`; default the current time
  /** Bounds on the rendering (templates come with downloaded files); DEFAULT_TEMPLATE_LIMITS otherwise. */
  limits?: TemplateLimits;
}

/** tokenizer_config.json's chat_template: one template, or a list of named ones. */
export type ChatTemplateConfig = string | readonly { name: string; template: string }[];

// transformers' SPECIAL_TOKENS_ATTRIBUTES: each one the config sets is a template variable.
const SPECIAL_TOKEN_KEYS = [
  'bos_token',
  'eos_token',
  'unk_token',
  'sep_token',
  'pad_token',
  'cls_token',
  'mask_token',
  'additional_special_tokens',
] as const;

/** A special token entry of tokenizer_config.json: a string, an AddedToken `{ content }`, or a list of them. */
function tokenContent(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(tokenContent);
  if (typeof value === 'object' && value !== null) return (value as { content?: unknown }).content;
  return value;
}

/** The template variables transformers takes from tokenizer_config.json (its special_tokens_map). */
export function specialTokenVariables(config: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of SPECIAL_TOKEN_KEYS) {
    const value = tokenContent(config[key]);
    // Python's truthiness: None, '' and [] are left out.
    if ((typeof value === 'string' && value !== '') || (Array.isArray(value) && value.length > 0)) out[key] = value;
  }
  return out;
}

/** Reads chat_template from tokenizer_config.json; undefined when there is none. */
export function readChatTemplateConfig(config: Record<string, unknown>): ChatTemplateConfig | undefined {
  const value = config['chat_template'];
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  const isNamed = (entry: unknown): entry is { name: string; template: string } =>
    typeof entry === 'object' &&
    entry !== null &&
    typeof (entry as { name?: unknown }).name === 'string' &&
    typeof (entry as { template?: unknown }).template === 'string';
  if (Array.isArray(value) && value.every(isNamed)) return value;
  throw new LocalmError('corrupt_model', 'tokenizer_config.json: chat_template must be a string or a list of {name, template}');
}

/** The template raised this through `raise_exception`: it refuses the messages. */
class TemplateRaised extends Error {}

/** Renders messages with one model's chat template(s); compiled templates are kept. */
export class ChatTemplateRenderer {
  readonly #config: ChatTemplateConfig;
  readonly #variables: Record<string, unknown>;
  readonly #compiled = new Map<string, Template>();

  constructor(config: ChatTemplateConfig, variables: Record<string, unknown>) {
    this.#config = config;
    this.#variables = variables;
  }

  render(messages: readonly ChatMessage[], options: ChatTemplateOptions = {}): string {
    checkMessages(messages);
    const template = this.#compile(this.#select(options));
    const now = options.now ?? new Date();
    const items: Record<string, unknown> = {
      ...this.#variables,
      ...options.templateVariables,
      messages,
      tools: options.tools ?? null,
      documents: options.documents ?? null,
      add_generation_prompt: options.addGenerationPrompt ?? false,
      raise_exception: (message: unknown) => {
        throw new TemplateRaised(String(message));
      },
      strftime_now: (format: unknown) => formatStrftime(now, String(format)),
    };
    try {
      return renderLimited(template, items, options.limits);
    } catch (cause) {
      if (cause instanceof TemplateLimitExceeded) {
        throw new LocalmError('invalid_argument', `chat_template: rendering stopped at a limit (${cause.message})`, { cause });
      }
      if (cause instanceof RangeError) {
        // e.g. "Invalid string length" from a filter asked for a gigantic string in one step.
        throw new LocalmError('invalid_argument', `chat_template: rendering stopped (${cause.message})`, { cause });
      }
      if (cause instanceof TemplateRaised) {
        throw new LocalmError('invalid_argument', `the chat template refused the messages: ${cause.message}`, { cause });
      }
      const why = cause instanceof Error ? cause.message : String(cause);
      throw new LocalmError('unsupported_model', `chat_template: rendering failed in @huggingface/jinja (${why})`, { cause });
    }
  }

  // transformers' choice: a name the caller gives, else 'tool_use' when there are tools and the
  // list has it, else 'default'. A string that names no template is a template itself.
  #select(options: ChatTemplateOptions): string {
    const config = this.#config;
    if (typeof config === 'string') return options.chatTemplate ?? config;
    const byName = (name: string): string | undefined => config.find((entry) => entry.name === name)?.template;
    if (options.chatTemplate !== undefined) return byName(options.chatTemplate) ?? options.chatTemplate;
    const chosen = (options.tools !== undefined ? byName('tool_use') : undefined) ?? byName('default');
    if (chosen === undefined) {
      const names = config.map((entry) => entry.name).join(', ');
      throw new LocalmError('invalid_argument', `chat_template has no "default" template (it has: ${names}); pass chatTemplate`);
    }
    return chosen;
  }

  #compile(text: string): Template {
    let template = this.#compiled.get(text);
    if (template === undefined) {
      try {
        template = new Template(text);
      } catch (cause) {
        const why = cause instanceof Error ? cause.message : String(cause);
        throw new LocalmError('unsupported_model', `chat_template: @huggingface/jinja cannot parse it (${why})`, { cause });
      }
      this.#compiled.set(text, template);
    }
    return template;
  }
}

function checkMessages(messages: readonly ChatMessage[]): void {
  if (!Array.isArray(messages)) throw new LocalmError('invalid_argument', 'applyChatTemplate: messages must be an array');
  for (const [i, message] of messages.entries()) {
    const content = (message as { content?: unknown } | null)?.content;
    const isContent = typeof content === 'string' || content === null || (Array.isArray(content) && content.every((p) => typeof p === 'object' && p !== null));
    if (typeof message?.role !== 'string' || !isContent) {
      throw new LocalmError(
        'invalid_argument',
        `applyChatTemplate: message ${i} needs a string role and content that is a string, null or a list of parts, got ${JSON.stringify(message)?.slice(0, 100)}`,
      );
    }
  }
}
