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

export interface WaitForActiveOptions {
  /** Give up when the ACTIVE count has not grown for this long. */
  stallMs: number;
  /** Give up after this long in any case. */
  timeoutMs: number;
  pollMs?: number;
  /** Checked on every poll, e.g. that the daemon still runs; throw to abort. */
  check?: () => void;
  /** Called about every 5 s with the counts, for a progress line. */
  progress?: (counts: StatusCounts) => void;
}

/** Polls until `expected` rows are ACTIVE; resolves with the last counts either way. */
export async function waitForAllActive(db: TestDatabase, expected: number, options: WaitForActiveOptions): Promise<StatusCounts & { complete: boolean }> {
  const started = Date.now();
  let lastGrowth = started;
  let lastProgress = started;
  let counts = await statusCounts(db);
  while (counts.active < expected) {
    const now = Date.now();
    if (now - lastGrowth > options.stallMs || now - started > options.timeoutMs) return { ...counts, complete: false };
    options.check?.();
    if (options.progress && now - lastProgress >= 5000) {
      lastProgress = now;
      options.progress(counts);
    }
    await sleep(options.pollMs ?? 250);
    const next = await statusCounts(db);
    if (next.active > counts.active) lastGrowth = Date.now();
    counts = next;
  }
  return { ...counts, complete: true };
}
