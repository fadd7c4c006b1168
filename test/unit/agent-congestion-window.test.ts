import assert from 'node:assert/strict';
import { CongestionWindow } from '../../src/agent/congestion-window';
import { Fifo } from '../../src/agent/fifo';

describe('Fifo', () => {
  it('keeps order across compactions', () => {
    const q = new Fifo<number>();
    const out: number[] = [];
    for (let i = 0; i < 5000; i++) {
      q.push(i);
      if (i % 3 === 0) out.push(q.shift() as number);
    }
    while (q.length > 0) out.push(q.shift() as number);
    assert.deepEqual(out, Array.from({ length: 5000 }, (_, i) => i));
    assert.equal(q.shift(), undefined);
  });
});

describe('CongestionWindow', () => {
  let t = 0;
  const now = (): number => t;
  /** A window whose items are not looked at: the tests of its size. */
  const sizedWindow = (max: number, min: number, initial: number): CongestionWindow<null> =>
    new CongestionWindow<null>(() => undefined, max, now, min, initial);
  beforeEach(() => {
    t = 0;
  });

  it('never runs more than the window at once and admits waiters in FIFO order', () => {
    const started: number[] = [];
    const w = new CongestionWindow<number>((i) => started.push(i), 4, now, 2, 4);
    for (let i = 0; i < 10; i++) w.enter(i);
    assert.deepEqual(started, [0, 1, 2, 3]);
    assert.equal(w.pending, 4);
    assert.equal(w.queued, 6);
    w.leave('ok');
    assert.deepEqual(started, [0, 1, 2, 3, 4]);
    assert.equal(w.pending, 4, 'window is capped at max');
  });

  it('items that leave inside their start (a stopped engine drops its queue) are admitted in one loop, not one nested call each', () => {
    const started: number[] = [];
    let endAtOnce = false;
    const w: CongestionWindow<number> = new CongestionWindow<number>((i) => {
      started.push(i);
      if (endAtOnce) w.leave('ok');
    }, 4, now, 2, 4);
    const queued = 200_000;
    for (let i = 0; i < 4 + queued; i++) w.enter(i);
    endAtOnce = true;
    w.leave('ok');
    assert.equal(started.length, 4 + queued, 'every waiter started, without a stack overflow');
    assert.deepEqual([w.pending, w.queued], [3, 0]);
  });

  it('grows in slow start on clean replies, up to max_pending_transactions', () => {
    const w = sizedWindow(100, 8, 8);
    for (let i = 0; i < 8; i++) w.enter(null);
    for (let i = 0; i < 8; i++) w.leave('ok');
    assert.equal(w.size, 16);
    for (let i = 0; i < 500; i++) {
      w.enter(null);
      w.leave('ok');
    }
    assert.equal(w.size, 100);
  });

  it('halves on congestion, once per hold period, never below the minimum', () => {
    const w = sizedWindow(1000, 8, 64);
    for (let i = 0; i < 5; i++) {
      w.enter(null);
      w.leave('congested');
    }
    assert.equal(w.size, 32, 'a burst of signals counts once');
    t += 1500;
    w.enter(null);
    w.leave('congested');
    assert.equal(w.size, 16);
    for (let i = 0; i < 10; i++) {
      t += 1500;
      w.enter(null);
      w.leave('congested');
    }
    assert.equal(w.size, 8);
  });

  it('grows only additively after a congestion (congestion avoidance)', () => {
    const w = sizedWindow(1000, 8, 64);
    w.enter(null);
    w.leave('congested');
    assert.equal(w.size, 32);
    for (let i = 0; i < 40; i++) {
      w.enter(null);
      w.leave('ok');
    }
    assert.equal(w.size, 33, 'about +1 per window of replies, not +1 per reply');
  });
});
