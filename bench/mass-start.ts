/**
 * Issue 4 benchmark, part 1: mass start of N accounts (not a test; `make bench`).
 *
 * For each N (BENCH_SIZES, default 10 000, 50 000, 100 000): a Kamailio registrar and
 * a fresh database with N accounts; sipp registers N accounts of its own (same
 * passwords, realm and registrar) as the ceiling; then the daemon starts on the
 * database (SEMS defaults: no rate limiting; expires 3600) and we measure, from its
 * spawn until every row is ACTIVE (polled through the daemon's getStatistics, then
 * confirmed by a COUNT of the table): wall time, failed
 * accounts, its CPU and peak RSS (from /proc), the database's statement rate and the
 * start-up restore time it logs. Then 30 s of idle CPU with N registered, and a
 * restart (SIGTERM, start again) that must restore the N ACTIVE rows and send no
 * REGISTER for 10 s.
 *
 *   node build/bench/mass-start.js
 *   BENCH_SIZES=1000,5000 node build/bench/mass-start.js      # a quick run
 *
 * Other knobs: BENCH_MAX_LOAD (1.5) and BENCH_QUIET_WAIT_S (600): wait for the machine
 * to be that quiet before each N; BENCH_SIPP_RATE (20000) and BENCH_SIPP_CONCURRENCY
 * (1000): sipp's -r and -l; BENCH_MAX_PENDING_TRANSACTIONS: the daemon's
 * max_pending_transactions (default: the shipped 1000); BENCH_DAEMON_NODE_ARGS:
 * space-separated options for the daemon's node (e.g. "--max-semi-space-size=32" or
 * "--perf-basic-prof" for `perf`); BENCH_DAEMON_STDOUT: a file the daemons' standard
 * output is appended to (what --trace-gc prints); BENCH_CPU_SPLIT=0:1: the client side
 * (benchmark, sipp, daemon) on CPU 0, Kamailio and MariaDB on CPU 1, as if the registrar
 * were another host (support/cpu-split.ts); BENCH_REGISTRAR=production (default) or
 * lean, and BENCH_TRANSACTION_DELAY_MS=50-100 for a WAN-like registrar
 * (support/registrar-rig.ts). Results: bench/results/mass-start-<registrar>[-delay-…][-cpu-split-…].json
 * (mass-start.json for lean, as before issue 15) and Markdown tables.
 *
 * CPU per account is reported from the daemon's process start (its utime + stime when
 * every account is ACTIVE, ÷ N: loading, JIT warm-up and GC included) beside the
 * steady state (between 10 % and 90 % ACTIVE, support/steady-state.ts), and sipp's own
 * CPU per account against the same registrar in the same run.
 */
import type { DaemonOptions, RunningDaemon } from '../test/support/daemon';
import { agentStatistics, daemonActiveCounts, type AgentStatistics } from './support/agent-statistics';
import { envNumber, envSizes, envText, envWords } from './support/bench-env';
import { restoreReport, startBenchDaemon, stopDaemon, type RestoreReport } from './support/bench-daemon';
import { describeMachine, formatLoad, loadAverages, waitForQuietMachine } from './support/machine';
import { formatNumber, markdownTable } from './support/markdown-table';
import {
  backgroundStatementRates, readStatementCounters, statementRates, type StatementRates,
} from './support/mariadb-counters';
import { CpuBudgetMeter, type CpuBudget } from './support/cpu-budget';
import { applyCpuSplit, parseCpuSplit, pinProcessGroup, type CpuSplit } from './support/cpu-split';
import { coreShareDuring, cpuSeconds, peakRssBytes } from './support/process-usage';
import {
  addSippAccounts, parseRegistrarProfile, parseTransactionDelay, startRegistrarRig, type RegistrarRig, type RegistrarSetup,
} from './support/registrar-rig';
import { statusCounts, waitForAllActive, type StatusCounts } from './support/registration-counts';
import { watchReplies } from './support/reply-watch';
import { resultsPath, writeJson } from './support/results-files';
import { sippCeiling, type SippFigures } from './support/sipp-ceiling';
import { SteadyStateMeter, type SteadyState } from './support/steady-state';
import { Teardown } from './support/teardown';
import { secondsSince, sleep } from './support/time';

