/**
 * How the status writer forms batches, against a target that answers when told to
 * (the real table is written by test/integration/db-status-writer.test.ts).
 */
import { strict as assert } from 'node:assert';
import type { KeyedWrite } from '../../src/db/registration-store';
import { StatusWriter, type RegistrationWriteTarget } from '../../src/db/status-writer';
import { getLogLevel, logThrough, logToStderr, setLogLevel, LogLevel } from '../../src/process/log';

class HeldTarget implements RegistrationWriteTarget {
  readonly table = 'registrations';
  readonly batches: number[][] = [];
  private readonly releases: (() => void)[] = [];

  applyAll(writes: readonly KeyedWrite[]): Promise<void> {
    this.batches.push(writes.map((w) => w.key.id));
    return new Promise((resolve) => this.releases.push(resolve));
  }

  /** Lets the oldest batch in flight succeed. */
  release(): void {
    this.releases.shift()?.();
  }

  get inFlight(): number {
    return this.releases.length;
  }
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const subscriber = (id: number): { type: 'subscriber'; id: number } => ({ type: 'subscriber', id });
const ok = { lastCode: 200, lastReason: 'OK' };

describe('StatusWriter batching', () => {
  it('after close(), records are not written and only the first one is logged above debug level', () => {
    const target = new HeldTarget();
    const writer = new StatusWriter(target, { concurrency: 4, batchSize: 10, lingerMs: 0 });
    const saved = getLogLevel();
    const lines: string[] = [];
    logThrough((_level, line) => lines.push(line));
    setLogLevel(LogLevel.Info);
    try {
      writer.close();
      for (let id = 1; id <= 500; id++) writer.update(subscriber(id), ok);
    } finally {
      setLogLevel(saved);
      logToStderr();
    }
    assert.deepEqual(lines, ['[db] status writer closed: update of subscriber 1 not stored (later ones only at debug level)']);
    assert.deepEqual(target.batches, []);
  });

  it('writes a lone record at once, and what arrives during its round trip together in the next batch', async () => {
    const target = new HeldTarget();
    const writer = new StatusWriter(target, { concurrency: 4, batchSize: 10, lingerMs: 0 });
    writer.update(subscriber(1), ok);
    await turn();
    assert.deepEqual(target.batches, [[1]]);
    for (let id = 2; id <= 6; id++) {
      writer.update(subscriber(id), ok);
      await turn();
    }
    assert.equal(target.inFlight, 1, 'a short queue waits for the batch in flight');
    target.release();
    await turn();
    await turn();
    assert.deepEqual(target.batches, [[1], [2, 3, 4, 5, 6]]);
    target.release();
    assert.equal(await writer.flush(1000), true);
  });

  it('starts a batch short of full no sooner than lingerMs after the previous short one; a full one at once', async () => {
    const target = new HeldTarget();
    const writer = new StatusWriter(target, { concurrency: 4, batchSize: 10, lingerMs: 200 });
    writer.update(subscriber(1), ok);
    await turn();
    assert.deepEqual(target.batches, [[1]], 'an idle writer writes a lone record at once');
    writer.update(subscriber(2), ok);
    await turn();
    target.release();
    await turn();
    await turn();
    assert.deepEqual(target.batches, [[1]], 'a short batch waits while the previous one is younger than lingerMs');
    for (let id = 3; id <= 12; id++) writer.update(subscriber(id), ok);
    await turn();
    assert.deepEqual(target.batches, [[1], [2, 3, 4, 5, 6, 7, 8, 9, 10, 11]], 'a full batch goes at once');
    target.release();
    const waitedFrom = performance.now();
    for (let polls = 0; polls < 100 && target.batches.length < 3; polls++) await new Promise((resolve) => setTimeout(resolve, 5));
    assert.deepEqual(target.batches, [[1], [2, 3, 4, 5, 6, 7, 8, 9, 10, 11], [12]]);
    assert.ok(performance.now() - waitedFrom > 100, 'the last short batch waited for the linger time');
    target.release();
    assert.equal(await writer.flush(1000), true);
  });

  it('writes a short queue beside a batch in flight for longer than slowBatchMs, keeping its accounts\' records back', async () => {
    const target = new HeldTarget();
    const writer = new StatusWriter(target, { concurrency: 4, batchSize: 10, lingerMs: 0, slowBatchMs: 100 });
    writer.update(subscriber(1), ok);
    await turn();
    writer.update(subscriber(1), { lastCode: 408, lastReason: 'Timeout' });
    writer.update(subscriber(2), ok);
    await turn();
    assert.deepEqual(target.batches, [[1]], 'held back while the batch in flight may still be a round trip');
    await new Promise((resolve) => setTimeout(resolve, 150));
    assert.deepEqual(target.batches, [[1], [2]], 'account 1\'s newer record waits for its batch in flight');
    target.release();
    target.release();
    await turn();
    await turn();
    assert.deepEqual(target.batches, [[1], [2], [1]]);
    target.release();
    assert.equal(await writer.flush(1000), true);
  });

  it('writes a backlog of at least a batch in parallel batches, up to the concurrency', async () => {
    const target = new HeldTarget();
    const writer = new StatusWriter(target, { concurrency: 3, batchSize: 10 });
    for (let id = 1; id <= 100; id++) writer.update(subscriber(id), ok);
    await turn();
    assert.equal(target.inFlight, 3);
    assert.deepEqual(target.batches.map((b) => b.length), [10, 10, 10]);
    while (target.inFlight > 0) {
      target.release();
      await turn();
      await turn();
    }
    assert.equal(target.batches.flat().length, 100);
    assert.equal(await writer.flush(1000), true);
  });
});
