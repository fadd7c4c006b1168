/**
 * A test peer (Kamailio, sipp) run as the leader of its own process group, so stopping
 * it also ends every worker it forked. Output goes straight to a log file (no pipes to
 * drain). Groups still alive when the test process exits (or is interrupted) are
 * killed on the way out; peers and temp dirs a killed run could not clean up are
 * removed by the next run's first start.
 */
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TEMP_DIR_PATTERN } from './fixtures';

export interface PeerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface PeerStartOptions {
  logFile: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

const liveGroups = new Set<number>();
const allGroups: number[] = [];
let exitHookInstalled = false;

export class PeerProcess {
  readonly pid: number;
  /** Resolves when the group leader has exited. */
  readonly exited: Promise<PeerExit>;
  private exitInfo: PeerExit | undefined;

  private constructor(child: ChildProcess, readonly command: string) {
    if (child.pid === undefined) throw new Error(`${command} did not start`);
    this.pid = child.pid;
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        resolve(this.exitInfo);
      });
    });
  }

  static start(command: string, args: readonly string[], options: PeerStartOptions): PeerProcess {
    installExitHook();
    const logFd = fs.openSync(options.logFile, 'a');
    try {
      const child = spawn(command, args, {
        cwd: options.cwd,
        env: options.env ?? process.env,
        detached: true, // own process group: kill(-pid) reaches every worker
        stdio: ['ignore', logFd, logFd],
      });
      child.once('error', () => undefined); // reported through `exited` (code null) and the log
      const peer = new PeerProcess(child, command);
      liveGroups.add(peer.pid);
      allGroups.push(peer.pid);
      void peer.exited.then(() => {
        if (livingGroupMembers(peer.pid).length === 0) liveGroups.delete(peer.pid);
      });
      return peer;
    } finally {
      fs.closeSync(logFd);
    }
  }

  get running(): boolean {
    return this.exitInfo === undefined;
  }

  get exitStatus(): PeerExit | undefined {
    return this.exitInfo;
  }

  /** Sends `signal` to the whole group. */
  signal(signal: NodeJS.Signals): void {
    signalGroup(this.pid, signal);
  }

  /**
   * Stops the group: `signal` first, SIGKILL after `graceMs`; resolves once the leader
   * and every (non-zombie) member are gone, or throws after `graceMs` more.
   */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 5000): Promise<PeerExit> {
    signalGroup(this.pid, signal);
    if (!(await waitUntil(() => !this.running && livingGroupMembers(this.pid).length === 0, graceMs))) {
      signalGroup(this.pid, 'SIGKILL');
      if (!(await waitUntil(() => !this.running && livingGroupMembers(this.pid).length === 0, graceMs))) {
        throw new Error(`${this.command} (pgid ${this.pid}) survived SIGKILL: ${livingGroupMembers(this.pid).join(',')}`);
      }
    }
    liveGroups.delete(this.pid);
    return this.exitInfo ?? { code: null, signal: null };
  }
}

/** Process group ids of every peer this process ever started, oldest first. */
export function startedProcessGroups(): readonly number[] {
  return allGroups;
}

/**
 * Processes still alive in the given groups, as pgrep lists them ("pid name"); empty
 * when every peer is gone. Tests call it in after() for the groups they started.
 */
export function strayPeerProcesses(groups: readonly number[]): string[] {
  if (groups.length === 0) return [];
  const result = spawnSync('pgrep', ['-a', '-g', groups.join(',')], { encoding: 'utf8', timeout: 5000 });
  if (result.status === 1) return []; // pgrep: nothing matched
  if (result.status !== 0) throw new Error(`pgrep failed: ${result.stderr || result.error?.message}`);
  // pgrep also lists zombies (exited, not yet reaped by init): they are not running.
  return result.stdout.split('\n').filter((line) => line.trim() !== '')
    .filter((line) => {
      const stat = readProcStat(line.split(' ')[0]);
      return stat !== undefined && stat.state !== 'Z';
    });
}

/** Pids in process group `pgid` that are not zombies (read from /proc). */
export function livingGroupMembers(pgid: number): number[] {
  const members: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readProcStat(entry);
    if (stat && stat.pgrp === pgid && stat.state !== 'Z' && stat.state !== 'X') members.push(Number(entry));
  }
  return members;
}

/** Resolves true as soon as `condition()` holds, false after `timeoutMs`. */
export async function waitUntil(condition: () => boolean | Promise<boolean>, timeoutMs: number, pollMs = 50): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

/** Last `lines` lines of a text file ('' when unreadable); reads at most the last 64 kB. */
export function fileTail(file: string, lines = 40): string {
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const size = fs.fstatSync(fd).size;
      const length = Math.min(size, 64 * 1024);
      const buffer = Buffer.alloc(length);
      fs.readSync(fd, buffer, 0, length, size - length);
      return buffer.toString('utf8').split('\n').slice(-lines - 1).join('\n');
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return '';
  }
}

function readProcStat(pid: string): { state: string; pgrp: number } | undefined {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) state ppid pgrp ..." — comm may contain spaces and parentheses.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0], pgrp: Number(fields[2]) };
  } catch {
    return undefined; // exited while we looked
  }
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // group already gone
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  sweepOrphans();
  const killAll = () => {
    for (const pgid of liveGroups) signalGroup(pgid, 'SIGKILL');
  };
  process.once('exit', killAll);
  // A signal's default action skips 'exit' handlers: kill first, then let the signal
  // do what it would have done (unless someone else, e.g. mocha, handles it).
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      killAll();
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    });
  }
}

/**
 * Kills peers whose temp dir belongs to a test process that no longer exists (found by
 * the dir name in their command line), and removes such dirs.
 */
export function sweepOrphans(): void {
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const owner = ownerOfCommandLine(entry);
    if (owner !== undefined && !processExists(owner)) {
      const stat = readProcStat(entry);
      if (stat) signalGroup(stat.pgrp, 'SIGKILL');
    }
  }
  for (const name of fs.readdirSync(os.tmpdir())) {
    const dir = path.join(os.tmpdir(), name);
    const owner = TEMP_DIR_PATTERN.exec(dir)?.[1];
    if (owner !== undefined && !processExists(Number(owner))) fs.rmSync(dir, { recursive: true, force: true });
  }
}

function ownerOfCommandLine(pid: string): number | undefined {
  try {
    const owner = TEMP_DIR_PATTERN.exec(fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8'))?.[1];
    return owner === undefined ? undefined : Number(owner);
  } catch {
    return undefined;
  }
}

export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
