/**
 * Benchmark (not a test): the status write path alone, the daemon's StatusWriter over
 * its RegistrationStore on the local MariaDB, fed a mass start's status updates at a
 * steady rate (a 2xx for every account: ACTIVE, last_registration, expiry). Two
 * phases on the same accounts: rows missing (the first start) and rows present (a
 * refresh). Per phase: time until everything is stored, this process's CPU and the
 * database server's CPU per record, and statements per record. --schema sipwise uses
 * sql/schema-sipwise.sql (an AUTO_INCREMENT id beside the key columns).
 *
 *   make bench-db
 *   node build/bench/status-writes.js [--accounts 100000] [--rate 10000] [--schema readme|sipwise]
 */
import { createDbPool } from '../src/db/pool';
import { RegistrationStatus } from '../src/db/registration-status';
import { RegistrationStore } from '../src/db/registration-store';
import { StatusWriter } from '../src/db/status-writer';
import { createTestDatabase } from '../test/support/mariadb';
import { databaseServerCpuSeconds } from './support/cpu-budget';
import { readStatementCounters } from './support/mariadb-counters';
import { describeMachine } from './support/machine';
import { formatNumber, markdownTable } from './support/markdown-table';
import { resultsPath, writeJson } from './support/results-files';
import { sleep } from './support/time';

interface Options {
  accounts: number;
  rate: number;
  schema: 'readme' | 'sipwise';
}

function parseOptions(argv: string[]): Options {
  const options: Options = { accounts: 100_000, rate: 10_000, schema: 'readme' };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i]?.replace(/^--/, '');
    const text = argv[i + 1] ?? '';
    const value = Number(text);
    if (key === 'schema' && (text === 'readme' || text === 'sipwise')) options.schema = text;
    else if ((key === 'accounts' || key === 'rate') && Number.isInteger(value) && value > 0) options[key] = value;
    else throw new Error(`usage: status-writes [--accounts N] [--rate N] [--schema readme|sipwise] (got ${argv.slice(i, i + 2).join(' ')})`);
  }
  return options;
}

interface PhaseResult {
  phase: string;
  wallSeconds: number;
  recordsPerSecond: number;
  nodeMicrosPerRecord: number;
  databaseMicrosPerRecord: number;
  statementsPerRecord: number;
  questionsPerRecord: number;
  latencyMaxMs: number;
  written: number;
}

/** Queues one 2xx per account at `rate` per second (catching up every millisecond), then waits until all are stored. */
async function phase(name: string, writer: StatusWriter, options: Options): Promise<PhaseResult> {
  const writtenBefore = writer.stats().written;
  const counters = await readStatementCounters();
  const dbCpu = databaseServerCpuSeconds();
  const cpu = process.cpuUsage();
  const started = performance.now();
  let queued = 0;
  while (queued < options.accounts) {
    const due = Math.min(options.accounts, Math.floor(((performance.now() - started) / 1000) * options.rate));
    for (; queued < due; queued++) {
      writer.update({ type: 'subscriber', id: queued + 1 }, {
        lastCode: 200, lastReason: 'OK', status: RegistrationStatus.Active, registered: { grantedSeconds: 3600 },
      });
    }
    await sleep(1);
  }
  if (!(await writer.flush(120_000))) throw new Error(`${name}: not everything stored after 120 s`);
  const wallSeconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  const databaseSeconds = databaseServerCpuSeconds() - dbCpu;
  const after = await readStatementCounters();
  const n = options.accounts;
  return {
    phase: name,
    wallSeconds,
    recordsPerSecond: n / wallSeconds,
    nodeMicrosPerRecord: (used.user + used.system) / n,
    databaseMicrosPerRecord: (databaseSeconds * 1e6) / n,
    statementsPerRecord: (after.writes - counters.writes) / n,
    questionsPerRecord: (after.questions - counters.questions - 1) / n, // − our own SHOW STATUS
    latencyMaxMs: writer.stats().latencyMs.max,
    written: writer.stats().written - writtenBefore,
  };
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const db = await createTestDatabase({ schema: options.schema });
  const pool = createDbPool(db.config);
  try {
    const writer = new StatusWriter(new RegistrationStore(pool, 'registrations'));
    const results = [
      await phase('rows missing (first start)', writer, options),
      await phase('rows present (refresh)', writer, options),
    ];
    writer.close();
    const header = ['schema', 'phase', 'records', 'offered/s', 'stored after (s)', 'node CPU (µs/record)', 'MariaDB CPU (µs/record)', 'write statements/record', 'queries/record', 'max latency (ms)'];
    const rows = results.map((r) => [
      options.schema, r.phase, formatNumber(r.written), formatNumber(options.rate), formatNumber(r.wallSeconds, 2), formatNumber(r.nodeMicrosPerRecord, 1),
      formatNumber(r.databaseMicrosPerRecord, 1), formatNumber(r.statementsPerRecord, 3), formatNumber(r.questionsPerRecord, 3), formatNumber(r.latencyMaxMs),
    ]);
    process.stdout.write(`${markdownTable(header, rows)}\n`);
    const file = resultsPath(`status-writes-${options.schema}.json`);
    writeJson(file, { machine: describeMachine(), options, results });
    process.stdout.write(`results: ${file}\n`);
  } finally {
    await pool.end();
    await db.drop();
  }
}

main().catch((err: Error) => {
  process.stderr.write(`status-writes benchmark failed: ${err.stack ?? err.message}\n`);
  process.exitCode = 1;
});
