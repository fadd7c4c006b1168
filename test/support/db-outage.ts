/**
 * Issue 14, item 1: the database goes away under a refreshing population and comes
 * back; nothing is lost. Shared by the CI run (test/integration/db-outage.test.ts)
 * and the full one (test/long/db-outage.long.test.ts), which differ only in size.
 *
 * The daemon reaches MariaDB through a loopback proxy the test controls; Kamailio
 * (usrloc write-through, db_mode 1) reaches it directly, so the registrar keeps
 * working and its location table is the truth the rows are compared with.
 */
import assert from 'node:assert/strict';
import { startDaemon, type RunningDaemon } from './daemon';
import { startKamailio, type KamailioHandle, type LocationRow } from './kamailio';
import { createTestDatabase, startMariadbProxy, type MariadbProxy, type TestDatabase } from './mariadb';
import { freePort } from './ports';
import { parseExposition, scrape } from './prometheus';
import { printDaemonLogOnFailure, RegStatus, sleep, waitFor, type RegRow } from './registrations';

export interface OutageScenario {
  accounts: number;
  /** Requested and granted expires; refreshes come at half of it. */
  expiresSeconds: number;
  /** The outage: first connections hang (accepted, never answered), then they are refused. */
  hangSeconds: number;
  refuseSeconds: number;
}

/** What the run measured, for the report (doc/reliability.md). */
export interface OutageFigures {
  accounts: number;
  outageSeconds: number;
  /** REGISTERs the registrar accepted during the outage (registrar:accepted_regs). */
  acceptedDuringOutage: number;
  /** Most accounts with a status record not stored, sampled every second during the outage. */
  maxPending: number;
  /** Records stored from the restore until nothing was pending. */
  writtenInCatchUp: number;
  writeErrors: number;
  dropped: number;
  /** Accounts with a record waiting when the database came back. */
  pendingAtRestore: number;
  /**
   * From restore until at most 1 % of the accounts had a record waiting (the refreshes
   * that go on keep a few records in flight at any moment).
   */
  drainedAfterMs: number;
  /** From restore until every row matched the registrar. */
  consistentAfterMs: number;
  /** The daemon's WARNING and ERROR lines over the run, each once with its count (numbers masked). */
  warnings: Record<string, number>;
}

/** WARNING/ERROR lines with their numbers masked, counted: what an operator saw in the log. */
function problemLines(log: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const line of log.split('\n')) {
    const m = / (WARNING|ERROR): (.*)$/.exec(line);
    if (!m) continue;
    const text = `${m[1]}: ${(m[2] ?? '').replace(/\d+/g, 'N')}`;
    counts[text] = (counts[text] ?? 0) + 1;
  }
  return counts;
}

const user = (id: number): string => `outage${id}`;

/** registrar:accepted_regs from kamcmd's `stats.get_statistics` output. */
async function acceptedRegisters(kam: KamailioHandle): Promise<number> {
  const text = await kam.rpc('stats.get_statistics', 'accepted_regs');
  const match = /accepted_regs\D+(\d+)/.exec(text);
  if (!match) throw new Error(`no accepted_regs in: ${text}`);
  return Number(match[1]);
}

interface WriterFigures { pending: number; available: number; errors: number; dropped: number; written: number }

async function writerFigures(metricsPort: number): Promise<WriterFigures> {
  const metrics = parseExposition((await scrape(metricsPort)).body);
  const value = (name: string): number => metrics.value(`db_reg_agent_${name}`) ?? NaN;
  return {
    pending: value('db_writes_pending'), available: value('db_available'),
    errors: value('db_write_errors_total'), dropped: value('db_writes_dropped_total'), written: value('db_writes_total'),
  };
}

/**
 * Accounts whose row does not match their binding at the registrar: status ACTIVE,
 * expiry within 2 s of the binding's, contacts naming the binding's Contact. Bindings
 * are read before and after the rows, so a refresh between the reads is no mismatch.
 */
async function mismatches(db: TestDatabase, kam: KamailioHandle, daemon: RunningDaemon, ids: readonly number[]): Promise<Map<number, string>> {
  const bindingsByUser = async (): Promise<Map<string, LocationRow>> => {
    const ours = (await kam.locations()).filter((b) => b.contact.endsWith(`@127.0.0.1:${daemon.sipPort}`));
    return new Map(ours.map((b) => [b.username, b]));
  };
  const before = await bindingsByUser();
  const rows = new Map((await db.query<RegRow>(
    'SELECT *, TIMESTAMPDIFF(SECOND, NOW(), expiry) AS expires_in FROM registrations')).map((r) => [r.subscriber_id, r]));
  const after = await bindingsByUser();
  const wrong = new Map<number, string>();
  for (const id of ids) {
    const row = rows.get(id);
    const matches = (b: LocationRow | undefined): boolean => b !== undefined && row !== undefined &&
      row.registration_status === RegStatus.ACTIVE && Math.abs((row.expires_in ?? -1e9) - b.expiresIn) <= 2 &&
      (row.contacts ?? '').includes(b.contact);
    const binding = before.get(user(id));
    if (!matches(binding) && !matches(after.get(user(id)))) {
      wrong.set(id, `row ${JSON.stringify(row && [row.registration_status, row.expires_in, row.contacts])} vs binding ${JSON.stringify(binding && [binding.expiresIn, binding.contact])}`);
    }
  }
  return wrong;
}

