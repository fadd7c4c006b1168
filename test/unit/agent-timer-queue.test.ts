import assert from 'node:assert/strict';
import { FakeClock, systemClock, type Clock, type TimerHandle } from '../../src/core/clock';
import { TimerQueue, type TimerQueueObserver } from '../../src/agent/timer-queue';

const DAY = 86_400_000;

/** A clock whose timers always fire `lateMs` after they should, like a busy event loop. */
class LateClock implements Clock {
  constructor(private readonly inner: FakeClock, private readonly lateMs: number) {}
  now(): number {
    return this.inner.now();
  }
  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    return this.inner.setTimeout(callback, delayMs + this.lateMs);
  }
  clearTimeout(handle: TimerHandle): void {
    this.inner.clearTimeout(handle);
  }
}

/** Notes every entry entering (+) and leaving (-) as key@due. */
function recordingObserver(events: string[]): TimerQueueObserver<string> {
  return {
    added: (key, due) => events.push(`+${key}@${due}`),
    removed: (key, due) => events.push(`-${key}@${due}`),
  };
}

describe('TimerQueue', () => {
  let clock: FakeClock;
  let fired: string[];
  const record = (name: string) => () => fired.push(`${name}@${clock.now()}`);

  beforeEach(() => {
    clock = new FakeClock();
    fired = [];
  });

  it('fires entries in due-time order, equal due times in scheduling order', () => {
    const queue = new TimerQueue<string>(clock);
    queue.schedule('c', 300, record('c'));
    queue.schedule('a', 100, record('a'));
    queue.schedule('b2', 200, record('b2'));
    queue.schedule('b1', 200, record('b1'));
    queue.schedule('d', 400, record('d'));
    assert.equal(queue.nextDue, 100);
    clock.advance(350);
    assert.deepEqual(fired, ['a@100', 'b2@200', 'b1@200', 'c@300']);
    assert.equal(queue.size, 1);
    assert.equal(queue.nextDue, 400);
  });

  it('replaces an earlier timer of the same key, earlier or later', () => {
    const queue = new TimerQueue<string>(clock);
    queue.schedule('k', 1000, record('first'));
    queue.schedule('other', 500, record('other'));
    queue.schedule('k', 200, record('moved-earlier'));
    assert.equal(queue.size, 2);
    assert.equal(queue.dueAt('k'), 200);
    clock.advance(300);
    queue.schedule('k', 2000, record('again'));
    queue.schedule('k', 3000, record('moved-later'));
    clock.advance(5000);
    assert.deepEqual(fired, ['moved-earlier@200', 'other@500', 'moved-later@3000']);
    assert.equal(queue.size, 0);
  });

  it('cancels an entry; the clock timer follows the new earliest entry', () => {
    const queue = new TimerQueue<string>(clock);
    queue.schedule('a', 100, record('a'));
    queue.schedule('b', 250, record('b'));
    queue.schedule('c', 50, record('c'));
    assert.equal(queue.cancel('c'), true);
    assert.equal(queue.cancel('c'), false);
    assert.equal(queue.cancel('never'), false);
    assert.equal(queue.has('c'), false);
    assert.equal(queue.nextDue, 100);
    clock.advance(99);
    assert.deepEqual(fired, []);
    clock.advance(1);
    assert.deepEqual(fired, ['a@100']);
    queue.cancel('b');
    assert.equal(queue.nextDue, undefined);
    assert.equal(clock.pendingTimers, 0, 'an empty queue holds no clock timer');
    clock.advance(1000);
    assert.deepEqual(fired, ['a@100']);
  });

  it('fires an entry scheduled in the past at once', () => {
    clock.advance(10_000);
    const queue = new TimerQueue<string>(clock);
    queue.schedule('past', 5_000, record('past'));
    clock.advance(0);
    assert.deepEqual(fired, ['past@10000']);
  });

  it('rejects a due time that is not a finite number', () => {
    const queue = new TimerQueue<string>(clock);
    assert.throws(() => queue.schedule('x', NaN, record('x')), RangeError);
    assert.throws(() => queue.schedule('x', Infinity, record('x')), RangeError);
    assert.equal(queue.size, 0);
  });

  it('holds 100 000 entries on one clock timer, re-armed only when the earliest changes', () => {
    const queue = new TimerQueue<number>(clock);
    const n = 100_000;
    const dues = Array.from({ length: n }, (_, i) => 1 + ((i * 7919) % 3_600_000));
    const order: number[] = [];
    let earliest = Infinity;
    let newEarliest = 0;
    dues.forEach((due, i) => {
      if (due < earliest) {
        earliest = due;
        newEarliest++;
      }
      queue.schedule(i, due, () => order.push(clock.now()));
    });
    assert.equal(queue.size, n);
    assert.equal(clock.pendingTimers, 1);
    assert.equal(clock.timersStarted, newEarliest, 'one arm per new earliest entry, none otherwise');
    for (let i = 0; i < n; i += 2) queue.cancel(i);
    assert.equal(queue.size, n / 2);
    clock.advance(3_600_000);
    assert.equal(order.length, n / 2);
    for (let i = 1; i < order.length; i++) assert.ok(order[i - 1] <= order[i], `fired out of order at ${i}`);
    const expected = dues.filter((_, i) => i % 2 === 1).sort((a, b) => a - b);
    assert.deepEqual(order, expected, 'each entry fired exactly at its due time');
    assert.equal(queue.size, 0);
    assert.equal(clock.pendingTimers, 0);
  });

  it('handles delays beyond the 2^31-1 ms setTimeout limit by re-arming', () => {
    const queue = new TimerQueue<string>(clock);
    queue.schedule('month', 30 * DAY, record('month'));
    queue.schedule('year', 365 * DAY, record('year'));
    clock.advance(30 * DAY - 1);
    assert.deepEqual(fired, [], 'the capped timer woke (at 24.8 days) without firing anything');
    clock.advance(1);
    assert.deepEqual(fired, [`month@${30 * DAY}`]);
    clock.advance(400 * DAY);
    assert.deepEqual(fired, [`month@${30 * DAY}`, `year@${365 * DAY}`]);
  });

  it('logs a throwing action and carries on with the others', () => {
    const errors: [string, unknown][] = [];
    const queue = new TimerQueue<string>(clock, { onError: (key, error) => errors.push([key, error]) });
    const boom = new Error('boom');
    queue.schedule('a', 10, record('a'));
    queue.schedule('bad', 20, () => {
      throw boom;
    });
    queue.schedule('c', 20, record('c'));
    queue.schedule('d', 30, record('d'));
    clock.advance(100);
    assert.deepEqual(fired, ['a@10', 'c@20', 'd@30']);
    assert.deepEqual(errors, [['bad', boom]]);
    assert.equal(queue.size, 0);
  });

  it('does not drift when the clock timer fires late', () => {
    const inner = new FakeClock();
    const queue = new TimerQueue<string>(new LateClock(inner, 7));
    const firedAt: number[] = [];
    let due = 1000;
    const tick = (): void => {
      firedAt.push(inner.now());
      due += 1000;
      queue.schedule('periodic', due, tick);
    };
    queue.schedule('periodic', due, tick);
    inner.advance(100_500);
    assert.equal(firedAt.length, 100);
    assert.equal(firedAt[99], 100_007, 'still 7 ms late after 100 periods, not 700');
  });

  it('lets an action schedule and cancel entries while firing', () => {
    const queue = new TimerQueue<string>(clock);
    queue.schedule('a', 10, () => {
      record('a')();
      queue.cancel('b');
      queue.schedule('a2', 15, record('a2'));
      queue.schedule('now', clock.now(), record('now'));
    });
    queue.schedule('b', 12, record('b'));
    queue.schedule('c', 20, record('c'));
    clock.advance(30);
    assert.deepEqual(fired, ['a@10', 'now@10', 'a2@15', 'c@20']);
  });

  it('fires a large due backlog in batches, one clock turn each', () => {
    const queue = new TimerQueue<number>(clock, { batchSize: 10 });
    for (let i = 0; i < 25; i++) queue.schedule(i, 100, record(String(i)));
    const armsBefore = clock.timersStarted;
    clock.advance(100);
    assert.equal(fired.length, 25);
    assert.equal(clock.timersStarted - armsBefore, 2, 'two zero-delay re-arms after the first batch of 10 and 20');
    assert.deepEqual(fired.map((f) => Number(f.split('@')[0])), Array.from({ length: 25 }, (_, i) => i));
  });

  it('does not starve the event loop when an action reschedules itself for now', async () => {
    // Time stands still (as within one millisecond): "now" is always due.
    const frozen: Clock = {
      now: () => 0,
      setTimeout: (callback, delayMs) => systemClock.setTimeout(callback, delayMs),
      clearTimeout: (handle) => systemClock.clearTimeout(handle),
    };
    const queue = new TimerQueue<string>(frozen);
    let runs = 0;
    const again = (): void => {
      runs++;
      queue.schedule('self', 0, again);
    };
    queue.schedule('self', 0, again);
    await new Promise<void>((resolve) => setTimeout(resolve, 20));
    queue.clear();
    assert.ok(runs >= 1 && runs <= 25, `one run per event-loop turn, got ${runs} in 20 ms`);
  });

  it('tells its observer about every entry entering and leaving', () => {
    const events: string[] = [];
    const observer = recordingObserver(events);
    const queue = new TimerQueue<string>(clock, { observer });
    queue.schedule('a', 100, record('a'));
    queue.schedule('a', 200, record('a'));
    queue.schedule('b', 300, record('b'));
    queue.schedule('c', 400, record('c'));
    queue.cancel('b');
    clock.advance(250);
    queue.clear();
    assert.deepEqual(events, ['+a@100', '-a@100', '+a@200', '+b@300', '+c@400', '-b@300', '-a@200', '-c@400']);
    assert.equal(clock.pendingTimers, 0);
  });

  it('keeps entries scheduled unobserved from the observer, also when one replaces the other', () => {
    const events: string[] = [];
    const observer = recordingObserver(events);
    const queue = new TimerQueue<string>(clock, { observer });
    queue.schedule('a', 100, record('a'));
    queue.schedule('a', 150, record('a-deadline'), false); // replaces the observed entry
    queue.schedule('b', 200, record('b-deadline'), false);
    queue.schedule('b', 300, record('b')); // an observed one replaces the deadline
    queue.schedule('c', 400, record('c-deadline'), false);
    queue.cancel('c');
    clock.advance(350);
    assert.deepEqual(fired, ['a-deadline@150', 'b@300']);
    assert.deepEqual(events, ['+a@100', '-a@100', '+b@300', '-b@300']);
  });
});
