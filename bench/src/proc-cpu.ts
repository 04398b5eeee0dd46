// CPU time used by other processes while we measure: the machine's busy time from /proc/stat minus
// this process's own (all threads) from /proc/self/stat. Linux only; elsewhere it reports undefined.

import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

const TICKS_PER_SECOND = 100; // USER_HZ, 100 on every Linux ABI Node runs on

interface CpuSample {
  busyTicks: number; // all CPUs: user + nice + system + irq + softirq + steal
  ownTicks: number; // this process and its finished children: utime + stime, every thread
  atMs: number;
}

function sample(): CpuSample | undefined {
  try {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = cpu;
    // /proc/self/stat: the command name is in parentheses and may hold spaces; fields follow the last ')'.
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14-17 of the whole line: utime, stime, and the same for children we waited for (our
    // bench's own run processes are not 'other processes').
    const own = [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i]), 0);
    return { busyTicks: user + nice + system + irq + softirq + steal, ownTicks: own, atMs: performance.now() };
  } catch {
    return undefined;
  }
}

export interface ForeignCpu {
  foreignCpuSeconds: number; // CPU time others used during the interval
  ownCpuSeconds: number;
  wallSeconds: number;
  foreignCores: number; // foreignCpuSeconds / wallSeconds: how many cores others kept busy on average
  cores: number;
}

/**
 * Starts a measurement; the returned function ends it.
 * @example
 * const stop = startForeignCpu(); await work(); const { foreignCores } = stop() ?? {};
 */
export function startForeignCpu(): () => ForeignCpu | undefined {
  const start = sample();
  return () => {
    const end = sample();
    if (!start || !end) return undefined;
    const wallSeconds = (end.atMs - start.atMs) / 1000;
    const foreignCpuSeconds = Math.max(0, end.busyTicks - start.busyTicks - (end.ownTicks - start.ownTicks)) / TICKS_PER_SECOND;
    return {
      foreignCpuSeconds,
      ownCpuSeconds: (end.ownTicks - start.ownTicks) / TICKS_PER_SECOND,
      wallSeconds,
      foreignCores: wallSeconds > 0 ? foreignCpuSeconds / wallSeconds : 0,
      cores: availableParallelism(),
    };
  };
}