const DEFAULT_SIZES = [10_000, 50_000, 100_000];
const EXPIRES = 3600;
const IDLE_MS = 30_000;
const RESTART_WATCH_MS = 10_000;
/** Give up on a mass start whose ACTIVE count has not grown for this long. */
const STALL_MS = 60_000;
/**
 * How often the ACTIVE count is polled: the wait between the last write and the poll
 * that sees it counts against the daemon, so small runs are polled more often, and
 * large ones less, as each poll costs time in proportion to N (getStatistics walks the
 * daemon's registry; the final table scans take 20–30 ms at 100 000 rows).
 */
const pollMsFor = (size: number): number => Math.max(50, Math.round(size / 400));
const MB = 2 ** 20;

const settings = {
  sizes: envSizes('BENCH_SIZES', DEFAULT_SIZES),
  maxLoad: envNumber('BENCH_MAX_LOAD', 1.5),
  quietWaitMs: envNumber('BENCH_QUIET_WAIT_S', 600) * 1000,
  sippRate: envNumber('BENCH_SIPP_RATE', 20_000),
  sippConcurrency: envNumber('BENCH_SIPP_CONCURRENCY', 1000),
  /** The daemon's max_pending_transactions; 0 leaves the shipped default. */
  maxPendingTransactions: envNumber('BENCH_MAX_PENDING_TRANSACTIONS', 0),
  daemonNodeArgs: envWords('BENCH_DAEMON_NODE_ARGS'),
  daemonStdout: envText('BENCH_DAEMON_STDOUT'),
  cpuSplit: parseCpuSplit('BENCH_CPU_SPLIT', envText('BENCH_CPU_SPLIT')),
  registrar: {
    profile: parseRegistrarProfile('BENCH_REGISTRAR', envText('BENCH_REGISTRAR')),
    transactionDelayMs: parseTransactionDelay('BENCH_TRANSACTION_DELAY_MS', envText('BENCH_TRANSACTION_DELAY_MS')),
  } satisfies RegistrarSetup,
};

/** mass-start.json for the lean registrar (the file's name before issue 15), else by profile, delay and CPU split. */
function resultsFileName(setup: RegistrarSetup, split: CpuSplit | undefined): string {
  const cpus = split ? `-cpu-split-${split.client}-${split.registrar}`.replace(/,/g, '_') : '';
  if (setup.profile === 'lean' && !setup.transactionDelayMs && !split) return 'mass-start.json';
  const delay = setup.transactionDelayMs ? `-delay-${setup.transactionDelayMs.join('-')}ms` : '';
  return `mass-start-${setup.profile}${delay}${cpus}.json`;
}

function describeRegistrar(setup: RegistrarSetup): string {
  const delay = setup.transactionDelayMs ? `, each transaction held ${setup.transactionDelayMs.join('–')} ms` : '';
  return `${setup.profile} registrar${delay}`;
}

/** How the daemon is started in every run: its database, [db_reg_agent] settings and node options. */
const daemonOptions = (rig: RegistrarRig): DaemonOptions => ({
  db: rig.db.config,
  agent: {
    expires: String(EXPIRES),
    ...(settings.maxPendingTransactions > 0 ? { max_pending_transactions: String(settings.maxPendingTransactions) } : {}),
  },
  nodeArgs: settings.daemonNodeArgs,
  stdoutFile: settings.daemonStdout,
});

function say(line: string): void {
  process.stdout.write(`[${new Date().toISOString().slice(11, 19)}] ${line}\n`);
}

// ----- one mass start ---------------------------------------------------------------

interface MassStart {
  daemon: RunningDaemon;
  wallSeconds: number;
  /** When the daemon held a final reply for every account (1 s resolution). */
  repliesCompleteSeconds: number | undefined;
  /** "database unavailable" warnings: the status writer backing off (e.g. on deadlocks). */
  dbBackoffWarnings: number;
  cpuSeconds: number;
  steadyState: SteadyState | undefined;
  cpuBudget: CpuBudget;
  counts: StatusCounts & { complete: boolean };
  statements: StatementRates;
  restore: RestoreReport;
}

