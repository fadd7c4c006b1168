/**
 * Signals and the orderly stop: SIGTERM and SIGINT stop the daemon with exit 0, an
 * uncaught exception with exit 1; a stop that overruns its limit is cut short.
 */
import { closeSyslog, logger } from './log';

const log = logger('main');
/** An orderly stop that takes longer than this is cut short (exit 1 unless already failing). */
export const STOP_TIMEOUT_MS = 10_000;

export interface Stoppable {
  stop(): Promise<void>;
}

/** The one stop of the process: later calls are ignored. `cleanUp` runs before exit either way. */
export type StopProcess = (why: string, code: number) => void;

export function orderlyStop(daemon: Stoppable, cleanUp: () => void): StopProcess {
  let stopping = false;
  return (why, code) => {
    if (stopping) return;
    stopping = true;
    log.info(`${why}: stopping`);
    const timer = setTimeout(() => {
      log.error(`orderly stop took longer than ${STOP_TIMEOUT_MS} ms; exiting`);
      cleanUp();
      process.exit(code || 1);
    }, STOP_TIMEOUT_MS);
    timer.unref();
    daemon
      .stop()
      .catch((err: Error) => log.error(`error while stopping: ${err.message}`))
      .finally(() => {
        cleanUp();
        log.info('stopped');
        // syslog lines still in the pipe to `logger` must not be lost.
        void closeSyslog().finally(() => process.exit(code));
      });
  };
}

/** SIGTERM / SIGINT → stop with 0; an uncaught exception is logged and stops with 1. */
export function handleSignals(stop: StopProcess): void {
  process.on('SIGTERM', () => stop('SIGTERM', 0));
  process.on('SIGINT', () => stop('SIGINT', 0));
  process.on('uncaughtException', (err) => {
    log.error(`internal error: ${err.stack ?? err.message}`);
    stop('internal error', 1);
  });
}
