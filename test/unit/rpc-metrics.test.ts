/**
 * getStatistics and the status writer's figures → Prometheus exposition, without
 * sockets. A scrape over HTTP is in test/integration/rpc-metrics.test.ts.
 */
import assert from 'node:assert/strict';
import { TransactionStats } from '../../src/agent/transaction-stats';
import type { DiValue } from '../../src/core/di';
import { DaemonMetrics, histogramSamples, readEngineFigures, type WriterFigures } from '../../src/rpc/metrics';
import { metricsRoute } from '../../src/rpc/metrics-server';
import { parseExposition } from '../support/prometheus';

const WRITER: WriterFigures = { pending: 3, written: 40, errors: 2, dropped: 1, dbAvailable: false, latencyMs: { count: 40, sum: 500 } };

function statistics(): DiValue {
  const t = new TransactionStats();
  t.sent('register');
  t.sent('register');
  t.sent('deregister');
  t.finished('register', 200, 0.004);
  t.finished('register', 401, 0.02);
  t.finished('deregister', 408, 32.5);
  return {
    registrations: 6,
    by_status: { '0': 1, '1': 0, '2': 4, '3': 1, '4': 0, '5': 0 },
    sent: t.sentTotals(),
    replies: t.outcomeTotals(),
    transactions: t.snapshot(),
    in_flight: 2,
    ratelimit_queue: 7,
    window_queue: 5,
    timers: 4,
  };
}