export function describeOutage(title: string, scenario: OutageScenario, report: (figures: OutageFigures) => void): void {
  const outageSeconds = scenario.hangSeconds + scenario.refuseSeconds;
  describe(title, function () {
    // Mass start, the outage, the catch-up and the comparison, with room for a loaded machine.
    this.timeout((outageSeconds + 3 * scenario.expiresSeconds + scenario.accounts / 50 + 120) * 1000);
    let kam: KamailioHandle | undefined;
    let db: TestDatabase | undefined;
    let proxy: MariadbProxy | undefined;
    let daemon: RunningDaemon | undefined;

    afterEach(async function () {
      printDaemonLogOnFailure(this.currentTest, daemon);
      await daemon?.stop();
      daemon?.cleanup();
      await proxy?.close();
      await kam?.stop();
      await db?.drop();
    });

    it(`${scenario.accounts} refreshing accounts, database away ${outageSeconds} s (hung ${scenario.hangSeconds} s, refused ${scenario.refuseSeconds} s): ` +
      'the daemon stays up, refreshes go on, writes wait coalesced (≤ one per account) and land after; every row equals the registrar', async () => {
      const ids = Array.from({ length: scenario.accounts }, (_v, i) => i + 1);
      kam = await startKamailio({ children: 4 });
      await kam.addSubscribers(ids.map((id) => ({ user: user(id), password: `pw${id}` })));
      db = await createTestDatabase({ schema: 'readme' });
      await db.insert('subscribers', ids.map((id) => ({ subscriber_id: id, user: user(id), pass: `pw${id}`, realm: kam?.hostPort(), contact: '' })));
      proxy = await startMariadbProxy();
      const metricsPort = await freePort({ protocols: ['tcp'] });
      daemon = await startDaemon({
        db: proxy.configFor(db), logLevel: 2,
        agent: { expires: String(scenario.expiresSeconds), reregister_interval: '0.5', metrics_port: String(metricsPort) },
      });
      await daemon.waitForLog(/running/, 60_000);
      const activeRows = (): Promise<Array<{ n: number }>> =>
        (db as TestDatabase).query<{ n: number }>('SELECT COUNT(*) AS n FROM registrations WHERE registration_status = ?', [RegStatus.ACTIVE]);
      await waitFor('every account ACTIVE', activeRows, ([r]) => Number(r?.n) === scenario.accounts, 60_000 + scenario.accounts * 20, 500);

      // The outage.
      const acceptedBefore = await acceptedRegisters(kam);
      const outageStart = Date.now();
      proxy.hang();
      let maxPending = 0;
      const sampleUntil = async (end: number): Promise<void> => {
        while (Date.now() < end) {
          assert.equal(daemon?.process.exitCode, null, 'the daemon stays up');
          const w = await writerFigures(metricsPort);
          maxPending = Math.max(maxPending, w.pending);
          assert.ok(w.pending <= scenario.accounts, `writer queue ${w.pending} within one record per account`);
          await sleep(1000);
        }
      };
      await sampleUntil(outageStart + scenario.hangSeconds * 1000);
      await proxy.refuse();
      await sampleUntil(outageStart + outageSeconds * 1000);
      const during = await writerFigures(metricsPort);
      const pendingAtRestore = during.pending;
      assert.equal(during.available, 0, 'the writer saw the database away');
      assert.ok(during.pending > 0, 'writes waited');
      const acceptedDuringOutage = (await acceptedRegisters(kam)) - acceptedBefore;
      // Every account's refresh fell due in the outage (refresh interval < outage): each one was renewed at the registrar.
      const stale = (await kam.locations()).filter((b) => b.contact.endsWith(`@127.0.0.1:${daemon?.sipPort}`) && b.lastModified.getTime() < outageStart - 1000);
      assert.deepEqual(stale.map((b) => b.username).slice(0, 5), [], `${stale.length} bindings not refreshed during the outage`);

      // Back.
      const restoredAt = Date.now();
      await proxy.restore();
      const caughtUp = Math.max(10, scenario.accounts / 100);
      const drained = await waitFor('the backlog written', () => writerFigures(metricsPort),
        (w) => w.available === 1 && w.pending <= caughtUp, 120_000, 200);
      const drainedAfterMs = Date.now() - restoredAt;
      const writtenInCatchUp = drained.written - during.written;
      // A row may be compared while its account is between a reply and its write: each
      // must match in one of the rounds, and one that is wrong for good never does.
      const unsettled = new Set(ids);
      await waitFor('every row equal to its binding', async () => {
        const wrong = await mismatches(db as TestDatabase, kam as KamailioHandle, daemon as RunningDaemon, [...unsettled]);
        for (const id of [...unsettled]) if (!wrong.has(id)) unsettled.delete(id);
        return [...wrong].slice(0, 3);
      }, () => unsettled.size === 0, 30_000, 500);
      const consistentAfterMs = Date.now() - restoredAt;
      const end = await writerFigures(metricsPort);
      assert.equal(end.dropped, 0, 'no status record dropped');
      // More replies than records waiting: the replies of an account folded into one record.
      assert.ok(acceptedDuringOutage > maxPending, `${acceptedDuringOutage} replies, at most ${maxPending} records waiting`);
      assert.doesNotMatch(daemon.log(), /status writes could not be stored|not stored in/);
      report({
        accounts: scenario.accounts, outageSeconds, acceptedDuringOutage, maxPending, writtenInCatchUp,
        writeErrors: end.errors, dropped: end.dropped, pendingAtRestore, drainedAfterMs, consistentAfterMs,
        warnings: problemLines(daemon.log()),
      });
    });
  });
}
