// Where the writers put a model folder's files: a small interface that node:fs (node-sink.ts) and the
// browser's OPFS (opfs-sink.ts) both implement, so the ONNX, GGUF and synth writers never import node:.

/**
 * Receives a model folder's files. Paths are relative to the model root, '/'-separated
 * (`config.json`, `onnx/model.onnx`); the sink creates folders as needed and replaces existing files.
 * @example
 * const sink: ModelSink = nodeSink('/tmp/model'); // or opfsSink(await navigator.storage.getDirectory())
 * await sink.writeText('config.json', '{}\n');
 */
export interface ModelSink {
  writeText(path: string, text: string): Promise<void>;
  /** Opens `path` empty for positional writes. */
  openBinary(path: string): Promise<BinaryWriter>;
}

/**
 * One binary file being written. Writes may come in any order and start past the current end; the
 * writers here write every byte of the file (padding too), so a sink never has to zero-fill a gap.
 */
export interface BinaryWriter {
  write(bytes: Uint8Array, position: number): Promise<void>; // position: bytes from the start of the file
  close(): Promise<void>;
}