/** Spawns the daemon on a database of never-registered accounts; waits until all are ACTIVE. */
async function massStart(rig: RegistrarRig, size: number, teardown: Teardown): Promise<MassStart> {
  const before = await readStatementCounters();
  const meter = new CpuBudgetMeter(rig.kam.pid);
  const started = performance.now();
  const { daemon } = await startBenchDaemon(daemonOptions(rig), teardown);
  teardown.add('remove the daemon config folder', () => daemon.cleanup());
  const replies = watchReplies(daemon, size, started);
  const pid = daemon.process.pid as number;
  const steady = new SteadyStateMeter(size);
  const counts = await waitForAllActive(rig.db, size, {
    stallMs: STALL_MS,
    pollMs: pollMsFor(size),
    precount: async () => {
      const active = await daemonActiveCounts(daemon);
      steady.record({ active: active.active, cpuSeconds: cpuSeconds(pid), wallSeconds: secondsSince(started) });
      return active;
    },
    timeoutMs: Math.max(300_000, size * 10),
    check: () => assertRunning(daemon),
    progress: (c) => say(`  ${formatNumber(c.active)} of ${formatNumber(size)} ACTIVE, ${c.failed} FAILED (${secondsSince(started).toFixed(1)} s)`),
  });
  const wallSeconds = secondsSince(started);
  const cpu = cpuSeconds(pid);
  const cpuBudget = meter.stop(cpu);
  const statements = statementRates(before, await readStatementCounters());
  const repliesCompleteSeconds = await replies.stop();
  const restore = await restoreReport(daemon, 5000);
  const dbBackoffWarnings = daemon.log().match(/WARNING: \[db\] database unavailable/g)?.length ?? 0;
  return {
    daemon, wallSeconds, repliesCompleteSeconds, dbBackoffWarnings, cpuSeconds: cpu, steadyState: steady.result(), cpuBudget, counts, statements, restore,
  };
}

function assertRunning(daemon: RunningDaemon): void {
  if (daemon.process.exitCode !== null || daemon.process.signalCode !== null) {
    throw new Error(`daemon exited (${daemon.process.exitCode ?? daemon.process.signalCode}):\n${daemon.log().slice(-3000)}`);
  }
}

// ----- restart ----------------------------------------------------------------------

interface Restart {
  stopMs: number;
  restore: RestoreReport;
  /** From spawn to the "running" log line (RPC servers up), s. */
  readySeconds: number;
  /** getStatistics sent.REGISTER once per second after the restart. */
  registerSamples: number[];
  countsAfter: StatusCounts;
  peakRssMb: number;
}

/** SIGTERM, start again on the same config: N ACTIVE rows must stay quiet. */
async function restartQuietly(rig: RegistrarRig, first: RunningDaemon, teardown: Teardown): Promise<Restart> {
  const stopMs = await stopDaemon(first);
  const started = performance.now();
  const { daemon } = await startBenchDaemon({ ...daemonOptions(rig), reuse: first }, teardown);
  const restore = await restoreReport(daemon, 120_000);
  await daemon.waitForLog(/ running$/m, 60_000);
  const readySeconds = secondsSince(started);
  const registerSamples: number[] = [];
  for (let elapsed = 0; elapsed < RESTART_WATCH_MS; elapsed += 1000) {
    registerSamples.push((await agentStatistics(daemon)).sentRegister);
    await sleep(1000);
  }
  registerSamples.push((await agentStatistics(daemon)).sentRegister);
  const countsAfter = await statusCounts(rig.db);
  const peakRssMb = peakRssBytes(daemon.process.pid as number) / MB;
  await stopDaemon(daemon);
  return { stopMs, restore, readySeconds, registerSamples, countsAfter, peakRssMb };
}

// ----- one size, end to end -----------------------------------------------------------

interface SizeResult {
  size: number;
  loadBefore: number[];
  loadAfter: number[];
  sipp: SippFigures;
  sippCpuBudget: CpuBudget;
  background: StatementRates;
  wallSeconds: number;
  repliesCompleteSeconds: number | undefined;
  dbBackoffWarnings: number;
  registrationsPerSecond: number;
  ratioToSipp: number;
  complete: boolean;
  active: number;
  failed: number;
  cpuSeconds: number;
  /** cpuSeconds ÷ N: from process start to all ACTIVE, µs. */
  cpuMicrosPerAccount: number;
  steadyState: SteadyState | undefined;
  cpuBudget: CpuBudget;
  peakRssMb: number;
  dbWritesPerSecond: number;
  dbQuestionsPerSecond: number;
  dbWritesPerAccount: number;
  firstRestoreMs: number;
  idleCpuPercent: number;
  statistics: AgentStatistics;
  restart: Restart;
}

