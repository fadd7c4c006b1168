/**
 * The rate limit on new requests (SPEC §5): a token bucket of capacity ratelimit_rate,
 * refilled at ratelimit_rate / ratelimit_per tokens per second, empty at start with
 * ratelimit_slowstart, full otherwise. Requests wait in FIFO order; none is dropped.
 * The engine decides which requests pass through here.
 *
 * The refill is continuous (like SEMS's allowance), not per tick: requests leave one
 * every ratelimit_per / ratelimit_rate seconds once the burst is spent, instead of
 * `rate` at once at every tick — a per-tick refill would recreate the spikes the
 * refresh planner flattens. Continuous refill still bounds any window of
 * ratelimit_per seconds to capacity + rate requests, and a slow-started first window
 * to rate. While requests wait, one clock timer is set for the moment the next token
 * is complete; nothing polls.
 */
import type { RateLimitConfig } from '../config/agent-config';
import { logger } from '../process/log';
import { MAX_TIMER_DELAY_MS, type Clock, type TimerHandle } from '../core/clock';
import { Fifo } from './fifo';

export type RateLimitedAction = () => void;

export interface RateLimiter {
  /**
   * Runs `action` when the limit allows, after everything submitted before it: at
   * once (synchronously) when it allows now, else from a clock timer.
   */
  submit(action: RateLimitedAction): void;
  /** Requests waiting for their turn. */
  readonly queueLength: number;
  /** Shutdown: forgets the waiting requests and the timer; returns how many waited. */
  stop(): number;
}

const log = logger('ratelimit');

function logActionError(error: unknown): void {
  log.error(`rate-limited action failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
}

/** A throwing action must not stall the ones behind it. */
function runGuarded(action: RateLimitedAction, onError: (error: unknown) => void): void {
  try {
    action();
  } catch (error) {
    onError(error);
  }
}

export class TokenBucket implements RateLimiter {
  private readonly capacity: number;
  private readonly tokensPerMs: number;
  private tokens: number;
  private refilledAt: number;
  private waiting = new Fifo<RateLimitedAction>();
  private timer: TimerHandle | undefined;
  /** Set while actions run, so that one submitting another only queues it. */
  private draining = false;

  constructor(
    private readonly clock: Clock,
    config: RateLimitConfig,
    private readonly onError: (error: unknown) => void = logActionError,
  ) {
    if (!(config.rate > 0 && config.perSeconds > 0)) {
      throw new RangeError(`rate limit needs rate and per > 0, got ${config.rate} per ${config.perSeconds} s`);
    }
    this.capacity = config.rate;
    this.tokensPerMs = config.rate / (config.perSeconds * 1000);
    this.tokens = config.slowstart ? 0 : this.capacity;
    this.refilledAt = clock.now();
  }

  get queueLength(): number {
    return this.waiting.length;
  }

  submit(action: RateLimitedAction): void {
    this.waiting.push(action);
    this.drain();
  }

  stop(): number {
    const dropped = this.waiting.length;
    this.waiting = new Fifo();
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    return dropped;
  }

  private drain(): void {
    if (this.draining) return;
    this.draining = true;
    this.refill();
    while (this.tokens >= 1) {
      const action = this.waiting.shift();
      if (action === undefined) break;
      this.tokens -= 1;
      runGuarded(action, this.onError);
    }
    this.draining = false;
    this.waitForToken();
  }

  private refill(): void {
    const now = this.clock.now();
    this.tokens = Math.min(this.capacity, this.tokens + (now - this.refilledAt) * this.tokensPerMs);
    this.refilledAt = now;
  }

  /** One timer, for the moment the next whole token is there (rounded up: never early). */
  private waitForToken(): void {
    if (this.waiting.length === 0 || this.timer !== undefined) return;
    const delay = Math.ceil((1 - this.tokens) / this.tokensPerMs);
    this.timer = this.clock.setTimeout(
      () => {
        this.timer = undefined;
        this.drain();
      },
      Math.min(MAX_TIMER_DELAY_MS, delay),
    );
  }
}

/** Rate limiting disabled: every request runs at once. */
export class Unlimited implements RateLimiter {
  readonly queueLength = 0;

  constructor(private readonly onError: (error: unknown) => void = logActionError) {}

  submit(action: RateLimitedAction): void {
    runGuarded(action, this.onError);
  }

  stop(): number {
    return 0;
  }
}

/** The limiter the configuration asks for; no config (enable_ratelimiting=no) means Unlimited. */
export function createRateLimiter(clock: Clock, config: RateLimitConfig | undefined): RateLimiter {
  return config ? new TokenBucket(clock, config) : new Unlimited();
}
