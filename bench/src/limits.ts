// Limits files: per device profile, a memory budget, a TTFT ceiling and a decode-speed floor.
// `pnpm bench --limits FILE [--profile NAME]` checks localm's medians against one profile.
//
// { "profiles": { "laptop-2core": { "memoryBytes": 2e9, "maxTtftMs": 4000, "minDecodeTokensPerSecond": 8 } } }

import { readFileSync } from 'node:fs';

export interface LimitProfile {
  memoryBytes?: number; // peak RSS
  maxTtftMs?: number;
  minDecodeTokensPerSecond?: number;
}

export function readLimits(path: string, profile: string | undefined): { name: string; limits: LimitProfile } {
  const file = JSON.parse(readFileSync(path, 'utf8')) as { profiles?: Record<string, LimitProfile> };
  const profiles = file.profiles ?? {};
  const names = Object.keys(profiles);
  const name = profile ?? (names.length === 1 ? names[0] : undefined);
  if (name === undefined || !profiles[name]) {
    throw new Error(`${path}: pick a profile with --profile (${names.join(', ') || 'none defined'})`);
  }
  return { name, limits: profiles[name] };
}

/** Each failed limit as a sentence; empty when all hold. */
export function checkLimits(limits: LimitProfile, measured: { peakRssBytes: number; ttftMs: number; decodeTokensPerSecond: number }): string[] {
  const failed: string[] = [];
  const mb = (b: number): string => `${(b / 1e6).toFixed(0)} MB`;
  if (limits.memoryBytes !== undefined && measured.peakRssBytes > limits.memoryBytes) {
    failed.push(`memory: peak RSS ${mb(measured.peakRssBytes)} > budget ${mb(limits.memoryBytes)}`);
  }
  if (limits.maxTtftMs !== undefined && measured.ttftMs > limits.maxTtftMs) {
    failed.push(`ttft: ${measured.ttftMs.toFixed(0)} ms > ${limits.maxTtftMs} ms`);
  }
  if (limits.minDecodeTokensPerSecond !== undefined && measured.decodeTokensPerSecond < limits.minDecodeTokensPerSecond) {
    failed.push(`decode: ${measured.decodeTokensPerSecond.toFixed(2)} tok/s < ${limits.minDecodeTokensPerSecond} tok/s`);
  }
  return failed;
}
