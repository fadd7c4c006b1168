/**
 * Issue 15's measuring tool (not a test): the daemon's CPU for one mass start against
 * the benchmark registrar (support/registrar-rig.ts), with variants run in turn so that
 * each step of an optimisation is measured against the code or settings before it on
 * the same host in the same sitting. No sipp, no idle phase, no restart: only the
 * figure a change has to move.
 *
 *   node build/bench/daemon-cpu.js
 *   BENCH_SIZE=20000 BENCH_TRIALS=3 BENCH_VARIANTS='default|--max-semi-space-size=64' node build/bench/daemon-cpu.js
 *
 * BENCH_VARIANTS: '|'-separated sets of options for the daemon's node ('default' = none);
 * words of the form agent:key=value are db_reg_agent.conf settings instead
 * (e.g. 'agent:enable_ratelimiting=yes agent:ratelimit_rate=500 agent:ratelimit_per=1');
 * 'sipp' runs sipp (-r 20000 -l 1000) on the same accounts instead of the daemon, for
 * the registrar's side of the comparison (its CPU per account, the REGISTERs it received);
 * BENCH_DAEMONS: '|'-separated main.js paths (another worktree's build) to compare code;
 * BENCH_CPU_SPLIT, BENCH_REGISTRAR, BENCH_TRANSACTION_DELAY_MS and BENCH_DAEMON_STDOUT as in mass-start.ts.
 * Each trial gets a fresh Kamailio and database, so every REGISTER creates a binding.
 * Reported per trial: wall time to all ACTIVE, user and kernel CPU from process start
 * (/proc/<pid>/stat), both per account; the main thread's wake-ups (voluntary context
 * switches) and preemptions (involuntary ones) per account; Kamailio's CPU per account
 * and the REGISTERs it received per account (2 plus retransmissions); peak RSS.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { registersReceived } from '../test/support/kamailio';
import { clockTicksPerSecond } from '../test/support/process-cpu';
import { envNumber, envText } from './support/bench-env';
import { applyCpuSplit, parseCpuSplit, pinProcessGroup } from './support/cpu-split';
import { startBenchDaemon, stopDaemon } from './support/bench-daemon';
import { CpuBudgetMeter } from './support/cpu-budget';
import { formatLoad, loadAverages, waitForQuietMachine } from './support/machine';
import { formatNumber, markdownTable } from './support/markdown-table';
import { peakRssBytes } from './support/process-usage';
import { parseRegistrarProfile, parseTransactionDelay, startRegistrarRig, type RegistrarRig, type RegistrarSetup } from './support/registrar-rig';
import { waitForAllActive } from './support/registration-counts';
import { sippCeiling } from './support/sipp-ceiling';
import { Teardown } from './support/teardown';
import { secondsSince } from './support/time';

const size = envNumber('BENCH_SIZE', 10_000);
const trials = envNumber('BENCH_TRIALS', 2);
const variants = (envText('BENCH_VARIANTS') ?? 'default').split('|').map((v) => v.trim());
const daemons = (envText('BENCH_DAEMONS') ?? '').split('|').map((d) => d.trim()).filter(Boolean);
const cpuSplit = parseCpuSplit('BENCH_CPU_SPLIT', envText('BENCH_CPU_SPLIT'));
const setup: RegistrarSetup = {
  profile: parseRegistrarProfile('BENCH_REGISTRAR', envText('BENCH_REGISTRAR')),
  transactionDelayMs: parseTransactionDelay('BENCH_TRANSACTION_DELAY_MS', envText('BENCH_TRANSACTION_DELAY_MS')),
};

interface Trial {
  label: string;
  wallSeconds: number;
  userSeconds: number;
  systemSeconds: number;
  peakRssMb: number;
  failed: number;
  /** The main thread's voluntary context switches: how often its event loop slept and was woken. */
  wakeups: number;
  /** The main thread's involuntary context switches: how often another process took its CPU. */
  preemptions: number;
  /** Kamailio's CPU (all its processes) while the daemon ran, s. */
  registrarSeconds: number;
  /** REGISTER requests Kamailio received (kamcmd stats.get_statistics rcv_requests_register): 2 per account plus retransmissions. */
  registersReceived: number;
}

