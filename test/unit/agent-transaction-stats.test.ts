/** The engine's transaction counters: buckets as Prometheus reads them (le = inclusive upper bound). */
import assert from 'node:assert/strict';
import { LATENCY_BOUNDS_SECONDS, TransactionStats, bucketIndex, cumulative } from '../../src/agent/transaction-stats';

describe('TransactionStats', () => {
  it('puts an observation in the first bucket whose bound it does not exceed', () => {
    const bounds = [0.01, 0.1, 1];
    assert.equal(bucketIndex(bounds, 0), 0);
    assert.equal(bucketIndex(bounds, 0.01), 0, 'on the bound: inside (le)');
    assert.equal(bucketIndex(bounds, 0.0100001), 1);
    assert.equal(bucketIndex(bounds, 1), 2);
    assert.equal(bucketIndex(bounds, 5), 3, 'beyond every bound: the +Inf slot');
  });

  it('turns per-bucket counts into running totals', () => {
    assert.deepEqual(cumulative([1, 0, 2, 3]), [1, 1, 3, 6]);
    assert.deepEqual(cumulative([]), []);
  });

  it('counts sent requests and final outcomes per method, and totals them for getStatistics', () => {
    const t = new TransactionStats();
    t.sent('register');
    t.sent('register');
    t.sent('deregister');
    t.finished('register', 200, 0.004);
    t.finished('register', 403, 0.004);
    t.finished('deregister', 200, 0.002);
    assert.deepEqual(t.sentTotals(), { REGISTER: 2, deREGISTER: 1 });
    assert.deepEqual(t.outcomeTotals(), { '200': 2, '403': 1 });
    const snap = t.snapshot() as Record<string, { sent: number; replies: Record<string, number> }>;
    assert.equal(snap.REGISTER?.sent, 2);
    assert.deepEqual(snap.REGISTER?.replies, { '200': 1, '403': 1 });
    assert.deepEqual(snap.deREGISTER?.replies, { '200': 1 });
  });

  it('reports latency as bounds with cumulative counts, sum and count (the +Inf bucket)', () => {
    const t = new TransactionStats();
    for (const seconds of [0.0005, 0.003, 0.003, 0.2, 100]) t.finished('register', 200, seconds);
    const { latency } = (t.snapshot() as Record<string, { latency: { bounds: number[]; cumulative: number[]; sum: number; count: number } }>).REGISTER!;
    assert.deepEqual(latency.bounds, LATENCY_BOUNDS_SECONDS);
    assert.equal(latency.cumulative.length, latency.bounds.length);
    const at = (bound: number): number => latency.cumulative[latency.bounds.indexOf(bound)]!;
    assert.equal(at(0.001), 1);
    assert.equal(at(0.005), 3);
    assert.equal(at(0.25), 4);
    assert.equal(at(64), 4, '100 s exceeds every bound');
    assert.equal(latency.count, 5);
    assert.ok(Math.abs(latency.sum - 100.2065) < 1e-9, String(latency.sum));
  });
});
