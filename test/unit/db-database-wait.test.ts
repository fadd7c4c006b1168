import { strict as assert } from 'node:assert';
import { DatabaseUnavailable, DatabaseWait, StartInterrupted } from '../../src/db/database-wait';
import { LogLevel, getLogLevel, logThrough, logToStderr, setLogLevel } from '../../src/process/log';

const refused = (): Error => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED', fatal: true });
const FAST = { initial: 10, max: 40 };

describe('db: start-up wait for the database', () => {
  const lines: Array<[LogLevel, string]> = [];
  let savedLevel: LogLevel;
  beforeEach(() => {
    savedLevel = getLogLevel();
    setLogLevel(LogLevel.Debug);
    lines.length = 0;
    logThrough((level, line) => lines.push([level, line]));
  });
  afterEach(() => {
    logToStderr();
    setLogLevel(savedLevel);
  });
  const above = (level: LogLevel): string[] => lines.filter(([l]) => l <= level).map(([, line]) => line);

  it('retries a transient failure with backoff; one ERROR for the outage, one INFO when it answers', async () => {
    const wait = new DatabaseWait({ where: 'db.example:3306', giveUpAfterMs: 0, delayMs: FAST });
    const at: number[] = [];
    let calls = 0;
    const started = performance.now();
    const result = await wait.run('SELECT 1', async () => {
      at.push(performance.now() - started);
      if (++calls < 5) throw refused();
      return 'up';
    });
    assert.equal(result, 'up');
    assert.equal(calls, 5);
    const gaps = at.slice(1).map((t, i) => t - (at[i] ?? 0));
    // 10, 20, 40, 40 ms (timers fire late, never early)
    for (const [i, least] of [10, 20, 40, 40].entries()) assert.ok((gaps[i] ?? 0) >= least - 1, `gap ${i}: ${gaps[i]} ms`);
    const logged = above(LogLevel.Info);
    assert.equal(logged.length, 2, logged.join('\n'));
    assert.deepEqual(lines.filter(([l]) => l <= LogLevel.Info).map(([l]) => l), [LogLevel.Error, LogLevel.Info]);
    assert.match(logged[0] ?? '', /^\[db\] database at db\.example:3306 unavailable at start-up \(SELECT 1\): ECONNREFUSED: connect ECONNREFUSED/);
    assert.match(logged[1] ?? '', /^\[db\] database at db\.example:3306 answers again/);
  });

  it('an outage over two steps logs once; a new outage after a success logs again', async () => {
    const wait = new DatabaseWait({ where: 'h:1', giveUpAfterMs: 0, delayMs: FAST });
    let n = 0;
    await wait.run('a', async () => { if (n++ < 1) throw refused(); });
    let m = 0;
    await wait.run('b', async () => { if (m++ < 2) throw refused(); });
    assert.equal(above(LogLevel.Error).length, 2, 'two outages, two ERROR lines');
  });

  it('fails at once on an error waiting cannot cure: bad SQL, a refused login, an unknown database', async () => {
    const wait = new DatabaseWait({ where: 'h:1', giveUpAfterMs: 0, delayMs: FAST });
    for (const err of [
      Object.assign(new Error('syntax'), { errno: 1064 }),
      Object.assign(new Error('Access denied'), { errno: 1045, fatal: true }),
      Object.assign(new Error('Unknown database'), { errno: 1049, fatal: true }),
    ]) {
      let calls = 0;
      await assert.rejects(wait.run('x', async () => { calls++; throw err; }), err);
      assert.equal(calls, 1);
    }
  });

  it('gives up after giveUpAfterMs with DatabaseUnavailable naming db_start_timeout and the error', async () => {
    const wait = new DatabaseWait({ where: 'h:1', giveUpAfterMs: 100, delayMs: FAST });
    const started = performance.now();
    await assert.rejects(wait.run('x', async () => { throw refused(); }),
      (err: unknown) => err instanceof DatabaseUnavailable && /unavailable for 0\.1 s \(db_start_timeout\): ECONNREFUSED/.test(err.message));
    const took = performance.now() - started;
    assert.ok(took >= 99 && took < 1000, `gave up after ${took} ms`);
  });

  it('a stop (abort) ends a pause at once with StartInterrupted', async () => {
    const stop = new AbortController();
    const wait = new DatabaseWait({ where: 'h:1', giveUpAfterMs: 0, delayMs: { initial: 60_000, max: 60_000 }, signal: stop.signal });
    const started = performance.now();
    const waiting = wait.run('x', async () => { throw refused(); });
    setTimeout(() => stop.abort(), 50);
    await assert.rejects(waiting, StartInterrupted);
    assert.ok(performance.now() - started < 1000);
  });
});
