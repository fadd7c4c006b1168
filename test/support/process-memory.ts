/**
 * Memory and descriptors of another process as the kernel sees them (Linux /proc), for checks that
 * must not depend on the garbage collector of the test process.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** VmRSS of a /proc/<pid>/status text, in bytes. */
export function parseVmRss(status: string): number {
  const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  if (!m) throw new Error('no VmRSS line in the process status');
  return Number(m[1]) * 1024;
}

/** Resident set size of a running process, in bytes. */
export function residentBytes(pid: number): number {
  return parseVmRss(readFileSync(`/proc/${pid}/status`, 'utf8'));
}

/** Open file descriptors (sockets, files, pipes) of a running process. */
export function openDescriptors(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/**
 * CPU time of a process's main thread (a Node process's event loop) and the time it
 * spent runnable but waiting for a CPU, in seconds (/proc/<pid>/schedstat). The second
 * shows a thread starved by others on a busy host.
 */
export function schedulerSeconds(pid: number): { onCpu: number; waiting: number } {
  const [onCpu = '0', waiting = '0'] = readFileSync(`/proc/${pid}/schedstat`, 'utf8').trim().split(/\s+/);
  return { onCpu: Number(onCpu) / 1e9, waiting: Number(waiting) / 1e9 };
}
