// Synthetic presets, generated in the browser from a seed (@localm/convert/synth) into the origin's
// private file system (OPFS), streamed a slice of rows at a time: a user learns whether an 8B model fits
// without downloading it. Generated once per preset, dtype and seed; later runs read the same folder.
import { plannedSynthBytes, SYNTH_PRESETS } from '@localm/convert/synth';
import type { ModelInput } from './model-input.js';

export const SYNTH_SEED = 1;
/** Written after the last file, so a folder left by a stopped generation is never taken as complete. */
export const COMPLETE_MARKER = 'localm-bench-complete.json';

/** Real-model presets first, smallest first; the test presets last. */
export function synthPresetNames(): string[] {
  const names = Object.keys(SYNTH_PRESETS);
  const params = (n: string): number => { const s = SYNTH_PRESETS[n]!.shape; return s.numLayers * s.hiddenSize * (s.intermediateSize + s.hiddenSize) + s.vocabSize * s.hiddenSize; };
  return names.sort((a, b) => Number(a.startsWith('tiny')) - Number(b.startsWith('tiny')) || params(a) - params(b));
}

export const synthFolderName = (preset: string, dtype: string): string => `localm-bench-${preset}-${dtype}-seed${SYNTH_SEED}`;

async function isComplete(dir: string): Promise<boolean> {
  try {
    const root = await navigator.storage.getDirectory();
    await (await root.getDirectoryHandle(dir)).getFileHandle(COMPLETE_MARKER);
    return true;
  } catch {
    return false;
  }
}

/** The preset as a model: config.json's planner fields as synthesizeModel will write them (hf-config.ts). */
export async function presetInput(preset: string, dtype: string): Promise<ModelInput & { needsSynth: boolean }> {
  const p = SYNTH_PRESETS[preset];
  if (!p) throw new Error(`unknown preset ${preset}`);
  const s = p.shape;
  const isQuantized = dtype === 'q4' || dtype === 'q8';
  const dir = synthFolderName(preset, dtype);
  const needsSynth = !(await isComplete(dir));
  const totalBytes = plannedSynthBytes(preset, dtype);
  return {
    source: { kind: 'opfs', dir },
    name: `${preset}-${dtype}`,
    location: `synth:${preset}/${dtype}/seed${SYNTH_SEED} (OPFS ${dir})`,
    config: {
      hidden_size: s.hiddenSize, intermediate_size: s.intermediateSize, num_hidden_layers: s.numLayers, num_attention_heads: s.numHeads,
      num_key_value_heads: s.numKvHeads, head_dim: s.headDim, vocab_size: s.vocabSize, max_position_embeddings: s.maxPositions,
      tie_word_embeddings: s.tiedEmbeddings, attention_bias: s.attentionBias === true, bos_token_id: p.bosTokenId, eos_token_id: p.eosTokenId,
      localm: { dtype, quantized_embedding: isQuantized ? s.hiddenSize % 32 === 0 : dtype === 'fp16' },
    },
    weightBytes: totalBytes, // replaced by the written files' sizes once generated
    storeBytes: needsSynth ? totalBytes : 0,
    needsSynth,
  };
}

/** onnx/model.onnx + onnx/model.onnx_data as written, the weightBytes of a generated preset. */
export async function opfsWeightBytes(dir: string): Promise<number> {
  const onnx = await (await navigator.storage.getDirectory()).getDirectoryHandle(dir).then((d) => d.getDirectoryHandle('onnx'));
  const size = async (name: string): Promise<number> => (await (await onnx.getFileHandle(name)).getFile()).size;
  return (await size('model.onnx')) + (await size('model.onnx_data'));
}
