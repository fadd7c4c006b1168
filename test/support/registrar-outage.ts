/**
 * A registrar outage run against the real daemon, Kamailio and MariaDB (issue 14): N
 * accounts registered, then the registrar frozen (SIGSTOP: a host gone silent) or
 * killed (UDP: ICMP port unreachable; TCP: connections reset, then refused) for a
 * while, then back. Measures what an operator would look at:
 *
 * - the table during the outage: no row ACTIVE past its expiry at any poll, and every
 *   row FAILED, with which code and reason, once every registration granted before the
 *   outage has expired;
 * - the daemon's CPU while the registrar is away (/proc), and the REGISTERs it sent;
 * - after the return: how long until every row is ACTIVE again, and how many REGISTER
 *   transactions per account reached the registrar meanwhile (its own log, per AOR).
 *
 * The CI test (test/integration/agent-registrar-outage.test.ts) and the long run
 * (test/long/registrar-outage.long.test.ts) differ only in the plan.
 */
import assert from 'node:assert/strict';
import { EXPIRED } from '../../src/agent/status-transitions';
import { startDaemon, type RunningDaemon } from './daemon';
import { startKamailio, type KamailioHandle } from './kamailio';
import { createTestDatabase, type TestDatabase } from './mariadb';
import { cpuSeconds } from './process-cpu';
import { residentBytes } from './process-memory';
import { readRegisterTrace, transactionSpans } from './register-trace';
import { di, printDaemonLogOnFailure, RegStatus, sleep, waitFor, type RegRow } from './registrations';

export type OutageFault = 'freeze' | 'kill';

export interface OutagePlan {
  fault: OutageFault;
  transport: 'udp' | 'tcp';
  accounts: number;
  /** Requested (and granted: the harness's Kamailio has no min/max) lifetime, s. */
  expires: number;
  errorRetryInterval: number;
  /** How long the registrar is away, ms; longer than `expires` so that every registration lapses. */
  outageMs: number;
  /** User names at the registrar: `<tag>-<n>` (one registrar may serve several runs). */
  tag: string;
  /** How long all accounts may take to be ACTIVE, at the start and after the return, ms. */
  settleMs: number;
}

export interface OutageReport {
  plan: OutagePlan;
  /** Polls of the table during the outage, and the most rows ACTIVE past their expiry any of them saw. */
  polls: number;
  activePastExpiry: { most: number; example?: RegRow };
  /** Seconds from the fault until the latest expiry granted before it. */
  lastExpiryAfterS: number;
  /** Rows per status, and FAILED rows per "code reason", one second after that expiry. */
  byStatusAtExpiry: Record<string, number>;
  failedReasons: Record<string, number>;
  /** The daemon during the outage: CPU (fraction of one core), REGISTER requests sent, resident memory at its end. */
  cpu: { seconds: number; wallSeconds: number; share: number };
  registersSentDuringOutage: number;
  residentMbAtReturn: number;
  /** From the registrar answering again until every row is ACTIVE with a future expiry, ms (undefined: not within settleMs). */
  recoveryMs: number | undefined;
  /** REGISTER transactions (Call-ID/CSeq) and copies the registrar received from its return until recovery. */
  afterReturn: { transactions: number; copies: number; mostTransactionsPerAccount: number; accountsHeard: number };
}

const POLL_MS = 250;

function users(plan: OutagePlan): Array<{ id: number; user: string; password: string }> {
  return Array.from({ length: plan.accounts }, (_, i) => ({ id: i + 1, user: `${plan.tag}-${i}`, password: `${plan.tag}-pw-${i}` }));
}

async function countByStatus(db: TestDatabase): Promise<Record<string, number>> {
  const rows = await db.query<{ status: number; n: number }>(
    'SELECT registration_status AS status, COUNT(*) AS n FROM registrations GROUP BY registration_status');
  return Object.fromEntries(rows.map((r) => [String(r.status), Number(r.n)]));
}

/** Every account ACTIVE with an expiry still ahead. */
async function allActive(db: TestDatabase, plan: OutagePlan): Promise<boolean> {
  const [row] = await db.query<{ n: number }>(
    'SELECT COUNT(*) AS n FROM registrations WHERE registration_status = ? AND expiry > NOW()', [RegStatus.ACTIVE]);
  return Number(row?.n) === plan.accounts;
}

