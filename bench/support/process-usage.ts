/**
 * CPU time and memory of another process as the kernel accounts them (/proc), so the
 * figures cover everything the daemon did, not only what it chooses to report.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let ticksPerSecond: number | undefined;

/** The kernel's clock tick (USER_HZ), the unit of utime/stime in /proc/<pid>/stat. */
export function clockTicksPerSecond(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8', timeout: 5000 }).trim()) || 100;
    } catch {
      ticksPerSecond = 100; // USER_HZ on every mainstream Linux build
    }
  }
  return ticksPerSecond;
}

/** utime + stime of `pid` in seconds (user and kernel time, this process only). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // "pid (comm) state ..." — comm may contain spaces; fields count from after ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return (utime + stime) / clockTicksPerSecond();
}

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
