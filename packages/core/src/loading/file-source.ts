// A model folder the user picked: File objects from <input type="file" webkitdirectory> (paths in
// webkitRelativePath), from a multi-file pick (names only), or made by the caller
// (`new File([blob], 'onnx/model.onnx')`). Finds the folder by its config.json; reads nothing else.

import { LocalmError } from '@localm/errors';

export interface PickedFiles {
  readonly location: string;
  read(name: string): Promise<Uint8Array | undefined>;
  /** Parts of a file through Blob.slice, so a multi-gigabyte file is never one buffer. */
  openRanges(name: string): Promise<{ size: number; read(offset: number, target: Uint8Array): Promise<void>; close(): Promise<void> } | undefined>;
}

const pathOf = (file: File): string => ((file as { webkitRelativePath?: string }).webkitRelativePath || file.name).replace(/\\/g, '/').replace(/^\/+/, '');
const baseName = (path: string): string => path.slice(path.lastIndexOf('/') + 1);

/** Reads a model folder from picked files. Throws `not_found` when none of them is a config.json. */
export function openPickedFiles(picked: ArrayLike<File>): PickedFiles {
  const files = Array.from(picked);
  if (files.some((f) => typeof f?.arrayBuffer !== 'function' || typeof f.name !== 'string')) {
    throw new LocalmError('invalid_argument', 'a model source list must hold File objects (from a file picker, or new File([blob], path))');
  }
  // The shallowest config.json marks the model folder (a picked parent folder may hold several models: take the top one).
  const configs = files.map(pathOf).filter((p) => baseName(p) === 'config.json').sort((a, b) => a.split('/').length - b.split('/').length);
  const config = configs[0];
  if (config === undefined) {
    throw new LocalmError('not_found', `none of the ${files.length} picked files is a config.json: pick the model folder (the one that holds config.json and onnx/)`);
  }
  const root = config.slice(0, config.length - 'config.json'.length); // '' or 'folder/'
  const byPath = new Map<string, File>();
  for (const file of files) {
    const path = pathOf(file);
    if (path.startsWith(root)) byPath.set(path.slice(root.length), file);
  }
  const find = (name: string): File | undefined => {
    const exact = byPath.get(name);
    if (exact) return exact;
    // Files picked one by one have no folders: accept onnx/model.onnx as model.onnx when only one file has that name.
    const same = [...byPath.entries()].filter(([path]) => !path.includes('/') && path === baseName(name));
    return same.length === 1 ? same[0]![1] : undefined;
  };
  return {
    location: `picked files${root ? ` (${root.replace(/\/$/, '')})` : ''}`,
    async read(name) {
      const file = find(name);
      if (!file) return undefined;
      try {
        return new Uint8Array(await file.arrayBuffer());
      } catch (cause) {
        // A File whose underlying file changed or vanished since the pick (NotReadableError).
        throw new LocalmError('not_found', `cannot read the picked file ${name}: ${String(cause)}; pick the folder again`, { cause });
      }
    },
    async openRanges(name) {
      const file = find(name);
      if (!file) return undefined;
      return {
        size: file.size,
        async read(offset, target) {
          if (offset + target.byteLength > file.size) {
            throw new LocalmError('corrupt_model', `the picked file ${name} is ${file.size} bytes; a tensor needs ${offset + target.byteLength}`);
          }
          try {
            target.set(new Uint8Array(await file.slice(offset, offset + target.byteLength).arrayBuffer()));
          } catch (cause) {
            throw new LocalmError('not_found', `cannot read the picked file ${name}: ${String(cause)}; pick the folder again`, { cause });
          }
        },
        close: async () => undefined,
      };
    },
  };
}
