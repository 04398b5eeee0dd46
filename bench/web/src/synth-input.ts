// Synthetic presets generated in the browser from a seed into OPFS, so a size can be tried without a
// download. TODO(#9): wire @localm/convert/synth (synthesizeModel + opfsSink) in when it lands.
import type { ModelInput } from './model-input.js';

export function synthPresetNames(): string[] {
  return [];
}

export async function presetInput(preset: string, _dtype: string, _onProgress: (fraction: number, text: string) => void): Promise<ModelInput> {
  throw new Error(`synthetic preset ${preset}: not available in this build`);
}