async function measureSize(size: number): Promise<SizeResult> {
  const teardown = new Teardown();
  try {
    const loadBefore = await waitForQuietMachine(settings.maxLoad, settings.quietWaitMs, say);
    say(`N = ${formatNumber(size)}: load ${formatLoad(loadBefore)}; starting Kamailio, loading accounts`);
    const rig = await startRegistrarRig(size, teardown, settings.registrar);
    if (settings.cpuSplit) pinProcessGroup(rig.kam.pid, settings.cpuSplit.registrar);
    const sippAccounts = await addSippAccounts(rig);

    say(`  sipp ceiling (-r ${settings.sippRate} -l ${settings.sippConcurrency})`);
    const sippMeter = new CpuBudgetMeter(rig.kam.pid);
    const sipp = await sippCeiling(rig.kam, sippAccounts, {
      rate: settings.sippRate, concurrency: settings.sippConcurrency, expires: EXPIRES, timeoutMs: Math.max(120_000, size * 5),
    });
    const sippCpuBudget = sippMeter.stop();
    const s = sipp.figures;
    say(`  sipp: ${s.successful} ok, ${s.failed} failed in ${s.wallSeconds.toFixed(2)} s = ${s.perSecond.toFixed(0)}/s (sipp says ${s.sippReportedPerSecond.toFixed(0)}/s); `
      + `CPU ${s.cpuSeconds.toFixed(2)} s = ${s.cpuMicrosPerAccount.toFixed(0)} µs per account`);
    if (s.successful !== size) say(`  sipp did not register every account:\n${sipp.logTail}`);
    say(`  CPU during sipp: ${describeBudget(sippCpuBudget, 'sipp')}`);

    const background = await backgroundStatementRates(3000);
    say(`  DB background: ${background.writesPerSecond.toFixed(1)} writes/s; starting the daemon`);
    const start = await massStart(rig, size, teardown);
    const pid = start.daemon.process.pid as number;
    const rate = start.counts.active / start.wallSeconds;
    say(`  daemon: ${start.counts.active} ACTIVE, ${start.counts.failed} FAILED in ${start.wallSeconds.toFixed(2)} s = ${rate.toFixed(0)}/s `
      + `(all replies in after ${start.repliesCompleteSeconds?.toFixed(0) ?? '?'} s); CPU ${start.cpuSeconds.toFixed(2)} s; restore ${start.restore.ms} ms; `
      + `DB ${start.statements.writesPerSecond.toFixed(0)} writes/s, ${(start.statements.writes / size).toFixed(2)} per account; `
      + `${start.dbBackoffWarnings} status-writer back-offs`);
    say(`  CPU during the mass start: ${describeBudget(start.cpuBudget, 'daemon')}`);
    say(`  daemon CPU per account: ${(start.cpuSeconds / size * 1e6).toFixed(0)} µs from process start, ${describeSteadyState(start.steadyState)}`);

    const idle = await coreShareDuring(pid, () => sleep(IDLE_MS));
    say(`  idle: ${(idle.share * 100).toFixed(2)} % of a core over ${idle.wallSeconds.toFixed(1)} s`);
    const statistics = await agentStatistics(start.daemon);
    const peakRss = peakRssBytes(pid);

    const restart = await restartQuietly(rig, start.daemon, teardown);
    say(`  restart: restore ${restart.restore.ms} ms (${restart.restore.registrations} rows), running after ${restart.readySeconds.toFixed(2)} s, `
      + `sent.REGISTER over 10 s: ${restart.registerSamples.join(',')}`);

    return {
      size,
      loadBefore,
      loadAfter: loadAverages(),
      sipp: sipp.figures,
      sippCpuBudget,
      background,
      wallSeconds: start.wallSeconds,
      repliesCompleteSeconds: start.repliesCompleteSeconds,
      dbBackoffWarnings: start.dbBackoffWarnings,
      registrationsPerSecond: rate,
      ratioToSipp: rate / sipp.figures.perSecond,
      complete: start.counts.complete,
      active: start.counts.active,
      failed: start.counts.failed,
      cpuSeconds: start.cpuSeconds,
      cpuMicrosPerAccount: (start.cpuSeconds / size) * 1e6,
      steadyState: start.steadyState,
      cpuBudget: start.cpuBudget,
      peakRssMb: peakRss / MB,
      dbWritesPerSecond: start.statements.writesPerSecond,
      dbQuestionsPerSecond: start.statements.questionsPerSecond,
      dbWritesPerAccount: start.statements.writes / size,
      firstRestoreMs: start.restore.ms,
      idleCpuPercent: idle.share * 100,
      statistics,
      restart,
    };
  } finally {
    await teardown.close();
  }
}

