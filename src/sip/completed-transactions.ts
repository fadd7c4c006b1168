/**
 * The Completed state of non-INVITE client transactions over unreliable transports
 * (RFC 3261 §17.1.2.2): for Timer K after the final response, retransmissions of that
 * response must be absorbed, not taken for new ones. All that state needs is the
 * branch and when Timer K fires, so completed transactions are kept here as
 * (branch → deadline) on one clock timer, instead of as whole transaction objects
 * with a timer each: a mass start completes thousands a second, and each would live
 * on for T4 (5 s), long enough to be promoted to V8's old generation as garbage.
 */
import { delayUntil, type Clock, type TimerHandle } from '../core/clock';

export class CompletedTransactions {
  /** Branch → Timer K deadline. Every entry gets the same delay, so insertion order is deadline order. */
  private readonly deadlines = new Map<string, number>();
  private timer: TimerHandle | undefined;
  private readonly onTimer = (): void => this.expire();

  constructor(private readonly clock: Clock) {}

  get size(): number {
    return this.deadlines.size;
  }

  /** Holds `branch` in Completed for `timerKMs`. */
  add(branch: string, timerKMs: number): void {
    this.deadlines.set(branch, this.clock.now() + timerKMs);
    this.timer ??= this.clock.setTimeout(this.onTimer, timerKMs);
  }

  /** True while `branch` is in Completed: a response for it is a retransmission. */
  has(branch: string): boolean {
    return this.deadlines.has(branch);
  }

  /** Timer K for all of them at once (the layer closes). */
  clear(): void {
    this.deadlines.clear();
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private expire(): void {
    this.timer = undefined;
    const now = this.clock.now();
    for (const [branch, deadline] of this.deadlines) {
      if (deadline > now) {
        this.timer = this.clock.setTimeout(this.onTimer, delayUntil(this.clock, deadline));
        return;
      }
      this.deadlines.delete(branch);
    }
  }
}
