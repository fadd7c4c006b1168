/**
 * The queue between the registration engine and the registrations table.
 *
 * - Order: an account has at most one write in flight; what arrives meanwhile waits.
 * - Coalescing: waiting operations of an account fold into one record
 *   (pending-write.ts). Bound: at most one queued record per account plus the
 *   records in flight (concurrency × batchSize), so the backlog is O(accounts)
 *   whatever the reply rate or the length of an outage.
 * - Throughput: records are written in batches of up to `batchSize` accounts, one
 *   transaction each. One batch is in flight while the queue is shorter than a
 *   batch, so records arriving during its round trip go together in the next, and a
 *   batch short of full waits until `lingerMs` after the previous short one began (a
 *   single record when the writer is idle is written at once): a statement costs far
 *   more than a row, on both sides. A backlog of full batches gets up to
 *   `concurrency` batches in flight over the pool. A batch in flight for longer
 *   than `slowBatchMs` is not a round trip worth waiting for (a hung connection, until
 *   the statement deadline severs it): the queue goes out beside it. After a
 *   transient failure batches shrink (halving, down to one record) and grow back
 *   with each success, so a flaky connection still lets small writes through.
 * - Outages: a batch that fails with a transient error (connection refused or lost,
 *   server gone, lock timeout) goes back in front of its accounts' newer operations
 *   and is retried with exponential backoff; nothing is dropped. A record the
 *   database rejects as such (syntax, permission, unknown column, bad value) cannot
 *   succeed later: it is isolated from its batch, logged and counted as dropped;
 *   but one whose only fault is a text its column's character set cannot hold is
 *   stored with '?' for the non-ASCII characters, so that its status is kept.
 * - Time: a 2xx's last_registration/expiry are stamped with the moment of the
 *   reply, not of the write (registration-statements.ts).
 */
import { performance } from 'node:perf_hooks';
import { logger } from '../process/log';
import { accountKeyString, type AccountKey } from './account-key';
import { describeDbError, isLockConflict, isTransientDbError, isUnstorableText } from './db-errors';
import { composeWrites, pendingWriteOf, type PendingWrite, type WriteOperation } from './pending-write';
import type { RegistrationStore } from './registration-store';
import { withAsciiTexts, type RegistrationUpdate } from './registration-update';

export type RegistrationWriteTarget = Pick<RegistrationStore, 'applyAll' | 'table'>;

export interface StatusWriterOptions {
  /** Batches written at once; keep below the pool's connection limit. */
  concurrency?: number;
  /** Accounts per batch (one transaction). */
  batchSize?: number;
  /** Least time between two batches short of batchSize (0: no wait). */
  lingerMs?: number;
  /** A batch in flight this long no longer holds back a queue shorter than a batch. */
  slowBatchMs?: number;
  /** Backoff while the database is unreachable: first delay, doubling up to max. */
  retryDelayMs?: { initial: number; max: number };
  monotonicNow?: () => number;
}

export interface StatusWriterStats {
  /** Accounts with something not stored yet (queued or in flight); never more than the accounts. */
  pending: number;
  /** Records being written now. */
  inFlight: number;
  /** Records stored. */
  written: number;
  /** Operations folded into a record that was already queued. */
  coalesced: number;
  /** Failed write attempts (batches or single records), transient or not. */
  errors: number;
  /** Records given up because the database rejected them. */
  dropped: number;
  /** false from a transient failure until the next successful write. */
  dbAvailable: boolean;
  /** From queueing to stored, per record. */
  latencyMs: { count: number; sum: number; max: number; last: number };
}

interface QueuedWrite {
  id: string;
  key: AccountKey;
  write: PendingWrite;
}

const log = logger('db');
/** Lost lock races retried at once before they count as an outage (backoff). */
const MAX_IMMEDIATE_LOCK_RETRIES = 5;
/**
 * At a mass start's 10 000 replies/s a round trip took ~1 ms, so batches held ~12
 * records; waiting 10 ms between short batches made them ~55 and cut the CPU per
 * record from 20 to 12 µs here and from 14 to 6 µs in MariaDB (`make bench-db`).
 */
export const DEFAULT_LINGER_MS = 10;
/** Far above a healthy round trip (~1 ms at a mass start, more for a full batch under load). */
const DEFAULT_SLOW_BATCH_MS = 1000;

export class StatusWriter {
  private readonly queued = new Map<string, QueuedWrite>();
  private readonly inFlight = new Set<string>();
  private readonly idleWaiters = new Set<() => void>();
  private readonly concurrency: number;
  private readonly batchSize: number;
  private readonly lingerMs: number;
  private readonly slowBatchMs: number;
  private readonly retryDelay: { initial: number; max: number };
  private readonly now: () => number;
  private batchesInFlight = 0;
  /** Batches in flight for less than slowBatchMs. */
  private promptBatches = 0;
  /** Current batch size: batchSize, smaller after transient failures. */
  private batchLimit: number;
  private nextRetryDelay: number;
  private retryTimer?: NodeJS.Timeout;
  private lingerTimer?: NodeJS.Timeout;
  /** When the last batch short of full began (monotonic ms). */
  private lastShortBatchAt = -Infinity;
  private pumpScheduled = false;
  private lockRetries = 0;
  private closed = false;
  /** Records that came after close() (replies arriving after the shutdown's drain): logged once, then counted. */
  private lateRecords = 0;
  private readonly counters = {
    written: 0, coalesced: 0, errors: 0, dropped: 0, dbAvailable: true,
    latencyMs: { count: 0, sum: 0, max: 0, last: 0 },
  };

