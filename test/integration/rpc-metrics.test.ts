/**
 * The metrics server over real HTTP, in front of a DI registry: what a Prometheus
 * server scraping it sees. The daemon's /metrics against MariaDB and Kamailio is in
 * rpc-e2e.test.ts.
 */
import assert from 'node:assert/strict';
import { DiRegistry, DiNotImplementedError, type DiInterface, type DiValue } from '../../src/core/di';
import { TransactionStats } from '../../src/agent/transaction-stats';
import { MetricsServer } from '../../src/rpc/metrics-server';
import type { WriterFigures } from '../../src/rpc/metrics';
import { parseExposition, scrape } from '../support/prometheus';

/** A db_reg_agent whose getStatistics changes between scrapes, like the engine's. */
class StatisticsOnly implements DiInterface {
  readonly transactions = new TransactionStats();
  active = 0;
  functions(): string[] {
    return ['getStatistics'];
  }
  invoke(fn: string): DiValue {
    if (fn !== 'getStatistics') throw new DiNotImplementedError(fn);
    return {
      by_status: { '0': 0, '1': 0, '2': this.active, '3': 0, '4': 0, '5': 0 },
      transactions: this.transactions.snapshot(),
      in_flight: 0, ratelimit_queue: 0, window_queue: 0,
    };
  }
}

describe('metrics server (integration)', () => {
  let server: MetricsServer | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  async function start(registry: DiRegistry, writer?: () => WriterFigures): Promise<number> {
    server = new MetricsServer({ port: 0, listen: '127.0.0.1' }, registry, writer);
    await server.start();
    return server.address().port;
  }

  it('serves current figures at GET /metrics in the Prometheus text format', async () => {
    const registry = new DiRegistry();
    const engine = new StatisticsOnly();
    registry.register('db_reg_agent', engine);
    let written = 0;
    const port = await start(registry, () => ({ pending: 0, written, errors: 0, dropped: 0, dbAvailable: true, latencyMs: { count: written, sum: 2 * written } }));

    const first = await scrape(port);
    assert.equal(first.status, 200);
    assert.match(first.type, /^text\/plain; version=0\.0\.4/);
    assert.equal(parseExposition(first.body).value('db_reg_agent_registrations', { status: '2' }), 0);

    engine.active = 3;
    for (let i = 0; i < 3; i++) {
      engine.transactions.sent('register');
      engine.transactions.finished('register', 200, 0.002);
    }
    written = 3;
    const m = parseExposition((await scrape(port)).body);
    assert.equal(m.value('db_reg_agent_registrations', { status: '2' }), 3);
    assert.equal(m.value('db_reg_agent_final_replies_total', { method: 'REGISTER', code: '200' }), 3);
    assert.equal(m.value('db_reg_agent_transaction_duration_seconds_bucket', { method: 'REGISTER', le: '0.0025' }), 3);
    assert.equal(m.value('db_reg_agent_db_writes_total'), 3);
    assert.equal(m.value('db_reg_agent_db_write_duration_seconds_sum'), 0.006);
    assert.equal(m.value('db_reg_agent_db_available'), 1);
  });

  it('answers 404 elsewhere, 405 to other methods, HEAD without a body', async () => {
    const registry = new DiRegistry();
    registry.register('db_reg_agent', new StatisticsOnly());
    const port = await start(registry);
    assert.equal((await scrape(port, '/')).status, 404);
    assert.equal((await scrape(port, '/metrics.json')).status, 404);
    assert.equal((await scrape(port, '/metrics', 'POST')).status, 405);
    const head = await scrape(port, '/metrics', 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
  });

  it('answers 503 while db_reg_agent is not registered, and 500 when getStatistics fails', async () => {
    const registry = new DiRegistry();
    const port = await start(registry);
    assert.equal((await scrape(port)).status, 503);
    registry.register('db_reg_agent', { functions: () => [], invoke: () => Promise.reject(new Error('engine gone')) });
    assert.equal((await scrape(port)).status, 500);
  });
});
