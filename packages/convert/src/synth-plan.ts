// How many bytes a synthetic model folder will take, from the preset alone (no weights made): for a
// page's "does it fit the storage quota" check before it starts writing gigabytes.

import { LocalmError } from '@localm/errors';
import type { ConvertDtype } from './llama-graph.js';
import { llamaGgufBytes } from './llama-gguf.js';
import { llamaOnnxDataBytes } from './llama-onnx-plan.js';
import { SYNTH_PRESETS } from './synth-presets.js';
import { synthVocab } from './synth-tokenizer.js';

const DTYPES: readonly string[] = ['fp32', 'fp16', 'q8', 'q4'];
// Upper bounds for the small files, measured on every preset with room to spare: model.onnx takes
// 7-8 KB per layer, tokenizer.json 26-36 bytes per vocabulary entry, the other JSON files under 2 KB.
const ONNX_FIXED_BYTES = 16_384;
const ONNX_BYTES_PER_LAYER = 10_240;
const TOKENIZER_BYTES_PER_TOKEN = 48;
const JSON_FIXED_BYTES = 16_384;

/**
 * Bytes the folder `synthesizeModel` writes for `preset` and `dtype` will take: exact for the weights
 * (`onnx/model.onnx_data`; `model.gguf` with `gguf`, within the few bytes of the seed in its name) and an
 * upper bound for the small files: never below the truth, above it by about 1 % for the real presets.
 * @example
 * const { quota = 0, usage = 0 } = await navigator.storage.estimate();
 * const fits = plannedSynthBytes('llama-3.1-8b', 'q4') < quota - usage;
 */
export function plannedSynthBytes(preset: string, dtype: string, options: { gguf?: boolean; contextLength?: number } = {}): number {
  const p = SYNTH_PRESETS[preset];
  if (!p) throw new LocalmError('invalid_argument', `unknown preset '${preset}': expected one of ${Object.keys(SYNTH_PRESETS).join(', ')}`);
  if (!DTYPES.includes(dtype)) throw new LocalmError('invalid_argument', `dtype '${dtype}': expected one of ${DTYPES.join(', ')}`);
  const d = dtype as ConvertDtype;
  const shape = { ...p.shape, maxPositions: options.contextLength ?? p.shape.maxPositions };
  let bytes = llamaOnnxDataBytes(shape, d, { isEmbeddingQuantized: true });
  bytes += ONNX_FIXED_BYTES + ONNX_BYTES_PER_LAYER * shape.numLayers;
  bytes += JSON_FIXED_BYTES + TOKENIZER_BYTES_PER_TOKEN * shape.vocabSize;
  if (options.gguf === true) {
    const vocab = synthVocab({ ...p, vocabSize: shape.vocabSize });
    bytes += llamaGgufBytes(shape, { architecture: p.family, dtype: d, name: `localm-synth-${p.name}-seed4294967295`, vocab });
  }
  return bytes;
}
