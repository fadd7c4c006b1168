/**
 * Start-up's patience with the database: the start-up reads (the check, the account
 * load) are repeated with backoff while the database is unreachable, instead of
 * failing the start or hanging on it. A service manager may start the daemon before
 * MariaDB listens, and a database may freeze during the load.
 *
 * One ERROR line when an outage begins (naming the server and the error), one INFO
 * line when the database answers again; the attempts in between log at debug level.
 * Errors that waiting cannot cure (bad SQL, a refused login, an unknown database: the
 * configuration is wrong) end the start at once, as do the bound and a stop.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { logger } from '../process/log';
import { describeDbError, isTransientDbError } from './db-errors';

export interface DatabaseWaitOptions {
  /** host:port or the socket path, for the log lines. */
  where: string;
  /** Give up once the database has been unreachable this long; 0: wait as long as it takes. */
  giveUpAfterMs: number;
  /** Pause between attempts: first, doubling up to max. */
  delayMs?: { initial: number; max: number };
  /** Aborted by a stop during the start: the wait ends with StartInterrupted. */
  signal?: AbortSignal;
  monotonicNow?: () => number;
}

/** The start was stopped (SIGTERM) while it waited for the database. */
export class StartInterrupted extends Error {
  constructor() {
    super('stopped while waiting for the database');
    this.name = 'StartInterrupted';
  }
}

/** The database stayed unreachable for the whole bound. */
export class DatabaseUnavailable extends Error {}

const log = logger('db');
/** 1 s doubling to 30 s: a database that comes up is noticed soon, a long outage costs few attempts. */
const DEFAULT_DELAY_MS = { initial: 1000, max: 30_000 };

/**
 * Login and database errors at connect time. mysql2 marks them fatal, which the status
 * writer waits out (db-errors.ts); at start they mean a wrong configuration.
 */
const CONFIGURATION_ERRNOS = new Set([
  1044, // ER_DBACCESS_DENIED_ERROR
  1045, // ER_ACCESS_DENIED_ERROR
  1049, // ER_BAD_DB_ERROR
  1698, // ER_ACCESS_DENIED_NO_PASSWORD_ERROR
]);

function isWorthWaitingFor(err: unknown): boolean {
  const errno = (err as { errno?: unknown } | null)?.errno;
  return isTransientDbError(err) && !(typeof errno === 'number' && CONFIGURATION_ERRNOS.has(errno));
}

export class DatabaseWait {
  private readonly delay: { initial: number; max: number };
  private readonly now: () => number;
  /** When the current outage began (monotonic ms); undefined while the database answers. */
  private outageSince?: number;
  private nextDelay: number;

  constructor(private readonly options: DatabaseWaitOptions) {
    this.delay = options.delayMs ?? DEFAULT_DELAY_MS;
    this.nextDelay = this.delay.initial;
    this.now = options.monotonicNow ?? (() => performance.now());
  }

  /**
   * Runs `attempt` until it succeeds. It must be safe to repeat after a failure
   * half-way (account-load.ts makes the load so). `what` names it in the log.
   */
  async run<T>(what: string, attempt: () => Promise<T>): Promise<T> {
    for (;;) {
      this.throwIfStopped();
      try {
        const result = await attempt();
        this.answered();
        return result;
      } catch (err) {
        this.throwIfStopped();
        if (!isWorthWaitingFor(err)) throw err;
        await this.pause(what, err);
      }
    }
  }

  private answered(): void {
    if (this.outageSince === undefined) return;
    const seconds = Math.round((this.now() - this.outageSince) / 1000);
    log.info(`database at ${this.options.where} answers again (unavailable for ${seconds} s); start-up goes on`);
    this.outageSince = undefined;
    this.nextDelay = this.delay.initial;
  }

  private async pause(what: string, err: unknown): Promise<void> {
    const now = this.now();
    const { giveUpAfterMs, where } = this.options;
    const bound = giveUpAfterMs > 0 ? `giving up after ${giveUpAfterMs / 1000} s (db_start_timeout)` : 'waiting as long as it takes (db_start_timeout=0)';
    if (this.outageSince === undefined) {
      this.outageSince = now;
      log.error(`database at ${where} unavailable at start-up (${what}): ${describeDbError(err)}; ` +
        `retrying every ${this.delay.initial / 1000} to ${this.delay.max / 1000} s, ${bound}`);
    } else {
      log.debug(`database at ${where} still unavailable (${what}): ${describeDbError(err)}`);
    }
    const left = giveUpAfterMs > 0 ? this.outageSince + giveUpAfterMs - now : Infinity;
    if (left <= 0) {
      throw new DatabaseUnavailable(`unavailable for ${giveUpAfterMs / 1000} s (db_start_timeout): ${describeDbError(err)}`, { cause: err });
    }
    const delay = Math.min(this.nextDelay, left);
    this.nextDelay = Math.min(this.delay.max, this.nextDelay * 2);
    // A stop ends the pause at once (AbortError); the loop then throws StartInterrupted.
    await sleep(delay, undefined, { signal: this.options.signal }).catch(() => undefined);
  }

  private throwIfStopped(): void {
    if (this.options.signal?.aborted) throw new StartInterrupted();
  }
}
