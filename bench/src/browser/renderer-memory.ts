// The memory high-water marks of a Chromium's processes, found through the DevTools protocol
// (SystemInfo.getProcessInfo gives each process's type and pid) and read from /proc/PID/status (VmHWM:
// peak resident set). Linux only; elsewhere undefined.

import { readFileSync } from 'node:fs';
import type { Browser } from 'playwright-core';

export interface ProcessPeaks {
  rendererPeakBytes: number; // the largest renderer's VmHWM: the page and its workers live there
  gpuPeakBytes: number; // the GPU process's VmHWM (WebGPU buffers, SwiftShader's copies)
  pids: number[];
  cpuSeconds: number; // CPU time of all of Chromium's live processes so far (not "other tenants")
}

function vmHwmBytes(pid: number): number | undefined {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

export async function processPeaks(browser: Browser): Promise<ProcessPeaks | undefined> {
  const cdp = await browser.newBrowserCDPSession();
  try {
    const { processInfo } = (await cdp.send('SystemInfo.getProcessInfo')) as { processInfo: { type: string; id: number; cpuTime: number }[] };
    const peak = (type: string): number => Math.max(0, ...processInfo.filter((p) => p.type === type).map((p) => vmHwmBytes(p.id) ?? 0));
    const rendererPeakBytes = peak('renderer');
    if (rendererPeakBytes === 0) return undefined;
    const cpuSeconds = processInfo.reduce((sum, p) => sum + p.cpuTime, 0);
    return { rendererPeakBytes, gpuPeakBytes: peak('GPU'), pids: processInfo.map((p) => p.id), cpuSeconds };
  } finally {
    await cdp.detach();
  }
}