function registersSent(stats: unknown): number {
  return Number((stats as { sent?: { REGISTER?: number } }).sent?.REGISTER ?? 0);
}

/**
 * REGISTERs the registrar (traceRegisters) has received so far from this plan's accounts,
 * per user: transactions (Via branches: a re-send with credentials is one more) and copies.
 */
function registrarCounts(kam: KamailioHandle, plan: OutagePlan): Map<string, { copies: number; transactions: number }> {
  const prefix = `${plan.tag}-`;
  const counts = new Map<string, { copies: number; transactions: number }>();
  for (const span of transactionSpans(readRegisterTrace(kam.logFile))) {
    if (!span.user.startsWith(prefix)) continue;
    const count = counts.get(span.user) ?? { copies: 0, transactions: 0 };
    count.transactions++;
    count.copies += span.arrivals;
    counts.set(span.user, count);
  }
  return counts;
}

/**
 * Starts a daemon for `plan`'s accounts against `kam` (which must run with
 * traceRegisters) on `db` (a fresh database: every row counts), waits until all are
 * ACTIVE, runs the outage and the return, and reports. The daemon is stopped at the
 * end; `db` and `kam` stay the caller's.
 */
export async function runRegistrarOutage(kam: KamailioHandle, db: TestDatabase, plan: OutagePlan,
  onDaemon: (daemon: RunningDaemon) => void = () => undefined): Promise<OutageReport> {
  const accounts = users(plan);
  await kam.addSubscribers(accounts.map(({ user, password }) => ({ user, password })));
  await db.insert('subscribers', accounts.map((a) => ({ subscriber_id: a.id, user: a.user, pass: a.password, realm: kam.hostPort('udp'), contact: '' })));
  const daemon = await startDaemon({
    db: db.config,
    logLevel: 2,
    agent: {
      expires: String(plan.expires),
      error_retry_interval: String(plan.errorRetryInterval),
      // TCP through the registrar as its own outbound proxy (the harness's Kamailio consumes a Route naming itself).
      ...(plan.transport === 'tcp' ? { outbound_proxy: `sip:${kam.hostPort('tcp')};transport=tcp` } : {}),
    },
  });
  onDaemon(daemon);
  try {
    await daemon.waitForLog(/running/, 30_000);
    await waitFor(`${plan.accounts} accounts ACTIVE`, () => allActive(db, plan), Boolean, plan.settleMs, 500);
    return await outage(kam, db, plan, daemon);
  } finally {
    await daemon.stop();
  }
}

