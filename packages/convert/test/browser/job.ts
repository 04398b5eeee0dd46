// One synthesis into OPFS and what came of it, shared by the page (createWritable) and its worker
// (synchronous access handles): each file's size and, when asked, its sha256.

import { opfsSink, synthesizeModel } from '../../src/synth.js';

export interface SynthJob {
  preset: string;
  seed: number;
  dtype: 'q4' | 'q8' | 'fp16' | 'fp32';
  gguf: boolean;
  folder: string; // OPFS folder, removed first
  hashes: boolean; // sha256 every file (reads each whole: small models only)
}

export interface SynthJobResult {
  files: Record<string, { sizeBytes: number; sha256?: string }>;
  weightBytes: number;
  parameterCount: number;
  progressCalls: number;
  lastProgress: { bytesWritten: number; totalBytes: number } | undefined;
  elapsedMs: number;
  usedSyncHandle: boolean;
}

async function fileAt(root: FileSystemDirectoryHandle, path: string): Promise<File> {
  const parts = path.split('/');
  let dir = root;
  for (const part of parts.slice(0, -1)) dir = await dir.getDirectoryHandle(part);
  return (await dir.getFileHandle(parts.at(-1)!)).getFile();
}

export async function runSynthJob(job: SynthJob, signal?: AbortSignal): Promise<SynthJobResult> {
  const root = await navigator.storage.getDirectory();
  await root.removeEntry(job.folder, { recursive: true }).catch(() => {});
  const dir = await root.getDirectoryHandle(job.folder, { create: true });
  let progressCalls = 0;
  let lastProgress: SynthJobResult['lastProgress'];
  const started = performance.now();
  const result = await synthesizeModel(
    {
      preset: job.preset,
      seed: job.seed,
      dtype: job.dtype,
      gguf: job.gguf,
      ...(signal === undefined ? {} : { signal }),
      onProgress: (p) => {
        progressCalls++;
        lastProgress = p;
      },
    },
    opfsSink(dir),
  );
  const elapsedMs = performance.now() - started;
  const files: SynthJobResult['files'] = {};
  for (const path of result.files) {
    const file = await fileAt(dir, path);
    files[path] = { sizeBytes: file.size };
    if (job.hashes) {
      const digest = await crypto.subtle.digest('SHA-256', await file.arrayBuffer());
      files[path].sha256 = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
    }
  }
  const usedSyncHandle = typeof (FileSystemFileHandle.prototype as { createSyncAccessHandle?: unknown }).createSyncAccessHandle === 'function';
  return { files, weightBytes: result.weightBytes, parameterCount: result.parameterCount, progressCalls, lastProgress, elapsedMs, usedSyncHandle };
}