describe('metrics mapping', () => {
  it('reads getStatistics into figures', () => {
    const f = readEngineFigures(statistics());
    assert.deepEqual(f.byStatus, { '0': 1, '1': 0, '2': 4, '3': 1, '4': 0, '5': 0 });
    assert.deepEqual(f.methods.map((m) => [m.method, m.sent, m.replies]), [
      ['REGISTER', 2, { '200': 1, '401': 1 }],
      ['deREGISTER', 1, { '408': 1 }],
    ]);
    assert.equal(f.methods[1]?.latency.count, 1);
    assert.deepEqual([f.inFlight, f.rateLimitQueue, f.windowQueue, f.timers], [2, 7, 5, 4]);
  });

  it('reads a malformed or foreign result as zeros, never throws', () => {
    const foreign: DiValue[] = [null, 5, 'x', [], { by_status: [1], transactions: { REGISTER: 'no' }, in_flight: 'many' }];
    for (const v of foreign) {
      const f = readEngineFigures(v);
      assert.equal(f.inFlight, 0);
      for (const m of f.methods) assert.deepEqual(m.latency, { bounds: [], cumulative: [], sum: 0, count: 0 });
    }
    const uneven = readEngineFigures({ transactions: { REGISTER: { latency: { bounds: [0.1, 1], cumulative: [3], sum: 0.2, count: 4 } } } });
    assert.deepEqual(uneven.methods[0]?.latency, { bounds: [0.1], cumulative: [3], sum: 0.2, count: 4 }, 'unpaired bounds are left out');
  });

  it('renders pre-counted buckets as a Prometheus histogram with a +Inf bucket', () => {
    const samples = histogramSamples('h', { method: 'REGISTER' }, { bounds: [0.1, 1], cumulative: [2, 3], sum: 1.5, count: 4 });
    assert.deepEqual(samples.map((s) => [s.metricName, s.labels.le, s.value]), [
      ['h_bucket', '0.1', 2], ['h_bucket', '1', 3], ['h_bucket', '+Inf', 4], ['h_sum', undefined, 1.5], ['h_count', undefined, 4],
    ]);
  });

  it('exposes every figure under its documented name', async () => {
    const metrics = new DaemonMetrics();
    const text = await metrics.render({ engine: readEngineFigures(statistics()), writer: WRITER });
    const m = parseExposition(text);
    assert.equal(m.type('db_reg_agent_registrations'), 'gauge');
    assert.equal(m.value('db_reg_agent_registrations', { status: '2' }), 4);
    assert.equal(m.value('db_reg_agent_registrations', { status: '5' }), 0);
    assert.equal(m.type('db_reg_agent_requests_sent_total'), 'counter');
    assert.equal(m.value('db_reg_agent_requests_sent_total', { method: 'REGISTER' }), 2);
    assert.equal(m.value('db_reg_agent_requests_sent_total', { method: 'deREGISTER' }), 1);
    assert.equal(m.value('db_reg_agent_final_replies_total', { method: 'REGISTER', code: '401' }), 1);
    assert.equal(m.value('db_reg_agent_final_replies_total', { method: 'deREGISTER', code: '408' }), 1);
    assert.equal(m.type('db_reg_agent_transaction_duration_seconds'), 'histogram');
    assert.equal(m.value('db_reg_agent_transaction_duration_seconds_bucket', { method: 'REGISTER', le: '0.005' }), 1);
    assert.equal(m.value('db_reg_agent_transaction_duration_seconds_bucket', { method: 'REGISTER', le: '0.025' }), 2);
    assert.equal(m.value('db_reg_agent_transaction_duration_seconds_bucket', { method: 'deREGISTER', le: '32' }), 0);
    assert.equal(m.value('db_reg_agent_transaction_duration_seconds_bucket', { method: 'deREGISTER', le: '+Inf' }), 1);
    assert.equal(m.value('db_reg_agent_transaction_duration_seconds_sum', { method: 'deREGISTER' }), 32.5);
    assert.equal(m.value('db_reg_agent_transaction_duration_seconds_count', { method: 'REGISTER' }), 2);
    assert.equal(m.value('db_reg_agent_transactions_in_flight'), 2);
    assert.equal(m.value('db_reg_agent_ratelimit_queue_length'), 7);
    assert.equal(m.value('db_reg_agent_congestion_window_queue_length'), 5);
    assert.equal(m.value('db_reg_agent_timers'), 4);
    assert.equal(m.type('db_reg_agent_event_loop_delay_p99_seconds'), 'gauge');
    assert.equal(m.type('db_reg_agent_db_write_duration_seconds'), 'summary');
    assert.equal(m.value('db_reg_agent_db_write_duration_seconds_sum'), 0.5);
    assert.equal(m.value('db_reg_agent_db_write_duration_seconds_count'), 40);
    assert.equal(m.value('db_reg_agent_db_writes_total'), 40);
    assert.equal(m.value('db_reg_agent_db_write_errors_total'), 2);
    assert.equal(m.value('db_reg_agent_db_writes_dropped_total'), 1);
    assert.equal(m.value('db_reg_agent_db_writes_pending'), 3);
    assert.equal(m.value('db_reg_agent_db_available'), 0);
    assert.ok((m.value('process_resident_memory_bytes') ?? 0) > 0, 'prom-client default process metrics');
  });

  it('each scrape shows its own snapshot: figures are replaced, not added up', async () => {
    const metrics = new DaemonMetrics();
    const engine = readEngineFigures(statistics());
    await metrics.render({ engine, writer: WRITER });
    const m = parseExposition(await metrics.render({ engine: { ...engine, byStatus: { '2': 1 } }, writer: { ...WRITER, written: 41 } }));
    assert.equal(m.value('db_reg_agent_registrations', { status: '2' }), 1);
    assert.equal(m.value('db_reg_agent_registrations', { status: '0' }), undefined, 'a status no longer reported is gone');
    assert.equal(m.value('db_reg_agent_db_writes_total'), 41);
    assert.equal(m.value('db_reg_agent_requests_sent_total', { method: 'REGISTER' }), 2);
  });

  it('reports how late the event loop came round since the previous scrape, without the 10 ms sampling interval', async () => {
    const metrics = new DaemonMetrics();
    try {
      const delay = async (): Promise<{ p99: number; max: number }> => {
        const m = parseExposition(await metrics.render({ engine: readEngineFigures(statistics()) }));
        return { p99: m.value('db_reg_agent_event_loop_delay_p99_seconds') ?? -1, max: m.value('db_reg_agent_event_loop_delay_max_seconds') ?? -1 };
      };
      await delay();
      // Node measures from one sample to the next: give the restarted histogram its first sample.
      await new Promise((resolve) => setTimeout(resolve, 30));
      const blockedUntil = Date.now() + 150;
      while (Date.now() < blockedUntil) {
        // a handler that holds the loop for 150 ms
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
      const blocked = await delay();
      assert.ok(blocked.max >= 0.12 && blocked.max < 1, `a 150 ms block shows as ${blocked.max} s`);
      // The next interval starts afresh; an idle loop is late by far less than the sampling interval.
      await new Promise((resolve) => setTimeout(resolve, 200));
      const idle = await delay();
      assert.ok(idle.max < 0.12, `the block is not reported twice (max ${idle.max} s)`);
      assert.ok(idle.p99 >= 0 && idle.p99 <= idle.max, `p99 ${idle.p99} s within [0, max]`);
    } finally {
      metrics.close();
    }
  });

  it('routes GET and HEAD /metrics to a scrape; 405 for other methods there, 404 elsewhere', () => {
    assert.equal(metricsRoute('GET', '/metrics'), 'scrape');
    assert.equal(metricsRoute('HEAD', '/metrics?x=1'), 'scrape');
    assert.equal(metricsRoute('POST', '/metrics'), 405);
    assert.equal(metricsRoute('GET', '/'), 404);
    assert.equal(metricsRoute('GET', '/metrics/'), 404);
    assert.equal(metricsRoute(undefined, undefined), 404);
  });
});
