import assert from 'node:assert/strict';
import { FakeClock } from '../../src/core/clock';
import { RefreshLoad, secondOf } from '../../src/agent/refresh-load';
import { RefreshPlanner, refreshWindow, type RefreshIntervals } from '../../src/agent/refresh-planner';
import { TimerQueue } from '../../src/agent/timer-queue';

const S = 1000;
const SPREAD: RefreshIntervals = { reregisterInterval: 0.5, minimumReregisterInterval: 0.4 };
const FIXED: RefreshIntervals = { reregisterInterval: 0.5 };
const noop = (): void => undefined;

/** The wiring the engine uses: the load map observes the queue the refreshes go into. */
function setup(intervals: RefreshIntervals, startMs = 0) {
  const clock = new FakeClock(startMs);
  const load = new RefreshLoad();
  const timers = new TimerQueue<number | string>(clock, { observer: load });
  const planner = new RefreshPlanner(intervals, clock, load);
  return { clock, load, timers, planner };
}

function bucketCounts(load: RefreshLoad, fromMs: number, toMs: number): number[] {
  const counts: number[] = [];
  for (let s = secondOf(fromMs); s <= secondOf(toMs); s++) counts.push(load.countAt(s));
  return counts;
}

describe('refreshWindow', () => {
  it('spans minimum..reregister interval of the lifetime, clamped to now', () => {
    assert.deepEqual(refreshWindow(SPREAD, 0, 3600 * S, 0), { from: 1440 * S, to: 1800 * S });
    assert.deepEqual(refreshWindow(FIXED, 0, 3600 * S, 0), { from: 1800 * S, to: 1800 * S });
    assert.deepEqual(refreshWindow(SPREAD, 0, 3600 * S, 1500 * S), { from: 1500 * S, to: 1800 * S });
    assert.deepEqual(refreshWindow(SPREAD, 0, 3600 * S, 2000 * S), { from: 2000 * S, to: 2000 * S });
    assert.deepEqual(refreshWindow(SPREAD, 10 * S, 5 * S, 10 * S), { from: 10 * S, to: 10 * S }, 'no lifetime: now');
  });
});

describe('RefreshPlanner after a 2xx', () => {
  it('spreads 10 000 refreshes granted at the same second evenly over [T+1440, T+1800]', () => {
    const T = 7_200 * S;
    const { load, timers, planner } = setup(SPREAD, T);
    const n = 10_000;
    for (let i = 0; i < n; i++) {
      const due = planner.afterRegistration(3600);
      assert.ok(due >= T + 1440 * S && due <= T + 1800 * S, `refresh ${i} at ${due} outside the window`);
      timers.schedule(i, due, noop);
    }
    const counts = bucketCounts(load, T + 1440 * S, T + 1800 * S);
    assert.equal(counts.reduce((a, b) => a + b, 0), n, 'every refresh counted inside the window');
    const max = Math.max(...counts);
    assert.ok(max <= Math.ceil(n / 360) + 1, `a bucket holds ${max}`);
    assert.ok(max - Math.min(...counts) <= 1, 'buckets differ by at most one');
  });

  it('keeps refreshes inside the window when T is not on a whole second', () => {
    const T = 5_300.7;
    const { timers, planner } = setup(SPREAD, T);
    for (let i = 0; i < 2000; i++) {
      const due = planner.afterRegistration(3600);
      assert.ok(due >= T + 1440 * S && due <= T + 1800 * S, `refresh at ${due} outside the window`);
      timers.schedule(i, due, noop);
    }
  });

  it('stays flat with 100 000 accounts', () => {
    const { load, timers, planner } = setup(SPREAD);
    const n = 100_000;
    for (let i = 0; i < n; i++) timers.schedule(i, planner.afterRegistration(3600), noop);
    const max = Math.max(...bucketCounts(load, 1440 * S, 1800 * S));
    assert.ok(max <= Math.ceil(n / 360) + 1, `a bucket holds ${max}`);
  });

  it('without minimum_reregister_interval refreshes at exactly T + E × reregister_interval', () => {
    const T = 42_000;
    const { timers, planner } = setup(FIXED, T);
    for (let i = 0; i < 10_000; i++) {
      const due = planner.afterRegistration(3600);
      assert.equal(due, T + 1800 * S);
      timers.schedule(i, due, noop);
    }
    assert.equal(planner.afterRegistration(60), T + 30 * S, 'a granted 60 s is refreshed after 30 s');
  });

  it('frees a bucket when its refresh is cancelled, re-planned or fired', () => {
    const { clock, load, timers, planner } = setup(SPREAD);
    // E = 100 s: window 40..50 s, eleven 1-second buckets, one account each.
    const secondOfAccount = new Map<number, number>();
    for (let i = 0; i < 11; i++) {
      const due = planner.afterRegistration(100);
      timers.schedule(i, due, noop);
      secondOfAccount.set(i, secondOf(due));
    }
    assert.deepEqual([...secondOfAccount.values()].sort((a, b) => a - b), [40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50]);
    const accountAt = (s: number): number => [...secondOfAccount].find(([, sec]) => sec === s)?.[0] as number;

    timers.cancel(accountAt(44));
    assert.equal(load.countAt(44), 0);
    const afterCancel = planner.afterRegistration(100);
    assert.equal(secondOf(afterCancel), 44, 'the freed bucket is the only empty one');
    timers.schedule('x', afterCancel, noop);

    timers.schedule(accountAt(47), 60 * S, noop);
    assert.equal(load.countAt(47), 0);
    assert.equal(secondOf(planner.afterRegistration(100)), 47, 're-planning moved the load out of 47');

    clock.advance(41 * S);
    assert.equal(load.countAt(40), 0, 'the fired refresh no longer counts');
    assert.equal(timers.size, 10, '11 − cancelled + x − fired');
  });
});

