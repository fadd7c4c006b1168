/**
 * One timer per key (an account) for any number of keys, on ONE clock timer.
 *
 * Entries sit in a binary min-heap ordered by due time (then by when they were
 * scheduled, so equal due times fire first-come first-served); each entry knows its
 * heap slot, which makes cancel and reschedule O(log n) without leaving garbage behind.
 * The clock timer always points at the earliest entry and is re-armed only when that
 * moment changes. Due times are absolute, so late wake-ups never shift later entries.
 */
import { logger } from '../process/log';
import { delayUntil, type Clock, type TimerHandle } from '../core/clock';

/**
 * Called with the entry's key, so that one function can serve every entry: a closure
 * per entry costs ~150 bytes, 15 MB at 100 000 accounts.
 */
export type TimerAction<K> = (key: K) => void;

/**
 * Told about every entry that enters or leaves the queue (fired, cancelled or replaced),
 * except those scheduled with `observed` false.
 */
export interface TimerQueueObserver<K> {
  added(key: K, dueAt: number): void;
  removed(key: K, dueAt: number): void;
}

export interface TimerQueueOptions<K> {
  observer?: TimerQueueObserver<K>;
  /** An action threw; the default logs it. The queue carries on either way. */
  onError?: (key: K, error: unknown) => void;
  /** How a key reads in log lines (default String). */
  describeKey?: (key: K) => string;
  /** Actions fired per event-loop turn before yielding to I/O (default 1000). */
  batchSize?: number;
}

interface Entry<K> {
  readonly key: K;
  dueAt: number;
  seq: number;
  action: TimerAction<K>;
  /** The observer knows of this entry. */
  observed: boolean;
  /** Position in the heap array. */
  index: number;
}

const log = logger('timers');

function logActionError(key: string, error: unknown): void {
  const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
  log.error(`timer action for ${key} failed: ${detail}`);
}

export class TimerQueue<K> {
  private readonly heap: Entry<K>[] = [];
  private readonly entries = new Map<K, Entry<K>>();
  private readonly observer?: TimerQueueObserver<K>;
  private readonly onError: (key: K, error: unknown) => void;
  private readonly describeKey: (key: K) => string;
  private readonly batchSize: number;
  private seq = 0;
  private handle: TimerHandle | undefined;
  /** Due time of the entry the clock timer was armed for. */
  private armedFor: number | undefined;
  /** Set while actions run: they may schedule, and re-arming waits until they are done. */
  private firing = false;

  constructor(private readonly clock: Clock, options: TimerQueueOptions<K> = {}) {
    this.observer = options.observer;
    this.describeKey = options.describeKey ?? String;
    this.onError = options.onError ?? ((key, error) => logActionError(this.describeKey(key), error));
    this.batchSize = options.batchSize ?? 1000;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Earliest due time, or undefined when the queue is empty. */
  get nextDue(): number | undefined {
    return this.heap[0]?.dueAt;
  }

  has(key: K): boolean {
    return this.entries.has(key);
  }

  dueAt(key: K): number | undefined {
    return this.entries.get(key)?.dueAt;
  }

  /**
   * Runs `action` at clock time `dueAt` (at once if past), replacing the key's earlier timer.
   * `observed` false keeps the entry from the observer: a deadline that sends nothing is
   * no load for the refresh planner to avoid.
   */
  schedule(key: K, dueAt: number, action: TimerAction<K>, observed = true): void {
    if (!Number.isFinite(dueAt)) throw new RangeError(`timer for ${this.describeKey(key)}: due time ${dueAt} is not finite`);
    const seq = this.seq++;
    const existing = this.entries.get(key);
    if (existing) {
      if (existing.observed) this.observer?.removed(key, existing.dueAt);
      existing.dueAt = dueAt;
      existing.seq = seq;
      existing.action = action;
      existing.observed = observed;
      this.siftDown(this.siftUp(existing.index));
    } else {
      const entry: Entry<K> = { key, dueAt, seq, action, observed, index: this.heap.length };
      this.entries.set(key, entry);
      this.heap.push(entry);
      this.siftUp(entry.index);
    }
    if (observed) this.observer?.added(key, dueAt);
    this.rearm();
  }

  /** Removes the key's timer; false when it had none. */
  cancel(key: K): boolean {
    const entry = this.entries.get(key);
    if (!entry) return false;
    this.remove(entry);
    this.rearm();
    return true;
  }

  /** Cancels everything (shutdown). */
  clear(): void {
    while (this.heap.length > 0) this.remove(this.heap[this.heap.length - 1]);
    this.rearm();
  }

  private remove(entry: Entry<K>): void {
    const last = this.heap.pop() as Entry<K>;
    if (last !== entry) {
      this.heap[entry.index] = last;
      last.index = entry.index;
      this.siftDown(this.siftUp(last.index));
    }
    this.entries.delete(entry.key);
    if (entry.observed) this.observer?.removed(entry.key, entry.dueAt);
  }

  private rearm(): void {
    if (this.firing) return;
    const next = this.nextDue;
    if (next === this.armedFor) return;
    if (this.handle !== undefined) this.clock.clearTimeout(this.handle);
    this.handle = undefined;
    this.armedFor = next;
    if (next !== undefined) this.handle = this.clock.setTimeout(() => this.onTimer(), delayUntil(this.clock, next));
  }

  private onTimer(): void {
    this.handle = undefined;
    this.armedFor = undefined;
    this.fireDue();
    this.rearm();
  }

  /**
   * Fires what is due now, earliest first. Entries scheduled by the actions themselves
   * wait for the next turn (a zero-delay re-arm), as do entries beyond the batch size:
   * an action that reschedules itself "now" cannot starve the event loop.
   */
  private fireDue(): void {
    const now = this.clock.now();
    const scheduledBefore = this.seq;
    this.firing = true;
    for (let fired = 0; fired < this.batchSize; fired++) {
      const top = this.heap[0];
      if (top === undefined || top.dueAt > now || top.seq >= scheduledBefore) break;
      this.remove(top);
      try {
        top.action(top.key);
      } catch (error) {
        this.onError(top.key, error);
      }
    }
    this.firing = false;
  }

  private before(a: Entry<K>, b: Entry<K>): boolean {
    return a.dueAt < b.dueAt || (a.dueAt === b.dueAt && a.seq < b.seq);
  }

  private place(entry: Entry<K>, index: number): void {
    this.heap[index] = entry;
    entry.index = index;
  }

  /** Moves the entry at `index` up while it precedes its parent; returns where it ends. */
  private siftUp(index: number): number {
    const entry = this.heap[index];
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parent = this.heap[parentIndex];
      if (!this.before(entry, parent)) break;
      this.place(parent, index);
      index = parentIndex;
    }
    this.place(entry, index);
    return index;
  }

  private siftDown(index: number): void {
    const entry = this.heap[index];
    const length = this.heap.length;
    for (;;) {
      const left = 2 * index + 1;
      if (left >= length) break;
      const right = left + 1;
      const child = right < length && this.before(this.heap[right], this.heap[left]) ? right : left;
      if (!this.before(this.heap[child], entry)) break;
      this.place(this.heap[child], index);
      index = child;
    }
    this.place(entry, index);
  }
}
