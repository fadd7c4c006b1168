/**
 * The registrations table as the operator sees it: how many rows are in each state,
 * and a poll (250 ms unless told) until every account is ACTIVE.
 */
import type { TestDatabase } from '../../test/support/mariadb';
import { sleep } from './time';

export interface StatusCounts {
  rows: number;
  active: number;
  failed: number;
}

export async function statusCounts(db: TestDatabase): Promise<StatusCounts> {
  const [row] = await db.query<{ rows: number; active: string | null; failed: string | null }>(
    'SELECT COUNT(*) AS `rows`, SUM(registration_status = 2) AS active, SUM(registration_status = 3) AS failed FROM registrations');
  return { rows: Number(row?.rows ?? 0), active: Number(row?.active ?? 0), failed: Number(row?.failed ?? 0) };
}

/** ACTIVE and FAILED accounts as some source sees them. */
export type ActiveCounts = Pick<StatusCounts, 'active' | 'failed'>;

export interface WaitForActiveOptions {
  /** Give up when the ACTIVE count has not grown for this long. */
  stallMs: number;
  /** Give up after this long in any case. */
  timeoutMs: number;
  pollMs?: number;
  /**
   * A cheaper count to wait on first, e.g. the daemon's own figures: the table is
   * scanned only once this shows every account ACTIVE. Each scan reads the whole table
   * (~25 ms of MariaDB CPU at 100 000 rows), and scanning it every poll would take CPU
   * from the run being measured.
   */
  precount?: () => Promise<ActiveCounts>;
  /** Checked on every poll, e.g. that the daemon still runs; throw to abort. */
  check?: () => void;
  /** Called about every 5 s with the latest counts, for a progress line. */
  progress?: (counts: ActiveCounts) => void;
}

/**
 * Polls until `expected` rows are ACTIVE in the table; resolves with the table's last
 * counts either way. With `precount`, polls that first and the table only after it.
 */
export async function waitForAllActive(db: TestDatabase, expected: number, options: WaitForActiveOptions): Promise<StatusCounts & { complete: boolean }> {
  const started = Date.now();
  let lastGrowth = started;
  let lastProgress = started;
  let best = -1;
  /** One poll's verdict: true to stop (every account ACTIVE, stalled, or out of time). */
  const done = (counts: ActiveCounts): boolean => {
    const now = Date.now();
    if (counts.active > best) {
      best = counts.active;
      lastGrowth = now;
    }
    if (counts.active >= expected) return true;
    if (now - lastGrowth > options.stallMs || now - started > options.timeoutMs) return true;
    options.check?.();
    if (options.progress && now - lastProgress >= 5000) {
      lastProgress = now;
      options.progress(counts);
    }
    return false;
  };
  /** Polls `count` until done; its last counts. */
  const pollUntilDone = async <T extends ActiveCounts>(count: () => Promise<T>): Promise<T> => {
    for (;;) {
      const counts = await count();
      if (done(counts)) return counts;
      await sleep(options.pollMs ?? 250);
    }
  };
  if (options.precount) await pollUntilDone(options.precount);
  const counts = await pollUntilDone(() => statusCounts(db));
  return { ...counts, complete: counts.active >= expected };
}
