// localm.json parsing and pinned digests: every malformed manifest is corrupt_model, every bad pin
// invalid_argument, each naming what is wrong.

import { describe, expect, test } from 'vitest';
import { applyPins, parseManifest } from '../../src/loading/manifest.js';

const HASH = 'ab'.repeat(32);
const parse = (json: unknown): ReturnType<typeof parseManifest> => parseManifest(new TextEncoder().encode(typeof json === 'string' ? json : JSON.stringify(json)), 'http://x/m/localm.json');

test('a good manifest gives paths, sizes and lowercase digests', () => {
  expect(parse({ version: 1, files: [{ path: 'config.json', size: 10 }, { path: 'onnx/model.onnx', size: 0, sha256: HASH.toUpperCase() }] })).toEqual([
    { path: 'config.json', sizeBytes: 10 },
    { path: 'onnx/model.onnx', sizeBytes: 0, sha256: HASH },
  ]);
});

describe('a malformed manifest is corrupt_model', () => {
  test.each([
    ['not JSON', '{"version": 1,'],
    ['no version', { files: [{ path: 'a', size: 1 }] }],
    ['version 2', { version: 2, files: [{ path: 'a', size: 1 }] }],
    ['no files', { version: 1, files: [] }],
    ['a file without a path', { version: 1, files: [{ size: 1 }] }],
    ['a path outside the folder', { version: 1, files: [{ path: '../secrets', size: 1 }] }],
    ['an absolute path', { version: 1, files: [{ path: '/etc/passwd', size: 1 }] }],
    ['a URL as path', { version: 1, files: [{ path: 'https://evil.example/x', size: 1 }] }],
    ['a backslash path', { version: 1, files: [{ path: 'onnx\\model.onnx', size: 1 }] }],
    ['an empty segment', { version: 1, files: [{ path: 'onnx//model.onnx', size: 1 }] }],
    ['a file listed twice', { version: 1, files: [{ path: 'a', size: 1 }, { path: 'a', size: 1 }] }],
    ['a negative size', { version: 1, files: [{ path: 'a', size: -1 }] }],
    ['a fractional size', { version: 1, files: [{ path: 'a', size: 1.5 }] }],
    ['a size as string', { version: 1, files: [{ path: 'a', size: '1' }] }],
    ['a short digest', { version: 1, files: [{ path: 'a', size: 1, sha256: 'abc' }] }],
  ])('%s', (_, json) => {
    expect(() => parse(json)).toThrow(expect.objectContaining({ name: 'LocalmError', code: 'corrupt_model', message: expect.stringContaining('localm.json') }));
  });
});

describe('pins', () => {
  const files = [{ path: 'config.json', sizeBytes: 1, sha256: HASH }, { path: 'onnx/model.onnx', sizeBytes: 2 }];

  test('a pin replaces or adds a digest and leaves other files alone', () => {
    expect(applyPins(files, { 'onnx/model.onnx': 'CD'.repeat(32), 'config.json': 'ef'.repeat(32) })).toEqual([
      { path: 'config.json', sizeBytes: 1, sha256: 'ef'.repeat(32) },
      { path: 'onnx/model.onnx', sizeBytes: 2, sha256: 'cd'.repeat(32) },
    ]);
    expect(applyPins(files, undefined)).toBe(files);
  });

  test.each([
    ['a file the model does not have', { 'onnx/model_q4.onnx': HASH }],
    ['a digest that is not 64 hex digits', { 'config.json': 'xyz' }],
    ['a digest that is not a string', { 'config.json': 42 as unknown as string }],
  ])('a pin for %s is invalid_argument', (_, pins) => {
    expect(() => applyPins(files, pins)).toThrow(expect.objectContaining({ code: 'invalid_argument' }));
  });
});
