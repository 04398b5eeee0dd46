// Runs the built `localm` command the way a user does, and reads its JSON line.

import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const CLI = `${ROOT}packages/cli/dist/main.js`;
export const SOURCE = `${ROOT}models/stories260k-source`;
export const BUNDLED = `${ROOT}models/stories260k`;

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], input?: string): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [CLI, ...args], { maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
    child.stdin?.end(input ?? '');
  });
}

/** The last stdout line, parsed. */
export function lastJson<T>(result: CliResult): T {
  const lines = result.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]!) as T;
}

export function readJsonl<T>(file: string): T[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as T);
}

export interface GreedyRecord {
  prompt: string;
  steps: number; // positions in all, prompt included
  prompt_token_ids: number[];
  generated_token_ids: number[];
  stop: 'steps' | 'bos';
}

export interface GenerateJson {
  promptTokenIds: number[];
  tokenIds: number[];
  text: string;
  stopReason: string;
  device: string;
}
