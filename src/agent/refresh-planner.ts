/**
 * When to refresh a registration (SPEC §5, and §3 for the start-up restore).
 *
 * A registration granted at R until X is refreshed at R + (X − R) × reregister_interval.
 * With minimum_reregister_interval the refresh may come as early as
 * R + (X − R) × minimum_reregister_interval, and lands in the emptiest 1-second bucket
 * of that window, at a random moment inside it (as SEMS does), so that a mass start
 * flattens out instead of returning as a spike.
 *
 * Among equally empty buckets one is drawn at random. Any choice among the emptiest
 * keeps the window level (buckets never differ by more than one during a burst), but
 * always taking the first would pull every refresh to the window's start — up to 25 %
 * more REGISTER traffic with the recommended 0.4/0.5 — and always the last would undo
 * the spreading whenever the load is light; a random draw keeps the mean in the middle
 * and does not line up seconds across restarts.
 *
 * Windows are clamped to the present: what lies in the past cannot be planned, and a
 * window that is wholly past means "refresh now".
 */
import type { Clock } from '../core/clock';
import { secondOf, type RefreshLoad } from './refresh-load';

export interface RefreshIntervals {
  /** Fraction of the granted lifetime after which to refresh, in (0, 1]. */
  reregisterInterval: number;
  /** Earliest fraction, below reregisterInterval; undefined = refresh at exactly reregisterInterval. */
  minimumReregisterInterval?: number;
}

/** Clock times in ms; from === to is a fixed moment. */
export interface RefreshWindow {
  from: number;
  to: number;
}

/**
 * An ACTIVE row at start-up: its times as seconds relative to the database's NOW()
 * (negative = in the past; null = NULL column), and the clock time at which that NOW()
 * was read. The load takes a while, so the offsets count from then, not from the
 * moment the row is consumed.
 */
export interface StoredRegistration {
  lastRegistrationOffsetSec: number | null;
  expiryOffsetSec: number | null;
  readAt: number;
}

export interface RestoredRefresh {
  /** When to refresh; at or before now means at once. */
  dueAt: number;
  /** Something about the row that deserves a warning in the log. */
  warning?: string;
}

/** When a stored registration expires, on the engine's clock; a NULL expiry counts as expired now. */
export function storedExpiry(row: StoredRegistration, now: number): number {
  return row.expiryOffsetSec === null ? now : row.readAt + row.expiryOffsetSec * 1000;
}

/** The window in which to refresh a registration made at `registeredAt` that lasts until `expiresAt`. */
export function refreshWindow(
  intervals: RefreshIntervals,
  registeredAt: number,
  expiresAt: number,
  now: number,
): RefreshWindow {
  const lifetime = Math.max(0, expiresAt - registeredAt);
  const to = Math.max(now, registeredAt + lifetime * intervals.reregisterInterval);
  const earliest = intervals.minimumReregisterInterval ?? intervals.reregisterInterval;
  const from = Math.min(to, Math.max(now, registeredAt + lifetime * earliest));
  return { from, to };
}

export class RefreshPlanner {
  /**
   * `load` must observe the timer queue the refreshes go into, so that each placement
   * sees those before it: `new TimerQueue(clock, { observer: load })`.
   */
  constructor(
    private readonly intervals: RefreshIntervals,
    private readonly clock: Clock,
    private readonly load: RefreshLoad,
    private readonly random: () => number = Math.random,
  ) {}

  /** Due time of the refresh after a 2xx, received now, granting `grantedExpiresSec`. */
  afterRegistration(grantedExpiresSec: number): number {
    const now = this.clock.now();
    return this.place(refreshWindow(this.intervals, now, now + grantedExpiresSec * 1000, now));
  }

  /**
   * Due time of the refresh for an ACTIVE row at start-up, computed as after a 2xx at
   * last_registration. An expiry that is past by now (or NULL) means at once; a
   * last_registration in the future (DB and host clocks apart) counts as the moment
   * the database's NOW() was read.
   */
  restore(row: StoredRegistration): RestoredRefresh {
    const now = this.clock.now();
    const expiresAt = storedExpiry(row, now);
    if (expiresAt <= now) return { dueAt: now };
    let registeredOffsetSec = row.lastRegistrationOffsetSec ?? 0;
    let warning: string | undefined;
    if (registeredOffsetSec > 0) {
      warning = `last_registration lies ${registeredOffsetSec} s in the future (DB host clock ahead?); counting from the database's NOW()`;
      registeredOffsetSec = 0;
    }
    const window = refreshWindow(this.intervals, row.readAt + registeredOffsetSec * 1000, expiresAt, now);
    return { dueAt: this.place(window), warning };
  }

  /** A moment in the emptiest bucket of the window, kept inside the window at its edges. */
  private place(window: RefreshWindow): number {
    if (window.from === window.to) return window.to;
    const second = this.load.emptiest(secondOf(window.from), secondOf(window.to), this.random);
    const earliest = Math.max(window.from, second * 1000);
    const latest = Math.min(window.to, second * 1000 + 1000);
    return earliest + this.random() * (latest - earliest);
  }
}
