// Stop strings split across pieces in every way: the emitted text is exactly the text before the stop.

import { expect, test } from 'vitest';
import { StopMatcher } from './stop-strings.js';

function run(pieces: string[], stops: string[]): { text: string; stopped: boolean } {
  const m = new StopMatcher(stops);
  let text = '';
  for (const piece of pieces) {
    const r = m.push(piece);
    text += r.text;
    if (r.stopped) return { text, stopped: true };
  }
  return { text: text + m.flush(), stopped: false };
}

test('every split of the text into up to three pieces finds the earliest stop', () => {
  const full = 'Lily said: the end. THE END';
  const stops = ['the end', 'said:'];
  for (let i = 0; i <= full.length; i++) {
    for (let j = i; j <= full.length; j++) {
      const r = run([full.slice(0, i), full.slice(i, j), full.slice(j)], stops);
      expect(r).toEqual({ text: 'Lily ', stopped: true });
    }
  }
});

test('a near miss is emitted in full once it cannot become a stop', () => {
  expect(run(['the e', 'nvelope'], ['the end'])).toEqual({ text: 'the envelope', stopped: false });
  expect(run(['abc', 'the en'], ['the end'])).toEqual({ text: 'abcthe en', stopped: false });
});