function userAndSystemSeconds(pid: number): { user: number; system: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = clockTicksPerSecond();
  return { user: Number(fields[11]) / ticks, system: Number(fields[12]) / ticks };
}

/** Context switches of the process's main thread (its event loop, not V8's helper threads). */
function mainThreadSwitches(pid: number): { voluntary: number; involuntary: number } {
  const status = readFileSync(`/proc/${pid}/task/${pid}/status`, 'utf8');
  const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+)$`, 'm').exec(status)?.[1] ?? NaN);
  return { voluntary: field('voluntary_ctxt_switches'), involuntary: field('nonvoluntary_ctxt_switches') };
}

/** CPU seconds (user + system) of each of the process's threads, by thread name (/proc/<pid>/task/<tid>/comm). */
function cpuByThread(pid: number): Map<string, number> {
  const byName = new Map<string, number>();
  const ticks = clockTicksPerSecond();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim() || tid;
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const label = tid === String(pid) ? 'main' : name;
      byName.set(label, (byName.get(label) ?? 0) + (Number(fields[11]) + Number(fields[12])) / ticks);
    } catch {
      // the thread ended meanwhile
    }
  }
  return byName;
}

/** A fresh registrar and accounts for one trial (pinned under BENCH_CPU_SPLIT), torn down after `run`. */
async function onFreshRegistrar(run: (rig: RegistrarRig, meter: CpuBudgetMeter, teardown: Teardown) => Promise<Trial>): Promise<Trial> {
  const teardown = new Teardown();
  try {
    await waitForQuietMachine(envNumber('BENCH_MAX_LOAD', 3), 300_000, (line) => process.stdout.write(`${line}\n`));
    const rig = await startRegistrarRig(size, teardown, setup);
    if (cpuSplit) pinProcessGroup(rig.kam.pid, cpuSplit.registrar);
    return await run(rig, new CpuBudgetMeter(rig.kam.pid), teardown);
  } finally {
    await teardown.close();
  }
}

/** sipp in the daemon's place: same fresh registrar and accounts; its CPU is its own (reaped-children accounting). */
function sippTrial(label: string): Promise<Trial> {
  return onFreshRegistrar(async (rig, meter) => {
    const accounts = rig.accounts.map((a) => ({ user: a.user, password: a.password, domain: rig.realm }));
    const { figures } = await sippCeiling(rig.kam, accounts, { rate: 20_000, concurrency: 1000, expires: 3600, timeoutMs: Math.max(120_000, size * 5) });
    const budget = meter.stop();
    return {
      label, wallSeconds: figures.wallSeconds, userSeconds: figures.cpuSeconds, systemSeconds: 0, peakRssMb: NaN,
      failed: figures.failed, wakeups: NaN, preemptions: NaN, registrarSeconds: budget.registrarCores * budget.wallSeconds,
      registersReceived: await registersReceived(rig.kam),
    };
  });
}

function trial(label: string, words: string[], main: string | undefined): Promise<Trial> {
  if (words.length === 1 && words[0] === 'sipp') return sippTrial(label);
  const nodeArgs = words.filter((w) => !w.startsWith('agent:'));
  const agent = Object.fromEntries(words.filter((w) => w.startsWith('agent:')).map((w) => w.slice(6).split('=', 2) as [string, string]));
  return onFreshRegistrar(async (rig, meter, teardown) => {
    const started = performance.now();
    const { daemon } = await startBenchDaemon({ db: rig.db.config, agent: { expires: '3600', ...agent }, nodeArgs, main, stdoutFile: envText('BENCH_DAEMON_STDOUT') }, teardown);
    teardown.add('remove the daemon config folder', () => daemon.cleanup());
    const pid = daemon.process.pid as number;
    const counts = await waitForAllActive(rig.db, size, { stallMs: 60_000, timeoutMs: Math.max(300_000, size * 10), pollMs: Math.max(50, size / 400) });
    const wallSeconds = secondsSince(started);
    const cpu = userAndSystemSeconds(pid);
    const registrarSeconds = meter.stop().registrarCores * wallSeconds;
    const peakRssMb = peakRssBytes(pid) / 2 ** 20;
    if (counts.active < size) {
      // What the accounts that did not make it were told, before the teardown drops the table.
      const outcomes = await rig.db.query<{ registration_status: number; last_code: number; last_reason: string; n: number }>(
        'SELECT registration_status, last_code, last_reason, COUNT(*) AS n FROM registrations WHERE registration_status <> 2 GROUP BY 1, 2, 3 ORDER BY n DESC LIMIT 10');
      for (const o of outcomes) process.stdout.write(`  not ACTIVE: status ${o.registration_status}, ${o.last_code} ${o.last_reason}: ${o.n}\n`);
      process.stdout.write(`  registrar log tail:\n${rig.kam.logTail(20)}\n`);
    }
    const switches = mainThreadSwitches(pid);
    const received = await registersReceived(rig.kam);
    const threads = [...cpuByThread(pid)].sort((a, b) => b[1] - a[1]).map(([name, sec]) => `${name} ${(sec / size * 1e6).toFixed(0)}`);
    process.stdout.write(`  CPU by thread (µs/account): ${threads.join(', ')}\n`);
    await stopDaemon(daemon);
    return { label, wallSeconds, userSeconds: cpu.user, systemSeconds: cpu.system, peakRssMb, failed: size - counts.active,
      wakeups: switches.voluntary, preemptions: switches.involuntary, registrarSeconds, registersReceived: received,
    };
  });
}

async function main(): Promise<void> {
  const restoreDatabaseCpus = cpuSplit ? applyCpuSplit(cpuSplit) : () => undefined;
  const runs: Array<{ label: string; words: string[]; main: string | undefined }> = [];
  for (const main of daemons.length > 0 ? daemons : [undefined]) {
    for (const variant of variants) {
      const label = [main, variant === 'default' ? '' : variant].filter(Boolean).join(' ') || 'default';
      runs.push({ label, words: variant === 'default' ? [] : variant.split(/\s+/), main });
    }
  }
  const results: Trial[] = [];
  for (let t = 0; t < trials; t++) {
    for (const run of runs) {
      const r = await trial(run.label, run.words, run.main);
      results.push(r);
      const perAccount = (s: number): string => (s / size * 1e6).toFixed(0);
      process.stdout.write(`${r.label}: ${r.wallSeconds.toFixed(2)} s, user ${perAccount(r.userSeconds)} + system ${perAccount(r.systemSeconds)} µs/account, `
        + `peak RSS ${r.peakRssMb.toFixed(0)} MB, ${(r.wakeups / size).toFixed(2)} wake-ups and ${(r.preemptions / size).toFixed(2)} preemptions/account, `
        + `Kamailio ${perAccount(r.registrarSeconds)} µs/account and ${(r.registersReceived / size).toFixed(3)} REGISTERs received/account, ${r.failed} not ACTIVE (load ${formatLoad(loadAverages())})\n`);
    }
  }
  const perAccount = (s: number): string => formatNumber((s / size) * 1e6);
  process.stdout.write(`\nN = ${formatNumber(size)}, ${setup.profile} registrar${setup.transactionDelayMs ? `, delay ${setup.transactionDelayMs.join('-')} ms` : ''}`
    + `${cpuSplit ? `, CPU split ${cpuSplit.client}:${cpuSplit.registrar}` : ''}\n\n`);
  process.stdout.write(`${markdownTable(
    ['variant', 'to all ACTIVE (s)', 'user CPU (µs/account)', 'system CPU (µs/account)', 'total (µs/account)', 'wake-ups per account', 'preemptions per account',
      'Kamailio CPU (µs/account)', 'REGISTERs received per account', 'peak RSS (MB)'],
    results.map((r) => [r.label, formatNumber(r.wallSeconds, 2), perAccount(r.userSeconds), perAccount(r.systemSeconds),
      perAccount(r.userSeconds + r.systemSeconds), formatNumber(r.wakeups / size, 2), formatNumber(r.preemptions / size, 2),
      perAccount(r.registrarSeconds), formatNumber(r.registersReceived / size, 3), formatNumber(r.peakRssMb)]),
  )}\n`);
  restoreDatabaseCpus();
}

main().catch((err: Error) => {
  process.stderr.write(`daemon-cpu benchmark failed: ${err.stack ?? err.message}\n`);
  process.exitCode = 1;
});
