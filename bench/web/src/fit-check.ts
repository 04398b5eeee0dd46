// Before a run: does the planner say the model fits the memory budget, and do its files fit the storage
// quota where they must be stored? A refusal carries the reason the page shows.
import { planMemory, type MemoryPlan, type PlannerConfig } from '../../src/planner.js';
import type { BenchDevice } from './protocol.js';

export interface FitCheck {
  plan: MemoryPlan;
  refusal: string | undefined;
  note: string; // what was compared, for the status line
}

const mb = (b: number): string => `${(b / 1e6).toFixed(0)} MB`;

export function checkFit(
  config: PlannerConfig,
  device: BenchDevice,
  use: { promptTokens: number; genTokens: number; budgetBytes: number | undefined; budgetSource: string; storeBytes: number; freeStorageBytes: number | undefined },
): FitCheck {
  // The planner is calibrated for the CPU devices; on webgpu the weights sit in GPU memory, which on
  // phones and laptops is the same RAM: wasm's figure is the closer of the two. TODO(#9): calibrate webgpu.
  const plan = planMemory(config, 'wasm', { promptTokens: use.promptTokens, contextTokens: use.promptTokens + use.genTokens, host: 'browser' });
  const notes = [`planner: ${mb(plan.totalBytes)} (weights ${mb(plan.weightBytes)}, KV ${mb(plan.kvCacheBytes)}, activations ${mb(plan.activationBytes)}, runtime ${mb(plan.runtimeBytes)})${device === 'webgpu' ? ' with the wasm calibration' : ''}`];
  let refusal: string | undefined;
  if (use.budgetBytes !== undefined) {
    notes.push(`budget ${mb(use.budgetBytes)} (${use.budgetSource})`);
    if (plan.totalBytes > use.budgetBytes) {
      refusal = `does not fit: the planner predicts ${mb(plan.totalBytes)} on ${device} (weights ${mb(plan.weightBytes)} + KV cache ${mb(plan.kvCacheBytes)} + activations ${mb(plan.activationBytes)} + runtime ${mb(plan.runtimeBytes)}), over the ${mb(use.budgetBytes)} budget (${use.budgetSource})`;
    }
  } else notes.push('no memory budget known (navigator.deviceMemory missing and none set): not checked');
  if (!refusal && use.storeBytes > 0 && use.freeStorageBytes !== undefined && use.storeBytes > use.freeStorageBytes) {
    refusal = `does not fit in storage: the model's files need ${mb(use.storeBytes)}, the origin's quota leaves ${mb(use.freeStorageBytes)}`;
  }
  return { plan, refusal, note: notes.join('; ') };
}
