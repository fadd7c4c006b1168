/**
 * The start-up load: every joined query read to the end, through the database's
 * outages (database-wait.ts).
 *
 * A read that fails half-way (the connection lost or stalled during the stream) is
 * read again from the start, and the rows an earlier attempt already handed over are
 * skipped: each account is restored once, none twice (a second REGISTER, a second
 * timer) and none lost. A key met a second time within one attempt is a duplicate
 * in the query, and passes as such (the engine logs it; the later row wins). Rows an
 * earlier attempt handed over stay even if the next reading no longer has them: they
 * were in the table when read, as the whole result is for a load that succeeds.
 */
import type { AccountQuery, AccountRow } from './account-row';
import { openAccountStream } from './account-source';
import type { DatabaseWait } from './database-wait';
import type { DbPool } from './pool';

export interface AccountLoadOptions {
  wait: DatabaseWait;
  /** Deadline for each wait on the server (account-source.ts). */
  replyTimeoutMs: number;
  monotonicNow: () => number;
  highWaterMark?: number;
}

/** Takes one row; `readAt`: monotonic time at which the row's times were relative to the DB's NOW(). */
export type RestoreRow = (row: AccountRow, readAt: number) => void;

export interface QueryLoad {
  query: AccountQuery;
  restored: number;
  /** Rows without a usable key. */
  skipped: number;
  /** Readings that failed and were repeated. */
  repeated: number;
}

/** Reads one query to its end, restoring each account once (see above). */
export async function loadAccountQuery(pool: DbPool, query: AccountQuery, restore: RestoreRow, options: AccountLoadOptions): Promise<QueryLoad> {
  /** Keys handed over by readings that then failed. */
  const earlier = new Set<number>();
  const load: QueryLoad = { query, restored: 0, skipped: 0, repeated: 0 };
  await options.wait.run(`reading '${query.configKey}'`, async () => {
    const stream = await openAccountStream(pool, query, {
      monotonicNow: options.monotonicNow, replyTimeoutMs: options.replyTimeoutMs, highWaterMark: options.highWaterMark,
    });
    const thisReading = new Set<number>();
    try {
      for await (const row of stream) {
        const again = earlier.has(row.id) && !thisReading.has(row.id);
        thisReading.add(row.id);
        if (again) continue;
        restore(row, stream.clock.monotonicMs);
        load.restored++;
      }
    } catch (err) {
      for (const id of thisReading) earlier.add(id);
      load.repeated++;
      throw err;
    }
    load.skipped = stream.skipped;
  });
  return load;
}