async function outage(kam: KamailioHandle, db: TestDatabase, plan: OutagePlan, daemon: RunningDaemon): Promise<OutageReport> {
  const pid = daemon.process.pid as number;
  const sentBefore = registersSent(await di(daemon, 'getStatistics'));
  const cpuBefore = cpuSeconds(pid);
  const faultAt = Date.now();
  if (plan.fault === 'freeze') kam.freeze();
  else await kam.kill();

  // The latest expiry granted before the fault (the status writer gets a moment for the last 2xx).
  await sleep(500);
  const [last] = await db.query<{ s: number }>('SELECT TIMESTAMPDIFF(SECOND, NOW(), MAX(expiry)) AS s FROM registrations');
  const lastExpiryAt = Date.now() + Number(last?.s) * 1000;
  const report: Omit<OutageReport, 'cpu' | 'registersSentDuringOutage' | 'residentMbAtReturn' | 'recoveryMs' | 'afterReturn'> = {
    plan, polls: 0, activePastExpiry: { most: 0 }, lastExpiryAfterS: (lastExpiryAt - faultAt) / 1000,
    byStatusAtExpiry: {}, failedReasons: {},
  };

  let expiryChecked = false;
  while (Date.now() - faultAt < plan.outageMs) {
    const pastExpiry = await db.query<RegRow>(
      'SELECT *, TIMESTAMPDIFF(SECOND, NOW(), expiry) AS expires_in FROM registrations WHERE registration_status = ? AND expiry < NOW()',
      [RegStatus.ACTIVE]);
    report.polls++;
    if (pastExpiry.length > report.activePastExpiry.most) report.activePastExpiry = { most: pastExpiry.length, example: pastExpiry[0] };
    if (!expiryChecked && Date.now() >= lastExpiryAt + 1000) {
      expiryChecked = true;
      report.byStatusAtExpiry = await countByStatus(db);
      const reasons = await db.query<{ reason: string; n: number }>(
        "SELECT CONCAT(last_code, ' ', last_reason) AS reason, COUNT(*) AS n FROM registrations WHERE registration_status = ? GROUP BY reason",
        [RegStatus.FAILED]);
      report.failedReasons = Object.fromEntries(reasons.map((r) => [r.reason, Number(r.n)]));
    }
    await sleep(POLL_MS);
  }
  if (!expiryChecked) throw new Error(`outage of ${plan.outageMs} ms ended before the last expiry (${report.lastExpiryAfterS} s after the fault)`);

  const cpuUsed = cpuSeconds(pid) - cpuBefore;
  const wallSeconds = (Date.now() - faultAt) / 1000;
  const registersSentDuringOutage = registersSent(await di(daemon, 'getStatistics')) - sentBefore;
  const residentMbAtReturn = Math.round(residentBytes(pid) / 1e6);
  const heardBefore = registrarCounts(kam, plan);

  if (plan.fault === 'freeze') kam.thaw();
  else await kam.restart();
  const backAt = Date.now();
  let recoveryMs: number | undefined;
  try {
    await waitFor('every account ACTIVE again', () => allActive(db, plan), Boolean, plan.settleMs, 200);
    recoveryMs = Date.now() - backAt;
  } catch {
    recoveryMs = undefined;
  }

  let transactions = 0;
  let copies = 0;
  let most = 0;
  let heard = 0;
  for (const [user, after] of registrarCounts(kam, plan)) {
    const before = heardBefore.get(user) ?? { copies: 0, transactions: 0 };
    const t = after.transactions - before.transactions;
    transactions += t;
    copies += after.copies - before.copies;
    most = Math.max(most, t);
    if (t > 0) heard++;
  }
  return {
    ...report,
    cpu: { seconds: cpuUsed, wallSeconds, share: cpuUsed / wallSeconds },
    registersSentDuringOutage,
    residentMbAtReturn,
    recoveryMs,
    afterReturn: { transactions, copies, mostTransactionsPerAccount: most, accountsHeard: heard },
  };
}

export interface OutageLimits {
  /** Registration requests per account the daemon may send while the registrar is away. */
  mostRequestsPerAccount: number;
  /** Beyond error_retry_interval, how long until every row is ACTIVE again after the return. */
  rampMs: number;
  /**
   * REGISTER transactions per account the returned registrar may receive until then, on
   * top of one per refresh interval (half a lifetime) that passes meanwhile.
   */
  mostTransactionsAfterReturn: number;
  /** The daemon's CPU while the registrar is away, as a fraction of one core. */
  mostCpuShare: number;
}

/** FAILED rows' "code reason" when no answer came: the expiry passed, or Timer F. */
export const TIMEOUT = '408 Timeout';
export const EXPIRED_REASONS = [`408 ${EXPIRED.unanswered}`, `408 ${EXPIRED.queued}`] as const;

