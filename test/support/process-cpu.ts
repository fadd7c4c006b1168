/**
 * CPU time of another process as the kernel accounts it (Linux /proc), so a figure
 * covers everything that process did, not only what it chooses to report.
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
