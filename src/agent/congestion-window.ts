/**
 * Bounds the REGISTER transactions in flight and adapts the bound to what the
 * registrar can take, the way TCP does (slow start, then additive increase /
 * multiplicative decrease).
 *
 * Why: SEMS fires every REGISTER of a mass start at once; a registrar's receive
 * buffer and worker pool are finite, so a burst of tens of thousands is partly
 * dropped and the dropped ones only recover after Timer E retransmissions or a
 * 32 s timeout. Retransmissions, 408s and 503s are the registrar telling us it is
 * saturated; shrinking the window then keeps the rate near its capacity.
 */

import { Fifo } from './fifo';

export type TransactionSignal = 'ok' | 'congested';

/** `T`: what waits for room; `start` is called with it once there is room. */
export class CongestionWindow<T> {
  private limit: number;
  private threshold: number;
  private inFlight = 0;
  private readonly waiting = new Fifo<T>();
  private lastDecrease = -Infinity;
  /** `admit` is running: a `leave` from inside `start` is picked up by its loop, not by a nested one. */
  private admitting = false;

  /**
   * @param max max_pending_transactions: the window never grows beyond it.
   * @param now monotonic milliseconds.
   * @param decreaseHoldMs one decrease per this period: a saturated moment produces
   *   many signals at once, and each must not halve the window again.
   */
  constructor(
    private readonly start: (item: T) => void,
    private readonly max: number,
    private readonly now: () => number,
    private readonly min = Math.min(8, max),
    initial = Math.min(64, max),
    private readonly decreaseHoldMs = 1000,
  ) {
    this.limit = Math.max(this.min, initial);
    this.threshold = max;
  }

  /** Current bound on transactions in flight. */
  get size(): number {
    return Math.floor(this.limit);
  }

  get pending(): number {
    return this.inFlight;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /** Starts `item` as soon as the window has room (FIFO). */
  enter(item: T): void {
    if (this.inFlight < this.size && this.waiting.length === 0) {
      this.inFlight++;
      this.start(item);
    } else {
      this.waiting.push(item);
    }
  }

  /** A transaction ended; `signal` says whether the registrar looked saturated. */
  leave(signal: TransactionSignal): void {
    this.inFlight = Math.max(0, this.inFlight - 1);
    if (signal === 'ok') this.grow();
    else this.shrink();
    this.admit();
  }

  private grow(): void {
    // Slow start below the threshold (+1 per reply doubles per round trip), then +1 per window.
    this.limit += this.limit < this.threshold ? 1 : 1 / this.limit;
    this.limit = Math.min(this.limit, this.max);
  }

  private shrink(): void {
    const t = this.now();
    if (t - this.lastDecrease < this.decreaseHoldMs) return;
    this.lastDecrease = t;
    this.limit = Math.max(this.min, this.limit / 2);
    this.threshold = this.limit;
  }

  private admit(): void {
    // Items that end at once (a stopped engine, a forgotten account) leave inside `start`:
    // nesting one admit per item would overflow the stack on a long queue.
    if (this.admitting) return;
    this.admitting = true;
    try {
      while (this.inFlight < this.size && this.waiting.length > 0) {
        this.inFlight++;
        this.start(this.waiting.shift() as T);
      }
    } finally {
      this.admitting = false;
    }
  }
}
