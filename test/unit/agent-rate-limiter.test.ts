import assert from 'node:assert/strict';
import { FakeClock } from '../../src/core/clock';
import { TokenBucket, Unlimited, createRateLimiter, type RateLimiter } from '../../src/agent/rate-limiter';

/** Most requests granted in any closed window [t, t + windowMs] starting at a grant. */
function maxInWindow(times: number[], windowMs: number): number {
  let max = 0;
  let end = 0;
  for (let start = 0; start < times.length; start++) {
    while (end < times.length && times[end] <= times[start] + windowMs) end++;
    max = Math.max(max, end - start);
  }
  return max;
}

describe('TokenBucket', () => {
  let clock: FakeClock;
  let grants: number[];
  let order: number[];
  let submitted: number;
  const submitMany = (limiter: RateLimiter, count: number): void => {
    for (let i = 0; i < count; i++) {
      const id = submitted++;
      limiter.submit(() => {
        grants.push(clock.now());
        order.push(id);
      });
    }
  };

  beforeEach(() => {
    clock = new FakeClock();
    grants = [];
    order = [];
    submitted = 0;
  });

  it('never passes more than rate + capacity in any `per` window under a long steady overload', () => {
    const limiter = new TokenBucket(clock, { rate: 5, perSeconds: 10, slowstart: false });
    for (let second = 0; second < 1000; second++) {
      submitMany(limiter, 2);
      assert.ok(clock.pendingTimers <= 1, 'one timer at a time');
      clock.advance(1000);
    }
    assert.ok(maxInWindow(grants, 10_000) <= 10, `a 10 s window held ${maxInWindow(grants, 10_000)}`);
    assert.ok(grants.length >= 504 && grants.length <= 506, `sustained 0.5/s plus the burst, got ${grants.length}`);
    assert.equal(grants.length + limiter.queueLength, submitted, 'nothing dropped');
    clock.advance(3000 * 1000);
    assert.equal(grants.length, submitted);
    assert.deepEqual(order, Array.from({ length: submitted }, (_, i) => i), 'FIFO');
    assert.ok(clock.timersStarted <= grants.length, `one timer per token at most, ${clock.timersStarted} set`);
    assert.equal(clock.pendingTimers, 0);
  });

  it('passes a full bucket at once, then one per per/rate — exactly rate + capacity in the first window', () => {
    const limiter = new TokenBucket(clock, { rate: 5, perSeconds: 10, slowstart: false });
    submitMany(limiter, 100);
    assert.deepEqual(grants, [0, 0, 0, 0, 0], 'the burst runs synchronously');
    assert.equal(limiter.queueLength, 95);
    clock.advance(12_000);
    assert.deepEqual(grants, [0, 0, 0, 0, 0, 2000, 4000, 6000, 8000, 10_000, 12_000]);
    assert.equal(maxInWindow(grants, 10_000), 10);
  });

  it('with slowstart starts empty: the first window passes at most rate', () => {
    const limiter = new TokenBucket(clock, { rate: 5, perSeconds: 10, slowstart: true });
    submitMany(limiter, 100);
    assert.deepEqual(grants, []);
    clock.advance(10_000);
    assert.deepEqual(grants, [2000, 4000, 6000, 8000, 10_000]);
    clock.advance(100_000);
    const gaps = grants.slice(1).map((t, i) => t - grants[i]);
    assert.ok(gaps.every((gap) => gap === 2000), 'then one every per/rate, no bursts');
  });

  it('holds the bound with a rate that does not divide the period into whole milliseconds', () => {
    const limiter = new TokenBucket(clock, { rate: 3, perSeconds: 1, slowstart: false });
    submitMany(limiter, 1000);
    clock.advance(300_000);
    assert.ok(maxInWindow(grants, 1000) <= 6, `a 1 s window held ${maxInWindow(grants, 1000)}`);
    assert.ok(grants.length >= 902 && grants.length <= 903, `3/s for 300 s plus 3, got ${grants.length}`);
  });

  it('caps the tokens saved while idle at the capacity', () => {
    const limiter = new TokenBucket(clock, { rate: 5, perSeconds: 10, slowstart: true });
    clock.advance(3_600_000);
    submitMany(limiter, 20);
    assert.equal(grants.length, 5);
  });

  it('keeps FIFO order across timers and for requests submitted by running actions', () => {
    const limiter = new TokenBucket(clock, { rate: 2, perSeconds: 1, slowstart: true });
    const seen: string[] = [];
    limiter.submit(() => {
      seen.push('a');
      limiter.submit(() => seen.push('a-child'));
    });
    limiter.submit(() => seen.push('b'));
    limiter.submit(() => seen.push('c'));
    clock.advance(700);
    limiter.submit(() => seen.push('d'));
    clock.advance(5000);
    assert.deepEqual(seen, ['a', 'b', 'c', 'a-child', 'd']);
  });

  it('carries on after a throwing action', () => {
    const errors: unknown[] = [];
    const limiter = new TokenBucket(clock, { rate: 1, perSeconds: 1, slowstart: false }, (e) => errors.push(e));
    const seen: number[] = [];
    limiter.submit(() => {
      throw new Error('boom');
    });
    limiter.submit(() => seen.push(clock.now()));
    clock.advance(1000);
    assert.equal(errors.length, 1);
    assert.deepEqual(seen, [1000]);
  });

  it('stop() forgets the waiting requests and its timer', () => {
    const limiter = new TokenBucket(clock, { rate: 1, perSeconds: 1, slowstart: false });
    submitMany(limiter, 4);
    assert.equal(limiter.stop(), 3);
    assert.equal(limiter.queueLength, 0);
    assert.equal(clock.pendingTimers, 0);
    clock.advance(10_000);
    assert.equal(grants.length, 1);
  });

  it('rejects a rate or period that is not positive', () => {
    assert.throws(() => new TokenBucket(clock, { rate: 0, perSeconds: 1, slowstart: false }), RangeError);
    assert.throws(() => new TokenBucket(clock, { rate: 1, perSeconds: 0, slowstart: false }), RangeError);
  });
});

describe('rate limiting disabled', () => {
  it('passes everything at once, in order, with nothing waiting', () => {
    const clock = new FakeClock();
    const limiter = createRateLimiter(clock, undefined);
    assert.ok(limiter instanceof Unlimited);
    const seen: number[] = [];
    for (let i = 0; i < 10_000; i++) limiter.submit(() => seen.push(i));
    assert.equal(seen.length, 10_000);
    assert.deepEqual(seen.slice(0, 3), [0, 1, 2]);
    assert.equal(limiter.queueLength, 0);
    assert.equal(clock.timersStarted, 0);
    assert.equal(limiter.stop(), 0);
  });

  it('survives a throwing action', () => {
    const errors: unknown[] = [];
    const limiter = new Unlimited((e) => errors.push(e));
    let ran = false;
    limiter.submit(() => {
      throw new Error('boom');
    });
    limiter.submit(() => (ran = true));
    assert.equal(errors.length, 1);
    assert.equal(ran, true);
  });

  it('createRateLimiter builds a token bucket from a config', () => {
    assert.ok(createRateLimiter(new FakeClock(), { rate: 1, perSeconds: 1, slowstart: false }) instanceof TokenBucket);
  });
});
