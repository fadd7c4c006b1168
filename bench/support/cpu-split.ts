/**
 * BENCH_CPU_SPLIT="<client cpus>:<registrar cpus>" (e.g. "0:1"): the client side (the
 * benchmark, and through it sipp and the daemon, which inherit its CPU affinity) runs
 * on one set of CPUs, the registrar side (Kamailio's processes and MariaDB) on the
 * other — as when the registrar is another host, so that the client's CPU no longer
 * takes the registrar's. MariaDB is the machine's own server: its affinity is put back
 * when the benchmark ends.
 */
import { spawnSync } from 'node:child_process';

export interface CpuSplit {
  client: string;
  registrar: string;
}

export function parseCpuSplit(name: string, text: string | undefined): CpuSplit | undefined {
  if (text === undefined) return undefined;
  const match = /^([\d,-]+):([\d,-]+)$/.exec(text);
  if (!match) throw new Error(`${name}=${text}: expected <client cpus>:<registrar cpus>, e.g. 0:1`);
  return { client: match[1] as string, registrar: match[2] as string };
}

function run(command: string, args: string[]): string {
  const result = spawnSync(command, args, { encoding: 'utf8', timeout: 5000 });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')}: ${result.stderr || result.error?.message || `exit ${result.status}`}`);
  return result.stdout;
}

/** Puts every thread of `pid` on `cpus`; threads it starts later inherit it. */
export function pinProcess(pid: number, cpus: string): void {
  run('taskset', ['-a', '-p', '-c', cpus, String(pid)]);
}

/** Every process of the group led by `pgid` (Kamailio's workers are forked at its start). */
export function pinProcessGroup(pgid: number, cpus: string): void {
  for (const pid of run('pgrep', ['-g', String(pgid)]).split('\n').filter(Boolean)) pinProcess(Number(pid), cpus);
}

/** The CPU list `pid` may run on now, e.g. "0,1". */
export function cpuListOf(pid: number): string {
  return run('taskset', ['-p', '-c', String(pid)]).split(':').pop()?.trim() ?? '';
}

/** MariaDB's server process on this machine. */
export function mariadbPid(): number {
  const pid = Number(run('pidof', ['mariadbd']).trim().split(/\s+/)[0]);
  if (!Number.isInteger(pid) || pid <= 0) throw new Error('mariadbd is not running');
  return pid;
}

/**
 * Applies the split to this process and MariaDB; returns what puts MariaDB back (also
 * run if the process exits without calling it). Kamailio is pinned per run (pinProcessGroup).
 */
export function applyCpuSplit(split: CpuSplit): () => void {
  pinProcess(process.pid, split.client);
  const database = mariadbPid();
  const before = cpuListOf(database);
  pinProcess(database, split.registrar);
  let restored = false;
  const restore = (): void => {
    if (restored) return;
    restored = true;
    pinProcess(database, before);
  };
  process.once('exit', restore);
  return restore;
}
