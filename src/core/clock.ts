/**
 * The time source of the registration engine.
 *
 * Everything that waits (refresh timers, the rate limiter) asks a Clock instead of the
 * globals, so tests can drive hours of scheduling with a FakeClock in a few
 * milliseconds of real time.
 */
import { performance } from 'node:perf_hooks';

/** Node's setTimeout limit; a longer delay would fire after 1 ms instead. */
export const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

declare const timerHandleBrand: unique symbol;
/** Opaque handle of a pending clock timer. */
export interface TimerHandle {
  readonly [timerHandleBrand]: true;
}

export interface Clock {
  /** Monotonic milliseconds; only differences and comparisons are meaningful. */
  now(): number;
  /** Calls `callback` once after `delayMs`, which must lie in 0..MAX_TIMER_DELAY_MS. */
  setTimeout(callback: () => void, delayMs: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/**
 * Delay for a timer meant to fire at `dueAt`: whole milliseconds (rounded up, so it
 * does not wake before the moment), never negative, and capped at what setTimeout
 * honours — a capped timer wakes early and its owner re-arms for the rest.
 */
export function delayUntil(clock: Clock, dueAt: number): number {
  return Math.min(MAX_TIMER_DELAY_MS, Math.max(0, Math.ceil(dueAt - clock.now())));
}

/** Both clocks reject what Node would silently turn into a 1 ms timer. */
function checkDelay(delayMs: number): void {
  if (!(delayMs >= 0 && delayMs <= MAX_TIMER_DELAY_MS)) {
    throw new RangeError(`timer delay ${delayMs} ms is outside 0..${MAX_TIMER_DELAY_MS}`);
  }
}

class SystemClock implements Clock {
  now(): number {
    return performance.now();
  }

  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    checkDelay(delayMs);
    return setTimeout(callback, delayMs) as unknown as TimerHandle;
  }

  clearTimeout(handle: TimerHandle): void {
    clearTimeout(handle as unknown as NodeJS.Timeout);
  }
}

/** The process's monotonic clock (performance.now) and Node's timers. */
export const systemClock: Clock = new SystemClock();

interface FakeTimer {
  dueAt: number;
  /** Creation order: timers due at the same moment fire in the order they were set. */
  seq: number;
  callback: () => void;
}

/** A clock that moves only when told to; for tests. */
export class FakeClock implements Clock {
  private current: number;
  private readonly pending = new Set<FakeTimer>();
  private started = 0;

  constructor(startMs = 0) {
    this.current = startMs;
  }

  now(): number {
    return this.current;
  }

  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    checkDelay(delayMs);
    const timer: FakeTimer = { dueAt: this.current + delayMs, seq: this.started++, callback };
    this.pending.add(timer);
    return timer as unknown as TimerHandle;
  }

  clearTimeout(handle: TimerHandle): void {
    this.pending.delete(handle as unknown as FakeTimer);
  }

  /** Timers set and not yet fired or cleared. */
  get pendingTimers(): number {
    return this.pending.size;
  }

  /** Timers ever set: lets tests see that nobody polls or re-arms needlessly. */
  get timersStarted(): number {
    return this.started;
  }

  /**
   * Moves time forward by `ms`, firing every timer that falls due on the way in due
   * order, with now() reading each timer's own due time while it runs — including
   * timers that callbacks set for moments inside the span.
   */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`cannot advance a clock by ${ms} ms`);
    const target = this.current + ms;
    for (let timer = this.earliestUntil(target); timer; timer = this.earliestUntil(target)) {
      this.pending.delete(timer);
      this.current = Math.max(this.current, timer.dueAt);
      timer.callback();
    }
    this.current = target;
  }

  private earliestUntil(limit: number): FakeTimer | undefined {
    let earliest: FakeTimer | undefined;
    for (const timer of this.pending) {
      if (timer.dueAt > limit) continue;
      if (!earliest || timer.dueAt < earliest.dueAt || (timer.dueAt === earliest.dueAt && timer.seq < earliest.seq)) {
        earliest = timer;
      }
    }
    return earliest;
  }
}