// ----- report -------------------------------------------------------------------------

function describeSteadyState(steady: SteadyState | undefined): string {
  if (!steady) return 'steady state not seen (no polls between 10 % and 90 % ACTIVE)';
  return `${steady.cpuMicrosPerAccount.toFixed(0)} µs in the steady state (${formatNumber(steady.first.active)} → ${formatNumber(steady.last.active)} ACTIVE, `
    + `${steady.first.wallSeconds.toFixed(1)}–${steady.last.wallSeconds.toFixed(1)} s, ${steady.perSecond.toFixed(0)}/s)`;
}

const PER_ACCOUNT_HEADER = [
  'N', 'daemon: to all ACTIVE (s)', 'daemon CPU from process start (µs/account)', 'daemon CPU, 10–90 % ACTIVE (µs/account)',
  'sipp: to exit (s)', 'sipp CPU (µs/account)', 'daemon from start ÷ sipp',
];

function perAccountRow(r: SizeResult): string[] {
  return [
    formatNumber(r.size),
    formatNumber(r.wallSeconds, 1),
    formatNumber(r.cpuMicrosPerAccount),
    r.steadyState ? formatNumber(r.steadyState.cpuMicrosPerAccount) : 'n/a',
    formatNumber(r.sipp.wallSeconds, 1),
    formatNumber(r.sipp.cpuMicrosPerAccount),
    `${formatNumber(r.cpuMicrosPerAccount / r.sipp.cpuMicrosPerAccount, 1)}×`,
  ];
}

function describeBudget(b: CpuBudget, subject: string): string {
  const cores = (n: number): string => n.toFixed(2);
  const parts = [`host ${cores(b.hostBusyCores)} of ${describeMachine().cpus} cores busy`, `Kamailio ${cores(b.registrarCores)}`, `MariaDB ${cores(b.databaseCores)}`];
  if (b.subjectCores > 0) parts.push(`${subject} ${cores(b.subjectCores)}`);
  parts.push(`other${b.subjectCores > 0 ? '' : ` (${subject}, benchmark)`} ${cores(b.otherCores)}`);
  return `${parts.join(', ')} (over ${b.wallSeconds.toFixed(1)} s)`;
}

const TABLE_HEADER = [
  'N', 'wall time to all ACTIVE (s)', 'registrations/s', 'sipp ceiling/s', 'ratio', 'failed accounts',
  'daemon CPU (s)', 'peak RSS (MB)', 'DB statements/s', 'restore time (ms)', 'idle CPU (% core)',
];

function tableRow(r: SizeResult): string[] {
  return [
    formatNumber(r.size),
    `${formatNumber(r.wallSeconds, 1)}${r.complete ? '' : ` (incomplete: ${formatNumber(r.active)} ACTIVE)`}`,
    formatNumber(r.registrationsPerSecond),
    formatNumber(r.sipp.perSecond),
    `${formatNumber(r.ratioToSipp * 100)} %`,
    String(r.failed),
    formatNumber(r.cpuSeconds, 1),
    formatNumber(r.peakRssMb),
    formatNumber(r.dbWritesPerSecond),
    formatNumber(r.restart.restore.ms),
    formatNumber(r.idleCpuPercent, 2),
  ];
}

const DETAIL_HEADER = [
  'N', 'all SIP replies in (s)', 'REGISTERs sent', 'DB writes per account', 'status-writer back-offs',
  'background DB writes/s', 'first-start restore (ms)', 'restart: RPC up after (s)', 'restart peak RSS (MB)', 'sipp own figure/s',
];

function detailRow(r: SizeResult): string[] {
  return [
    formatNumber(r.size),
    r.repliesCompleteSeconds === undefined ? 'n/a' : formatNumber(r.repliesCompleteSeconds, 0),
    formatNumber(r.statistics.sentRegister),
    formatNumber(r.dbWritesPerAccount, 2),
    String(r.dbBackoffWarnings),
    formatNumber(r.background.writesPerSecond, 1),
    formatNumber(r.firstRestoreMs),
    formatNumber(r.restart.readySeconds, 2),
    formatNumber(r.restart.peakRssMb),
    formatNumber(r.sipp.sippReportedPerSecond),
  ];
}

