/**
 * CPU time and memory of another process as the kernel accounts them (/proc), so the
 * figures cover everything the daemon did, not only what it chooses to report.
 */
import { readFileSync } from 'node:fs';
import { clockTicksPerSecond, cpuSeconds } from '../../test/support/process-cpu';

export { clockTicksPerSecond, cpuSeconds };

/** A `VmXxx:  123 kB` line of /proc/<pid>/status, in bytes. */
function statusKilobytes(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = new RegExp(`^${field}:\\s+(\\d+)\\s+kB$`, 'm').exec(status);
  if (!match) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}

/** Peak resident set size since the process started (VmHWM), in bytes. */
export function peakRssBytes(pid: number): number {
  return statusKilobytes(pid, 'VmHWM');
}

/** Current resident set size (VmRSS), in bytes. */
export function rssBytes(pid: number): number {
  return statusKilobytes(pid, 'VmRSS');
}

/** CPU used by `pid` while `work` runs, as a fraction of one core (1 = 100 %). */
export async function coreShareDuring(pid: number, work: () => Promise<void>): Promise<{ cpuSeconds: number; wallSeconds: number; share: number }> {
  const cpuBefore = cpuSeconds(pid);
  const started = performance.now();
  await work();
  const wallSeconds = (performance.now() - started) / 1000;
  const used = cpuSeconds(pid) - cpuBefore;
  return { cpuSeconds: used, wallSeconds, share: used / wallSeconds };
}

/**
 * utime + stime, in seconds, of this process's children that have exited and been
 * waited for (cutime + cstime of /proc/self/stat), their own waited-for children
 * included. The difference across one child's life is that child's CPU, which /proc
 * no longer shows once it has exited (sipp), provided no other child ended meanwhile.
 */
export function reapedChildrenCpuSeconds(): number {
  const ticks = clockTicksPerSecond(); // getconf first: it is a child too
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[13]) + Number(fields[14])) / ticks;
}
