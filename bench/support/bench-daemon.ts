/**
 * The daemon under benchmark: the compiled daemon as a process (test/support/daemon),
 * logging at level 2 (info: failures only, successful replies are debug), stopped
 * with SIGTERM by the run's Teardown, and its start-up restore time read from its log.
 */
import { startDaemon, type DaemonOptions, type RunningDaemon } from '../../test/support/daemon';
import type { Teardown } from './teardown';

export const BENCH_LOG_LEVEL = 2;

/** Starts the daemon; `stop` ends it early (SIGTERM, SIGKILL after 30 s). */
export async function startBenchDaemon(options: DaemonOptions, teardown: Teardown): Promise<{ daemon: RunningDaemon; stop: () => Promise<void> }> {
  const daemon = await startDaemon({ logLevel: BENCH_LOG_LEVEL, ...options });
  const stop = teardown.add(`stop daemon ${daemon.process.pid}`, () => stopDaemon(daemon));
  return { daemon, stop };
}

/** SIGTERM and wait (bounded); SIGKILL if it does not go. Returns how long it took, ms. */
export async function stopDaemon(daemon: RunningDaemon, graceMs = 30_000): Promise<number> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), graceMs)));
  const outcome = await Promise.race([daemon.stop(), late]);
  clearTimeout(timer);
  if (outcome === 'late') {
    process.stderr.write(`daemon ${daemon.process.pid} ignored SIGTERM for ${graceMs} ms: SIGKILL\n`);
    await daemon.kill();
  }
  return performance.now() - started;
}

export interface RestoreReport {
  registrations: number;
  ms: number;
}

const LOADED = /loaded (\d+) registrations in (\d+) ms/;

/** Waits for the daemon's "loaded N registrations in X ms" line and returns N and X. */
export async function restoreReport(daemon: RunningDaemon, timeoutMs: number): Promise<RestoreReport> {
  await daemon.waitForLog(LOADED, timeoutMs);
  const match = LOADED.exec(daemon.log());
  if (!match) throw new Error('restore line vanished from the log');
  return { registrations: Number(match[1]), ms: Number(match[2]) };
}
