// planDevices: the order 'auto' tries devices in, per environment, and the reasons it records.

import { expect, test } from 'vitest';
import type { Capabilities } from './capabilities.js';
import { planDevices } from './device.js';

const browser: Capabilities = { node: false, webgpu: true, wasmThreads: true, hardwareConcurrency: 4 };
const node: Capabilities = { node: true, webgpu: false, wasmThreads: true, hardwareConcurrency: 2 };

test('browsers try webgpu, then wasm; native cpu is out with its reason', () => {
  expect(planDevices('auto', browser)).toEqual({ order: ['webgpu', 'wasm'], skipped: [{ device: 'cpu', reason: 'native onnxruntime needs Node.js' }] });
});

test('without navigator.gpu, webgpu is out with its reason', () => {
  expect(planDevices('auto', { ...browser, webgpu: false })).toEqual({
    order: ['wasm'],
    skipped: [
      { device: 'webgpu', reason: 'no navigator.gpu' },
      { device: 'cpu', reason: 'native onnxruntime needs Node.js' },
    ],
  });
});

test('Node prefers native cpu; an explicit device is tried alone', () => {
  expect(planDevices('auto', node).order).toEqual(['cpu', 'wasm']);
  expect(planDevices('wasm', node)).toEqual({ order: ['wasm'], skipped: [] });
  expect(planDevices('webgpu', node)).toEqual({ order: [], skipped: [{ device: 'webgpu', reason: 'no navigator.gpu' }] });
});
