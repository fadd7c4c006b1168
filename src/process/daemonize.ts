/**
 * Daemon mode (fork=yes without -E). As in SEMS (sipwise), the process started by the
 * operator or the init script waits until the background process reports that it is
 * running, or why it could not start, and exits 0 or 1 accordingly: a start that fails
 * on the database or a taken port is a failed start, not a silent exit 0.
 */
import { spawn } from 'node:child_process';
import type { EventEmitter } from 'node:events';

/** Set in the background process so it does not detach again. */
const DAEMONIZED_ENV = 'DB_REG_AGENT_DAEMONIZED';
/**
 * Start-up (database check, account load, sockets) takes seconds even for large account
 * tables; a background process that has not reported by then is stopped and the start failed.
 */
export const START_REPORT_TIMEOUT_MS = 120_000;

type StartReport = { running: true } | { failed: string };
export type StartVerdict = { ok: true } | { ok: false; message: string };

/** The parts of a ChildProcess the wait uses (a plain EventEmitter in tests). */
export interface ReportingChild extends EventEmitter {
  readonly pid?: number;
  kill(signal?: NodeJS.Signals): boolean;
}

export function isBackgroundProcess(): boolean {
  return process.env[DAEMONIZED_ENV] === '1';
}

/**
 * Starts this program again in the background and exits with its start-up verdict.
 * `keepStderr` (stderr=yes): the background process logs to our stderr instead of nowhere.
 */
export async function detach(keepStderr: boolean): Promise<never> {
  // node's own options too (e.g. --heap-growing-percent): the background process is the daemon.
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    detached: true,
    stdio: ['ignore', 'ignore', keepStderr ? 'inherit' : 'ignore', 'ipc'],
    env: { ...process.env, [DAEMONIZED_ENV]: '1' },
  });
  const verdict = await waitForStartReport(child, START_REPORT_TIMEOUT_MS);
  if (!verdict.ok) process.stderr.write(`db-reg-agent: ${verdict.message}\n`);
  process.exit(verdict.ok ? 0 : 1);
}

/** Resolves with the first of: the child's report, its exit, a spawn error, the deadline. */
export function waitForStartReport(child: ReportingChild, timeoutMs: number): Promise<StartVerdict> {
  return new Promise((resolve) => {
    const done = (verdict: StartVerdict): void => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      child.off('error', onError);
      resolve(verdict);
    };
    const onMessage = (report: StartReport): void => {
      done('running' in report ? { ok: true } : { ok: false, message: report.failed });
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
      const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
      done({ ok: false, message: `the background process ${how} before it was running (see its log)` });
    };
    const onError = (err: Error): void => done({ ok: false, message: `cannot start the background process: ${err.message}` });
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      done({ ok: false, message: `the background process (pid ${child.pid}) did not report within ${timeoutMs / 1000} s that it is running; stopped it` });
    }, timeoutMs);
    child.on('message', onMessage);
    child.on('exit', onExit);
    child.on('error', onError);
  });
}

/** In the background process: start-up is done; the waiting parent may exit 0. */
export function reportRunning(): Promise<void> {
  return report({ running: true });
}

/** In the background process: the one line the waiting parent prints before it exits 1. */
export function reportStartFailure(message: string): Promise<void> {
  return report({ failed: message });
}

/** Resolves once the report is on its way (or there is no parent waiting), then lets the parent go. */
function report(message: StartReport): Promise<void> {
  if (!process.send || !process.connected) return Promise.resolve();
  return new Promise((resolve) => {
    process.send?.(message, undefined, {}, () => {
      if (process.connected) process.disconnect();
      resolve();
    });
  });
}
