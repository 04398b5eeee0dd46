// transformers' clean_up_tokenization, whole and streamed.

import { describe, expect, it } from 'vitest';
import { CleanUpStream, cleanUpTokenizationSpaces } from './clean-up.js';

// Expected values from CPython running transformers' chain of str.replace calls on each input.
const PYTHON_CASES: [string, string][] = [
  ['Hello , world !', 'Hello, world!'],
  ['Wait . Really ?', 'Wait. Really?'],
  ["do n't", "don't"],
  ["I 'm here , you 're there", "I'm here, you're there"],
  ["it 's John 's", "it's John's"],
  ["we 've", "we've"],
  ["x ' y", "x'y"],
  ["do n ' t", "don't"], // " ' " first, which makes " n't"
  ["x  ' ve", "x've"],
  ['  .', ' .'], // one pass: the space left in front is not looked at again
  [" ' ' ' ", "'''"],
  ['a ... b', 'a... b'],
  ['no change here', 'no change here'],
  ['', ''],
  [" n't n't", "n'tn't"],
];

describe('cleanUpTokenizationSpaces', () => {
  it.each(PYTHON_CASES)('%j → %j', (input, output) => {
    expect(cleanUpTokenizationSpaces(input)).toBe(output);
  });
});

describe('CleanUpStream', () => {
  it('gives the same text as cleaning the whole, however the input is cut', () => {
    const alphabet = [' ', ' ', "'", 'n', 't', 'm', 's', 'v', 'e', 'r', '.', '?', '!', ',', 'x', 'é', '\n', '🦙'];
    let seed = 7;
    const next = (): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    for (let trial = 0; trial < 2000; trial++) {
      const chars = Array.from({ length: Math.floor(next() * 30) }, () => alphabet[Math.floor(next() * alphabet.length)]);
      const text = chars.join('');
      const stream = new CleanUpStream();
      let out = '';
      for (let at = 0; at < chars.length; ) {
        const step = 1 + Math.floor(next() * 4);
        out += stream.push(chars.slice(at, at + step).join(''));
        at += step;
      }
      out += stream.flush();
      expect(out).toBe(cleanUpTokenizationSpaces(text));
    }
  });

  it('releases text up to the last character no pattern uses', () => {
    const stream = new CleanUpStream();
    expect(stream.push('Hello ,')).toBe('Hello');
    expect(stream.push(' world .')).toBe(', world'); // "d" ends what is safe
    expect(stream.flush()).toBe('.');
  });
});
