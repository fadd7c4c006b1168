import assert from 'node:assert/strict';
import { FakeClock, MAX_TIMER_DELAY_MS, delayUntil, systemClock } from '../../src/core/clock';

describe('FakeClock', () => {
  it('fires due timers in due order, each seeing its own due time as now()', () => {
    const clock = new FakeClock(1000);
    const seen: string[] = [];
    clock.setTimeout(() => seen.push(`c@${clock.now()}`), 300);
    clock.setTimeout(() => seen.push(`a@${clock.now()}`), 100);
    clock.setTimeout(() => seen.push(`b@${clock.now()}`), 100);
    clock.setTimeout(() => seen.push(`late@${clock.now()}`), 5000);
    clock.advance(300);
    assert.deepEqual(seen, ['a@1100', 'b@1100', 'c@1300']);
    assert.equal(clock.now(), 1300);
    assert.equal(clock.pendingTimers, 1);
  });

  it('fires timers that callbacks set inside the span, and not those cleared', () => {
    const clock = new FakeClock();
    const seen: number[] = [];
    const cleared = clock.setTimeout(() => seen.push(-1), 50);
    clock.setTimeout(() => {
      seen.push(clock.now());
      clock.setTimeout(() => seen.push(clock.now()), 20);
      clock.clearTimeout(cleared);
    }, 10);
    clock.advance(100);
    assert.deepEqual(seen, [10, 30]);
    assert.equal(clock.now(), 100);
    assert.equal(clock.pendingTimers, 0);
    assert.equal(clock.timersStarted, 3);
  });

  it('rejects delays Node would not honour, like the system clock', () => {
    const clock = new FakeClock();
    assert.throws(() => clock.setTimeout(() => undefined, MAX_TIMER_DELAY_MS + 1), RangeError);
    assert.throws(() => clock.setTimeout(() => undefined, -1), RangeError);
    assert.throws(() => systemClock.setTimeout(() => undefined, MAX_TIMER_DELAY_MS + 1), RangeError);
    assert.throws(() => clock.advance(-5), RangeError);
  });

  it('delayUntil rounds up, never goes negative and caps at the setTimeout limit', () => {
    const clock = new FakeClock(100);
    assert.equal(delayUntil(clock, 150.2), 51);
    assert.equal(delayUntil(clock, 50), 0);
    assert.equal(delayUntil(clock, 100 + 30 * 86_400_000), MAX_TIMER_DELAY_MS);
  });
});

describe('systemClock', () => {
  it('is monotonic and its timers fire', async () => {
    const before = systemClock.now();
    await new Promise<void>((resolve) => systemClock.setTimeout(resolve, 5));
    assert.ok(systemClock.now() - before >= 4, 'at least the delay passed (1 ms timer granularity)');
  });

  it('clearTimeout stops a timer', async () => {
    let fired = false;
    const handle = systemClock.setTimeout(() => (fired = true), 1);
    systemClock.clearTimeout(handle);
    await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(fired, false);
  });
});
