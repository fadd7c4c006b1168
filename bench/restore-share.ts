/**
 * Benchmark (not a test): the start-up restore of one instance's share of a large
 * table (doc/scaling.md). A throw-away README-schema database gets N subscribers and
 * N ACTIVE rows (expiry two hours ahead, so nothing is due); the daemon starts with the
 * README joined_query restricted to `subscriber_id % shares = 0` (shares = 1: the whole
 * table). Reported: the daemon's `loaded N registrations in X ms`, its CPU until it is
 * running, its peak RSS, and the REGISTERs it sent in the 10 s after (must be 0). No
 * registrar is needed: nothing is due.
 *
 *   node build/bench/restore-share.js [--rows 1000000] [--shares 10]
 */
import { README_JOINED_QUERY } from '../test/support/daemon';
import { createTestDatabase } from '../test/support/mariadb';
import { agentStatistics } from './support/agent-statistics';
import { restoreReport, startBenchDaemon } from './support/bench-daemon';
import { describeMachine, formatLoad, loadAverages } from './support/machine';
import { cpuSeconds, peakRssBytes } from './support/process-usage';
import { resultsPath, writeJson } from './support/results-files';
import { Teardown } from './support/teardown';
import { sleep } from './support/time';

function parseOptions(argv: string[]): { rows: number; shares: number } {
  const options = { rows: 1_000_000, shares: 10 };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i]?.replace(/^--/, '');
    const value = Number(argv[i + 1]);
    if ((key === 'rows' || key === 'shares') && Number.isInteger(value) && value > 0) options[key] = value;
    else throw new Error(`usage: restore-share [--rows N] [--shares N] (got ${argv.slice(i, i + 2).join(' ')})`);
  }
  return options;
}

async function main(): Promise<void> {
  const { rows, shares } = parseOptions(process.argv.slice(2));
  const teardown = new Teardown();
  try {
    const db = await createTestDatabase({ schema: 'readme' });
    teardown.add('drop database', () => db.drop());
    // MariaDB's Sequence engine: one statement per table, whatever N.
    await db.query(`INSERT INTO subscribers (subscriber_id, user, pass, realm, contact)
      SELECT seq, CONCAT('user', seq), 'secret-pass', 'registrar.example.com', '' FROM seq_1_to_${rows}`);
    await db.query(`INSERT INTO registrations (subscriber_id, registration_status, last_registration, expiry, last_code, last_reason, contacts)
      SELECT seq, 2, NOW(), NOW() + INTERVAL 7200 SECOND, 200, 'OK', CONCAT('<sip:user', seq, '@10.0.0.5:5060>;expires=7200') FROM seq_1_to_${rows}`);

    const share = shares > 1 ? ` where subscribers.subscriber_id % ${shares} = 0` : '';
    const loadBefore = loadAverages();
    const { daemon } = await startBenchDaemon({
      db: db.config,
      agent: { joined_query: `${README_JOINED_QUERY.replace(/;$/, '')}${share}`, expires: '7200' },
    }, teardown);
    const pid = daemon.process.pid as number;
    const restore = await restoreReport(daemon, 600_000);
    await daemon.waitForLog(/running/, 60_000);
    const cpuAtRunning = cpuSeconds(pid);
    await sleep(10_000);
    const stats = await agentStatistics(daemon);
    const result = {
      rows, shares, restore, cpuAtRunningSeconds: cpuAtRunning,
      peakRssMB: peakRssBytes(pid) / 2 ** 20,
      registersSentIn10s: stats.sentRegister, registrations: stats.registrations,
      loadBefore: formatLoad(loadBefore), loadAfter: formatLoad(loadAverages()), machine: describeMachine(),
    };
    writeJson(resultsPath(`restore-share-${rows}-${shares}.json`), result);
    process.stdout.write(`${rows} rows, share 1/${shares}: loaded ${restore.registrations} in ${restore.ms} ms, `
      + `daemon CPU ${cpuAtRunning.toFixed(1)} s at 'running', peak RSS ${result.peakRssMB.toFixed(0)} MB, `
      + `${stats.sentRegister} REGISTERs in the next 10 s; load ${result.loadBefore} → ${result.loadAfter}\n`);
  } finally {
    await teardown.run();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