/** The properties every outage must have, whatever the fault. */
export function assertOutageHandled(r: OutageReport, allowedReasons: readonly string[], limits: OutageLimits): void {
  const p = r.plan;
  assert.equal(r.activePastExpiry.most, 0, `rows ACTIVE past their expiry during the outage, e.g. ${JSON.stringify(r.activePastExpiry.example)}`);
  assert.ok(r.polls >= p.outageMs / 1000, `the table was polled ${r.polls} times`);
  assert.deepEqual(r.byStatusAtExpiry, { 3: p.accounts }, 'every row FAILED once every registration has expired');
  for (const reason of Object.keys(r.failedReasons)) assert.ok(allowedReasons.includes(reason), `FAILED as "${reason}"; expected one of ${JSON.stringify(allowedReasons)}`);
  assert.ok(r.cpu.share < limits.mostCpuShare, `daemon CPU while the registrar was away: ${(r.cpu.share * 100).toFixed(1)} % of a core`);
  assert.ok(r.registersSentDuringOutage <= p.accounts * limits.mostRequestsPerAccount,
    `${r.registersSentDuringOutage} REGISTER requests for ${p.accounts} accounts while the registrar was away`);
  assert.ok(r.recoveryMs !== undefined && r.recoveryMs <= p.errorRetryInterval * 1000 + limits.rampMs,
    `all ACTIVE again ${r.recoveryMs} ms after the registrar's return (error_retry_interval ${p.errorRetryInterval} s)`);
  // Accounts back early refresh as usual (reregister_interval 0.5) while the last ones wait for their retry.
  const refreshes = Math.ceil((r.recoveryMs ?? 0) / (p.expires * 500));
  assert.ok(r.afterReturn.mostTransactionsPerAccount <= limits.mostTransactionsAfterReturn + refreshes,
    `an account sent ${r.afterReturn.mostTransactionsPerAccount} REGISTER transactions to the returned registrar in ${r.recoveryMs} ms`);
}

export type OutageSizes = Pick<OutagePlan, 'accounts' | 'expires' | 'errorRetryInterval' | 'outageMs' | 'settleMs'>;

/**
 * For a describe() of outage runs: one registrar for the suite (traceRegisters), a fresh
 * database per test, the daemon's log tail when a test fails. Returns the function
 * that runs one plan of these sizes and prints its report.
 */
export function outageRuns(sizes: OutageSizes): (plan: Omit<OutagePlan, keyof OutageSizes>) => Promise<OutageReport> {
  let kam: KamailioHandle | undefined;
  let db: TestDatabase | undefined;
  let daemon: RunningDaemon | undefined;
  before(async () => {
    kam = await startKamailio({ tls: false, logLevel: 1, traceRegisters: true, children: 4 });
  });
  after(async () => {
    await kam?.stop();
  });
  beforeEach(async () => {
    db = await createTestDatabase({ schema: 'readme' });
  });
  afterEach(async function () {
    printDaemonLogOnFailure(this.currentTest, daemon);
    daemon?.cleanup();
    daemon = undefined;
    await db?.drop();
  });
  return async (plan) => {
    const report = await runRegistrarOutage(kam as KamailioHandle, db as TestDatabase, { ...sizes, ...plan }, (d) => (daemon = d));
    process.stdout.write(`      ${describeOutage(report).replace(/\n/g, '\n      ')}\n`);
    return report;
  };
}

/** The report as a few lines for the test log and doc/reliability.md. */
export function describeOutage(r: OutageReport): string {
  const p = r.plan;
  return [
    `${p.fault} ${p.transport}: ${p.accounts} accounts, expires ${p.expires} s, error_retry_interval ${p.errorRetryInterval} s, outage ${p.outageMs / 1000} s`,
    `  table: ${r.polls} polls, most rows ACTIVE past expiry ${r.activePastExpiry.most}; last expiry ${r.lastExpiryAfterS.toFixed(1)} s after the fault;`
    + ` 1 s later by status ${JSON.stringify(r.byStatusAtExpiry)}, FAILED as ${JSON.stringify(r.failedReasons)}`,
    `  daemon while away: CPU ${r.cpu.seconds.toFixed(2)} s in ${r.cpu.wallSeconds.toFixed(1)} s (${(r.cpu.share * 100).toFixed(1)} % of a core),`
    + ` ${r.registersSentDuringOutage} REGISTER requests sent, RSS ${r.residentMbAtReturn} MB`,
    `  after the return: all ACTIVE in ${r.recoveryMs === undefined ? 'NOT within the deadline' : `${(r.recoveryMs / 1000).toFixed(1)} s`};`
    + ` registrar received ${r.afterReturn.transactions} REGISTER transactions (${r.afterReturn.copies} copies) from ${r.afterReturn.accountsHeard} accounts,`
    + ` at most ${r.afterReturn.mostTransactionsPerAccount} per account`,
  ].join('\n');
}