describe('RefreshPlanner.restore (start-up, SPEC §3 status 2)', () => {
  const now = 100_000 * S;
  const ONCE: RefreshIntervals = { reregisterInterval: 1 };

  it('counts the row times from the moment the DB clock was read, however long the load has taken since', () => {
    const readAt = now;
    const { clock, planner } = setup(ONCE, readAt);
    clock.advance(10 * S);
    assert.deepEqual(planner.restore({ readAt, lastRegistrationOffsetSec: -3570, expiryOffsetSec: 30 }), { dueAt: readAt + 30 * S, warning: undefined });
    assert.deepEqual(planner.restore({ readAt, lastRegistrationOffsetSec: -3595, expiryOffsetSec: 5 }), { dueAt: clock.now() },
      'expired during the load: at once');
    const future = planner.restore({ readAt, lastRegistrationOffsetSec: 60, expiryOffsetSec: 3660 });
    assert.equal(future.dueAt, readAt + 3660 * S, 'a last_registration in the future counts from the reading');
  });

  it('refreshes at once when the expiry is past, now or unknown', () => {
    const { planner } = setup(SPREAD, now);
    assert.deepEqual(planner.restore({ readAt: now, lastRegistrationOffsetSec: -4000, expiryOffsetSec: -400 }), { dueAt: now });
    assert.deepEqual(planner.restore({ readAt: now, lastRegistrationOffsetSec: -3600, expiryOffsetSec: 0 }), { dueAt: now });
    assert.deepEqual(planner.restore({ readAt: now, lastRegistrationOffsetSec: null, expiryOffsetSec: null }), { dueAt: now });
  });

  it('plans from last_registration like after a 2xx then', () => {
    const { planner } = setup(SPREAD, now);
    const { dueAt, warning } = planner.restore({ readAt: now, lastRegistrationOffsetSec: -600, expiryOffsetSec: 3000 });
    assert.equal(warning, undefined);
    assert.ok(dueAt >= now + 840 * S && dueAt <= now + 1200 * S, `due ${dueAt - now} ms from now`);
    const fixed = setup(FIXED, now).planner.restore({ readAt: now, lastRegistrationOffsetSec: -600, expiryOffsetSec: 3000 });
    assert.deepEqual(fixed, { dueAt: now + 1200 * S, warning: undefined });
  });

  it('clamps a last_registration in the future to now, with a warning', () => {
    const { planner } = setup(SPREAD, now);
    const { dueAt, warning } = planner.restore({ readAt: now, lastRegistrationOffsetSec: 120, expiryOffsetSec: 3600 });
    assert.match(warning ?? '', /last_registration.*120 s in the future/);
    assert.ok(dueAt >= now + 1440 * S && dueAt <= now + 1800 * S, `due ${dueAt - now} ms from now`);
  });

  it('counts a NULL last_registration as now', () => {
    const { planner } = setup(FIXED, now);
    assert.deepEqual(planner.restore({ readAt: now, lastRegistrationOffsetSec: null, expiryOffsetSec: 3600 }), {
      dueAt: now + 1800 * S,
      warning: undefined,
    });
  });

  it('cuts a window that began in the past to the present, and one wholly past to now', () => {
    const { planner } = setup(SPREAD, now);
    for (let i = 0; i < 200; i++) {
      const { dueAt } = planner.restore({ readAt: now, lastRegistrationOffsetSec: -1500, expiryOffsetSec: 2100 });
      assert.ok(dueAt >= now && dueAt <= now + 300 * S, `due ${dueAt - now} ms from now`);
    }
    assert.deepEqual(planner.restore({ readAt: now, lastRegistrationOffsetSec: -3000, expiryOffsetSec: 600 }), {
      dueAt: now,
      warning: undefined,
    });
  });

  it('sends nothing before the refresh times when a registered population restarts', () => {
    const { load, timers, planner } = setup(SPREAD, now);
    const n = 10_000;
    for (let i = 0; i < n; i++) {
      const ago = (i * 137) % 1400; // registered within the last 1400 s, 3600 s granted
      const { dueAt } = planner.restore({ readAt: now, lastRegistrationOffsetSec: -ago, expiryOffsetSec: 3600 - ago });
      assert.ok(dueAt >= now + (1440 - ago) * S && dueAt <= now + (1800 - ago) * S, `row ${i}: ${dueAt - now} ms`);
      timers.schedule(i, dueAt, noop);
    }
    assert.ok((timers.nextDue as number) > now + 40 * S);
    // The windows together cover 1760 s; placed one by one they must still fill it evenly.
    const counts = bucketCounts(load, now + 40 * S, now + 1800 * S);
    assert.ok(Math.max(...counts) <= Math.ceil(n / 1760) + 1, `a bucket holds ${Math.max(...counts)}`);
  });
});