  constructor(private readonly target: RegistrationWriteTarget, options: StatusWriterOptions = {}) {
    this.concurrency = Math.max(1, options.concurrency ?? 4);
    this.batchSize = Math.max(1, options.batchSize ?? 100);
    this.batchLimit = this.batchSize;
    this.lingerMs = Math.max(0, options.lingerMs ?? DEFAULT_LINGER_MS);
    this.slowBatchMs = Math.max(0, options.slowBatchMs ?? DEFAULT_SLOW_BATCH_MS);
    this.retryDelay = options.retryDelayMs ?? { initial: 250, max: 10_000 };
    this.nextRetryDelay = this.retryDelay.initial;
    this.now = options.monotonicNow ?? (() => performance.now());
  }

  insertIfMissing(key: AccountKey): void {
    this.enqueue(key, { kind: 'insertIfMissing' });
  }

  update(key: AccountKey, update: RegistrationUpdate): void {
    const registered = update.registered && { ...update.registered, atMs: update.registered.atMs ?? this.now() };
    this.enqueue(key, { kind: 'update', update: { ...update, registered } });
  }

  remove(key: AccountKey): void {
    this.enqueue(key, { kind: 'remove' });
  }

  /** Resolves true once everything queued so far is stored, false after timeoutMs. */
  flush(timeoutMs: number): Promise<boolean> {
    if (this.isIdle()) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const done = (stored: boolean): void => {
        clearTimeout(timer);
        this.idleWaiters.delete(onIdle);
        resolve(stored);
      };
      const onIdle = (): void => done(true);
      const timer = setTimeout(() => done(false), timeoutMs);
      this.idleWaiters.add(onIdle);
    });
  }

  /** Stops writing (after flush(), at shutdown). Returns how many accounts' writes were not stored. */
  close(): number {
    const lost = this.stats().pending;
    if (this.closed) return lost;
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    clearTimeout(this.lingerTimer);
    this.lingerTimer = undefined;
    if (lost > 0) log.warn(`status writer closed with ${lost} registration status record(s) not stored`);
    return lost;
  }

  stats(): StatusWriterStats {
    return {
      ...this.counters,
      latencyMs: { ...this.counters.latencyMs },
      pending: this.queued.size + [...this.inFlight].filter((id) => !this.queued.has(id)).length,
      inFlight: this.inFlight.size,
    };
  }

  private enqueue(key: AccountKey, operation: WriteOperation): void {
    if (this.closed) {
      // One line, not one per account: a slow registrar answering thousands at shutdown would flood the log.
      if (this.lateRecords++ === 0) log.warn(`status writer closed: ${operation.kind} of ${key.type} ${key.id} not stored (later ones only at debug level)`);
      else log.debug(`status writer closed: ${operation.kind} of ${key.type} ${key.id} not stored`);
      return;
    }
    const id = accountKeyString(key);
    const write = pendingWriteOf(operation, this.now());
    const waiting = this.queued.get(id);
    if (waiting) this.counters.coalesced++;
    this.queued.set(id, { id, key, write: waiting ? composeWrites(waiting.write, write) : write });
    this.schedulePump();
  }

  /** Next turn of the event loop: operations queued in the same turn fold first. */
  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  /**
   * Starts the batches that may go now. What bounds them: at most `concurrency` in
   * flight (connections held), prompt or slow; each account in at most one; and a
   * slow one lasts at most connectionAttempts × the statement deadline before it
   * fails and its records are queued again.
   */
  private pump(): void {
    while (!this.closed && !this.retryTimer && this.batchesInFlight < this.concurrency) {
      // A second batch in parallel only for a backlog: otherwise what arrives during
      // one batch's round trip goes together in the next, instead of a statement per
      // record at a steady reply rate. A slow batch does not count: the accounts
      // behind a hung connection must not hold up everyone else's writes.
      if (this.queued.size === 0 || (this.promptBatches > 0 && this.queued.size < this.batchLimit)) return;
      if (this.queued.size < this.batchLimit && this.lingering()) return;
      const batch = this.takeBatch();
      if (batch.length === 0) return;
      this.batchesInFlight++;
      this.promptBatches++;
      let prompt = true;
      const slow = setTimeout(() => {
        prompt = false;
        this.promptBatches--;
        this.pump();
      }, this.slowBatchMs).unref();
      void this.store(batch).finally(() => {
        clearTimeout(slow);
        if (prompt) this.promptBatches--;
        this.batchesInFlight--;
        for (const queued of batch) this.inFlight.delete(queued.id);
        if (this.isIdle()) for (const waiter of [...this.idleWaiters]) waiter();
        else this.pump();
      });
    }
  }

  /** True while a short batch must wait (a timer then pumps); else notes that one begins now. */
  private lingering(): boolean {
    if (this.lingerTimer) return true;
    const wait = this.lastShortBatchAt + this.lingerMs - this.now();
    if (wait > 0) {
      this.lingerTimer = setTimeout(() => {
        this.lingerTimer = undefined;
        this.pump();
      }, wait);
      return true;
    }
    this.lastShortBatchAt = this.now();
    return false;
  }

  /** Oldest first; an account already in flight waits for the next batch. */
  private takeBatch(): QueuedWrite[] {
    const batch: QueuedWrite[] = [];
    for (const [id, queued] of this.queued) {
      if (batch.length >= this.batchLimit) break;
      if (this.inFlight.has(id)) continue;
      this.queued.delete(id);
      this.inFlight.add(id);
      batch.push(queued);
    }
    return batch;
  }

  private async store(batch: QueuedWrite[]): Promise<void> {
    try {
      await this.target.applyAll(batch);
      this.lockRetries = 0;
      for (const queued of batch) this.onStored(queued.write);
      this.batchLimit = Math.min(this.batchSize, this.batchLimit * 2);
    } catch (err) {
      this.counters.errors++;
      if (this.closed) return; // counted as not stored by close()
      if (isLockConflict(err) && this.lockRetries < MAX_IMMEDIATE_LOCK_RETRIES) {
        // A lost lock race is no outage: requeue and go again at once (bounded).
        this.lockRetries++;
        this.requeue(batch);
      } else if (isTransientDbError(err)) this.retryLater(batch, err);
      else if (batch.length > 1) await this.storeOneByOne(batch);
      else this.drop(batch[0], err);
    }
  }

  /**
   * After a rejected batch: find the record(s) the database rejects, store the rest.
   * A record whose text the column cannot hold goes again with its texts cut down
   * to ASCII rather than be lost with its status.
   */
  private async storeOneByOne(batch: QueuedWrite[]): Promise<void> {
    for (let index = 0; index < batch.length; index++) {
      const queued = batch[index] as QueuedWrite;
      try {
        await this.target.applyAll([queued]);
        this.onStored(queued.write);
      } catch (err) {
        this.counters.errors++;
        if (this.closed) return;
        if (isTransientDbError(err)) {
          this.retryLater(batch.slice(index), err);
          return;
        }
        const ascii = isUnstorableText(err) && queued.write.update ? withAsciiTexts(queued.write.update) : undefined;
        if (ascii) {
          log.warn(`registration status of ${queued.key.type} ${queued.key.id} in '${this.target.table}': ${describeDbError(err)}; storing it with '?' for non-ASCII characters`);
          batch[index] = { ...queued, write: { ...queued.write, update: ascii } };
          index--; // the same record again, now in ASCII
          continue;
        }
        this.drop(queued, err);
      }
    }
  }

  private onStored(write: PendingWrite): void {
    const latency = this.now() - write.queuedAtMs;
    const stats = this.counters.latencyMs;
    stats.count++;
    stats.sum += latency;
    stats.last = latency;
    stats.max = Math.max(stats.max, latency);
    this.counters.written++;
    this.nextRetryDelay = this.retryDelay.initial;
    if (!this.counters.dbAvailable) {
      this.counters.dbAvailable = true;
      log.info(`database reachable again; writing ${this.queued.size} queued registration status record(s)`);
    }
  }

  private drop(queued: QueuedWrite, err: unknown): void {
    this.counters.dropped++;
    log.error(`registration status of ${queued.key.type} ${queued.key.id} not stored in '${this.target.table}': ${describeDbError(err)}`);
  }

  /** Failed records go back before whatever their accounts queued meanwhile; then back off. */
  private retryLater(failed: QueuedWrite[], err: unknown): void {
    this.batchLimit = Math.max(1, Math.floor(this.batchLimit / 2));
    this.requeue(failed);
    if (this.retryTimer || this.closed) return;
    const delay = this.nextRetryDelay;
    this.nextRetryDelay = Math.min(this.retryDelay.max, delay * 2);
    if (this.counters.dbAvailable) {
      this.counters.dbAvailable = false;
      log.warn(`database unavailable (${describeDbError(err)}); keeping registration status writes and retrying`);
    } else {
      log.debug(`database still unavailable (${describeDbError(err)}); ${this.queued.size} record(s) queued, next attempt in ${delay} ms`);
    }
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.pump();
    }, delay);
  }

  /** Failed records go back, each folded before whatever its account queued meanwhile. */
  private requeue(failed: QueuedWrite[]): void {
    for (const record of failed) {
      const newer = this.queued.get(record.id);
      this.queued.set(record.id, { ...record, write: newer ? composeWrites(record.write, newer.write) : record.write });
    }
  }

  private isIdle(): boolean {
    return this.queued.size === 0 && this.inFlight.size === 0;
  }
}