const BUDGET_HEADER = [
  'N', 'phase', 'wall (s)', 'host busy (cores)', 'Kamailio (cores)', 'MariaDB (cores)', 'client (cores)', 'other (cores)',
];

function budgetRows(r: SizeResult): string[][] {
  const row = (phase: string, b: CpuBudget, client: string, other: string): string[] => [
    formatNumber(r.size), phase, formatNumber(b.wallSeconds, 1), formatNumber(b.hostBusyCores, 2), formatNumber(b.registrarCores, 2),
    formatNumber(b.databaseCores, 2), client, other,
  ];
  // sipp has exited when the phase ends, so its CPU is only known as the remainder.
  return [
    row('sipp', r.sippCpuBudget, `${formatNumber(r.sippCpuBudget.otherCores, 2)} (remainder)`, 'in client'),
    row('daemon', r.cpuBudget, formatNumber(r.cpuBudget.subjectCores, 2), formatNumber(r.cpuBudget.otherCores, 2)),
  ];
}

/** The issue's targets, checked for the record (a benchmark reports; it does not fail). */
function targetVerdicts(r: SizeResult): string[] {
  const verdicts = [
    `failed accounts 0: ${r.failed === 0 && r.complete ? 'met' : `MISSED (${r.failed} failed, ${r.active} of ${r.size} ACTIVE)`}`,
    `>= 90 % of sipp's rate: ${r.ratioToSipp >= 0.9 ? 'met' : 'MISSED'} (${(r.ratioToSipp * 100).toFixed(0)} %)`,
    `no REGISTER for 10 s after a restart: ${r.restart.registerSamples.every((n) => n === 0) ? 'met' : 'MISSED'}`,
  ];
  if (r.size >= 100_000) {
    verdicts.push(
      `peak RSS <= 300 MB: ${r.peakRssMb <= 300 ? 'met' : 'MISSED'} (${r.peakRssMb.toFixed(0)} MB)`,
      `restore <= 5 s: ${r.restart.restore.ms <= 5000 ? 'met' : 'MISSED'} (${r.restart.restore.ms} ms)`,
      `idle CPU <= 2 %: ${r.idleCpuPercent <= 2 ? 'met' : 'MISSED'} (${r.idleCpuPercent.toFixed(2)} %)`,
    );
  }
  return verdicts;
}

async function main(): Promise<void> {
  const machine = describeMachine();
  say(`machine: ${machine.cpus} CPUs (${machine.cpuModel}), ${machine.memoryGiB.toFixed(1)} GiB, Linux ${machine.kernel}, Node ${machine.node}`);
  const split = settings.cpuSplit;
  const restoreDatabaseCpus = split ? applyCpuSplit(split) : () => undefined;
  if (split) say(`CPU split: the benchmark, sipp and the daemon on CPU ${split.client}; Kamailio and MariaDB on CPU ${split.registrar}`);
  say(`registrar: ${describeRegistrar(settings.registrar)}`);
  const results: SizeResult[] = [];
  const file = resultsPath(resultsFileName(settings.registrar, split));
  for (const size of settings.sizes) {
    results.push(await measureSize(size));
    writeJson(file, { machine, settings, results });
  }
  process.stdout.write(`\n${markdownTable(TABLE_HEADER, results.map(tableRow))}\n\n`);
  process.stdout.write(`${markdownTable(PER_ACCOUNT_HEADER, results.map(perAccountRow))}\n\n`);
  process.stdout.write(`${markdownTable(DETAIL_HEADER, results.map(detailRow))}\n\n`);
  process.stdout.write(`${markdownTable(BUDGET_HEADER, results.flatMap(budgetRows))}\n\n`);
  for (const r of results) {
    process.stdout.write(`N = ${formatNumber(r.size)} (load before ${formatLoad(r.loadBefore)}, after ${formatLoad(r.loadAfter)}):\n`);
    for (const verdict of targetVerdicts(r)) process.stdout.write(`  ${verdict}\n`);
  }
  restoreDatabaseCpus();
  say(`results: ${file}`);
}

main().catch((err: Error) => {
  process.stderr.write(`mass-start benchmark failed: ${err.stack ?? err.message}\n`);
  process.exitCode = 1;
});
