// The model the user picked, as the bench needs it: a source for the worker, its config.json for the
// planner and the prompt, a name, the bytes of its weights, and the bytes it must store first.
import type { PlannerConfig } from '../../src/planner.js';
import type { RunSource } from './protocol.js';

export interface ModelInput {
  source: RunSource;
  name: string;
  location: string; // BenchResult.modelDir
  config: PlannerConfig & { bos_token_id?: number | number[]; eos_token_id?: number | number[] };
  weightBytes: number; // onnx/model.onnx + model.onnx_data
  storeBytes: number; // bytes written to origin storage before the run (synthetic presets); 0 otherwise
}

/** A model folder over HTTP: config.json fetched, weight sizes from HEAD. */
export async function urlInput(folderUrl: string): Promise<ModelInput> {
  const url = new URL(folderUrl.endsWith('/') ? folderUrl : `${folderUrl}/`, location.href).href;
  const response = await fetch(new URL('config.json', url));
  if (!response.ok) throw new Error(`${url}config.json: HTTP ${response.status} (is it a model folder in the Hugging Face ONNX layout?)`);
  const config = (await response.json()) as ModelInput['config'];
  const size = async (path: string): Promise<number> => {
    const head = await fetch(new URL(path, url), { method: 'HEAD' }).catch(() => undefined);
    return Number(head?.ok ? (head.headers.get('content-length') ?? 0) : 0);
  };
  const weightBytes = (await size('onnx/model.onnx')) + (await size('onnx/model.onnx_data'));
  const name = decodeURIComponent(new URL(url).pathname.split('/').filter(Boolean).pop() ?? 'model');
  return { source: { kind: 'url', url }, name, location: url, config, weightBytes, storeBytes: 0 };
}

/** A picked folder (<input webkitdirectory>): the shallowest config.json marks the model. */
export async function filesInput(list: FileList | File[]): Promise<ModelInput> {
  const files = Array.from(list);
  const path = (f: File): string => f.webkitRelativePath || f.name;
  const config = files.filter((f) => f.name === 'config.json').sort((a, b) => path(a).split('/').length - path(b).split('/').length)[0];
  if (!config) throw new Error('none of the picked files is config.json: pick the model folder (the one holding config.json and onnx/)');
  const root = path(config).slice(0, -'config.json'.length);
  const weightBytes = files.filter((f) => ['onnx/model.onnx', 'onnx/model.onnx_data'].includes(path(f).slice(root.length))).reduce((s, f) => s + f.size, 0);
  const name = root.replace(/\/$/, '').split('/').pop() || 'picked model';
  return { source: { kind: 'files', files }, name, location: `picked files (${name})`, config: JSON.parse(await config.text()) as ModelInput['config'], weightBytes, storeBytes: 0 };
}

/** BOS/EOS ids from config.json: kept out of prompts and outputs, as prompt.ts's readModelFacts does. */
export function specialIds(config: ModelInput['config']): number[] {
  const ids = [config.bos_token_id, config.eos_token_id].flat().filter((x): x is number => typeof x === 'number');
  return [...new Set(ids)];
}
