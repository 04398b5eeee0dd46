// The model manifest, `localm.json`: which files a model folder holds, their sizes and sha256 digests.
// Parses and checks it, and merges the caller's pinned hashes. Knows nothing of fetching or storage.

import { LocalmError } from '@localm/errors';

/** The file name of a model folder's manifest. */
export const MANIFEST_FILE = 'localm.json';

/**
 * `localm.json` as written on disk (the shape of Hugging Face's `siblings` list, with sizes and digests):
 * `{ "version": 1, "files": [{ "path": "onnx/model.onnx_data", "size": 1187584, "sha256": "…" }] }`
 */
export interface ManifestJson {
  version: 1;
  files: { path: string; size: number; sha256?: string }[];
}

/** One file of a model. */
export interface ModelFile {
  path: string; // relative to the model folder, with '/' separators
  sizeBytes?: number; // undefined when the server did not say
  sha256?: string; // 64 lowercase hex digits, when the manifest or the caller gives one
}

/** Files of a Hugging Face ONNX folder, read when there is no manifest; `required` ones must exist. */
export const DEFAULT_MODEL_FILES: readonly { path: string; required: boolean }[] = [
  { path: 'config.json', required: true },
  { path: 'generation_config.json', required: false },
  { path: 'tokenizer.json', required: true },
  { path: 'tokenizer_config.json', required: false },
  { path: 'onnx/model.onnx', required: true },
  { path: 'onnx/model.onnx_data', required: false },
];

const SHA256 = /^[0-9a-f]{64}$/;

/**
 * Bounds on a manifest, checked before it is parsed or walked: a real one lists a handful of files in
 * about 1 KB. Parsing takes ~5 us per entry, so these keep a hostile one under ~50 ms and 1 MiB.
 */
export const MAX_MANIFEST_BYTES = 1 << 20;
export const MAX_MANIFEST_FILES = 4096;

/** Throws `invalid_argument` unless `path` is a plain relative path inside the model folder. */
export function checkRelativePath(path: string, what: string): string {
  const parts = path.split('/');
  if (path === '' || path.includes('\\') || path.includes('\0') || parts.some((p) => p === '' || p === '.' || p === '..') || /^[a-z]+:/i.test(path)) {
    throw new LocalmError('invalid_argument', `${what}: '${path}' is not a relative path inside the model folder`);
  }
  return path;
}

/** Parses `localm.json`. Throws `corrupt_model` naming what is wrong. */
export function parseManifest(bytes: Uint8Array, location: string): ModelFile[] {
  if (bytes.length > MAX_MANIFEST_BYTES) {
    throw new LocalmError('corrupt_model', `${location}: ${MANIFEST_FILE} has ${bytes.length} bytes, over the ${MAX_MANIFEST_BYTES} a manifest may have`);
  }
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes));
  } catch (cause) {
    throw new LocalmError('corrupt_model', `${location}: ${MANIFEST_FILE} is not JSON`, { cause });
  }
  const bad = (why: string): LocalmError => new LocalmError('corrupt_model', `${location}: ${MANIFEST_FILE} ${why}`);
  const manifest = json as Partial<ManifestJson> | null;
  if (typeof manifest !== 'object' || manifest === null || manifest.version !== 1) throw bad('needs "version": 1');
  if (!Array.isArray(manifest.files) || manifest.files.length === 0) throw bad('needs a non-empty "files" list');
  if (manifest.files.length > MAX_MANIFEST_FILES) throw bad(`lists ${manifest.files.length} files, over the ${MAX_MANIFEST_FILES} a model may have`);
  const seen = new Set<string>();
  return manifest.files.map((entry: unknown, i) => {
    const file = entry as Partial<ManifestJson['files'][number]> | null;
    if (typeof file !== 'object' || file === null || typeof file.path !== 'string') throw bad(`files[${i}] needs a "path"`);
    try {
      checkRelativePath(file.path, `files[${i}]`);
    } catch (cause) {
      throw bad(`files[${i}]: '${file.path}' is not a relative path inside the model folder`);
    }
    if (seen.has(file.path)) throw bad(`lists ${file.path} twice`);
    seen.add(file.path);
    if (!Number.isSafeInteger(file.size) || (file.size as number) < 0) throw bad(`files[${i}] (${file.path}) needs a "size" in bytes`);
    if (file.sha256 !== undefined && (typeof file.sha256 !== 'string' || !SHA256.test(file.sha256.toLowerCase()))) {
      throw bad(`files[${i}] (${file.path}): "sha256" must be 64 hex digits`);
    }
    return { path: file.path, sizeBytes: file.size as number, ...(file.sha256 ? { sha256: file.sha256.toLowerCase() } : {}) };
  });
}

/**
 * Applies the caller's pinned digests (path → hex) over the manifest's. A pin for a file the model does
 * not have is `invalid_argument`: a typo must not turn into an unchecked file.
 */
export function applyPins(files: ModelFile[], pins: Readonly<Record<string, string>> | undefined): ModelFile[] {
  if (!pins) return files;
  const byPath = new Map(files.map((f) => [f.path, f]));
  for (const [path, digest] of Object.entries(pins)) {
    if (typeof digest !== 'string' || !SHA256.test(digest.toLowerCase())) {
      throw new LocalmError('invalid_argument', `sha256 pin for ${path} must be 64 hex digits, got '${String(digest)}'`);
    }
    if (!byPath.has(path)) {
      throw new LocalmError('invalid_argument', `sha256 pin for ${path}, which the model does not have (files: ${[...byPath.keys()].join(', ')})`);
    }
  }
  return files.map((f) => (pins[f.path] === undefined ? f : { ...f, sha256: pins[f.path]!.toLowerCase() }));
}
