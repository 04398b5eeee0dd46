// `localm generate`: streams a continuation to stdout; with --json, one JSON object as the last line.

import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DEVICE_REQUESTS, loadModel, type DeviceRequest, type GenerateOptions } from '@localm/core';
import { UsageError } from './usage-error.js';

/** The bundled TinyStories model, so `localm generate` works with no argument and no network. */
export const DEFAULT_MODEL = fileURLToPath(new URL('../../../models/stories260k', import.meta.url));
const DEFAULT_PROMPT = 'Once upon a time';

export async function runGenerate(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      prompt: { type: 'string', short: 'p' },
      'max-tokens': { type: 'string' },
      temperature: { type: 'string' },
      seed: { type: 'string' },
      device: { type: 'string' },
      threads: { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  if (positionals.length > 1) throw new UsageError('generate takes one model folder or URL');
  const device = (values.device ?? 'auto') as DeviceRequest;
  if (!DEVICE_REQUESTS.includes(device)) throw new UsageError(`--device must be one of ${DEVICE_REQUESTS.join(', ')}`);
  const options: GenerateOptions = {};
  if (values['max-tokens'] !== undefined) options.maxTokens = toNumber(values['max-tokens'], '--max-tokens');
  if (values.temperature !== undefined) options.temperature = toNumber(values.temperature, '--temperature');
  if (values.seed !== undefined) options.seed = toNumber(values.seed, '--seed');

  const model = await loadModel(positionals[0] ?? DEFAULT_MODEL, {
    device,
    ...(values.threads === undefined ? {} : { numThreads: toNumber(values.threads, '--threads') }),
  });
  try {
    const prompt = values.prompt ?? DEFAULT_PROMPT;
    if (!values.json) process.stdout.write(prompt);
    let text = '';
    for await (const event of model.generate(prompt, options)) {
      if (event.type === 'text') {
        text += event.text;
        if (!values.json) process.stdout.write(event.text);
        continue;
      }
      const tokensPerSecond = event.usage.completionTokens / (event.timings.decodeMs / 1000 || Infinity);
      if (values.json) {
        const result = {
          promptTokenIds: event.promptTokenIds,
          tokenIds: event.tokenIds,
          text,
          stopReason: event.stopReason,
          device: model.info.device,
          usage: event.usage,
          timings: event.timings,
        };
        process.stdout.write(`${JSON.stringify(result)}\n`);
      } else {
        process.stdout.write('\n');
        process.stderr.write(
          `[${model.info.device}] ${event.usage.promptTokens} prompt + ${event.usage.completionTokens} generated tokens, ` +
            `stop: ${event.stopReason}, ${tokensPerSecond.toFixed(1)} tokens/s\n`,
        );
      }
    }
  } finally {
    await model.dispose();
  }
  return 0;
}

function toNumber(text: string, flag: string): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value)) throw new UsageError(`${flag} needs a number, got '${text}'`);
  return value;
}
