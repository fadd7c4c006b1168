/**
 * Benchmark of the SIP registration client (make bench-sip; results in
 * doc/benchmarks.md, "SIP client"). Not a test: it prints numbers.
 *
 * 1. Throughput: K distinct accounts (digest auth, so two REGISTER transactions each)
 *    registered at a local Kamailio (usrloc db_mode 2, 4 children) by the client
 *    directly, at most IN_FLIGHT registrations at a time; then sipp's REGISTER client
 *    against the same Kamailio with the same accounts and the same bound, as the
 *    baseline. Prints registrations/s, transactions/s and CPU µs per registration of
 *    the client (process.cpuUsage), of sipp and of Kamailio (/proc, Linux).
 * 2. Memory: MEMORY_RUN registrations (refreshes of the same K accounts, in their
 *    dialogs) in batches, heapUsed and RSS sampled after every SAMPLE_EVERY, once the
 *    batch's transactions are gone (Timer K) and after a full GC (node --expose-gc).
 *
 * Before the rounds, SIP_BENCH_WARMUP registrations of other accounts (not measured):
 * a daemon runs for months, and its JIT-compiled steady state is what is compared with
 * sipp's native code, not the first seconds of a fresh process.
 *
 * Environment: SIP_BENCH_ACCOUNTS (K, default 20000), SIP_BENCH_IN_FLIGHT (200),
 * SIP_BENCH_ROUNDS (client/sipp pairs, 2), SIP_BENCH_WARMUP (5000, 0 for none),
 * SIP_BENCH_MEMORY_RUN (100000), SIP_BENCH_SAMPLE_EVERY (10000).
 */
import fs from 'node:fs';
import os from 'node:os';
import { setLogLevel } from '../src/process/log';
import type { RegistrationDialog, RegistrationParams } from '../src/sip/registration-client';
import { startKamailio, type KamailioHandle } from '../test/support/kamailio';
import { openTestClient, passwordOf, type TestClient } from '../test/support/sip-client';
import { sippRegisterClient } from '../test/support/sipp';

function envInt(name: string, fallback: number, minimum = 1): number {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value < minimum) throw new Error(`${name} must be an integer >= ${minimum}`);
  return value;
}

const ACCOUNTS = envInt('SIP_BENCH_ACCOUNTS', 20_000);
const IN_FLIGHT = envInt('SIP_BENCH_IN_FLIGHT', 200);
const ROUNDS = envInt('SIP_BENCH_ROUNDS', 2);
const WARMUP = envInt('SIP_BENCH_WARMUP', 5_000, 0);
const MEMORY_RUN = envInt('SIP_BENCH_MEMORY_RUN', 100_000);
const SAMPLE_EVERY = envInt('SIP_BENCH_SAMPLE_EVERY', 10_000);
const EXPIRES = 3600;
/** Heap growth over the memory run (after the first sample) still called flat. */
const FLAT_HEAP_BYTES = 8 * 1024 * 1024;

interface Account {
  params: RegistrationParams;
  dialog: RegistrationDialog;
}

interface RunResult {
  registrations: number;
  failed: number;
  /** Failures by code ('200c' = 2xx without our Contact). */
  failures: Record<string, number>;
  transactions: number;
  elapsedMs: number;
  cpuMicros: number;
  /** Of cpuMicros, the part spent in the kernel. */
  systemCpuMicros: number;
}

const failureList = (r: RunResult): string => Object.entries(r.failures).map(([code, n]) => `, ${n}× ${code}`).join('');
/** Clock ticks per second of /proc/<pid>/stat CPU times (USER_HZ, 100 on Linux). */
const CLOCK_TICKS = 100;

/** Fields of /proc/<pid>/stat after the command name; index 0 is field 3 (state). */
function procStat(pid: number | 'self'): string[] | undefined {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined; // gone meanwhile
  }
}

/** CPU time (user + system) of our children that have ended and been waited for, µs: sipp here. */
function endedChildrenCpuMicros(): number {
  const f = procStat('self') ?? [];
  return ((Number(f[13]) + Number(f[14])) * 1e6) / CLOCK_TICKS; // cutime, cstime
}

/** CPU time (user + system) of every live process in a process group, µs: Kamailio's workers. */
function processGroupCpuMicros(pgid: number): number {
  let ticks = 0;
  for (const entry of fs.readdirSync('/proc')) {
    const f = /^\d+$/.test(entry) ? procStat(Number(entry)) : undefined;
    if (f && Number(f[2]) === pgid) ticks += Number(f[11]) + Number(f[12]); // pgrp; utime, stime
  }
  return (ticks * 1e6) / CLOCK_TICKS;
}

const perSecond = (count: number, ms: number): number => (ms > 0 ? (count * 1000) / ms : 0);
const mb = (bytes: number): string => (bytes / 1024 / 1024).toFixed(1);

/** `count` registrations of accounts[from % K], … with at most IN_FLIGHT at a time. */
async function registerMany(tc: TestClient, accounts: readonly Account[], from: number, count: number): Promise<RunResult> {
  const result = { registrations: 0, failed: 0, transactions: 0, failures: {} as Record<string, number> };
  let next = from;
  const end = from + count;
  const cpuStart = process.cpuUsage();
  const started = performance.now();
  const worker = async (): Promise<void> => {
    while (next < end) {
      const account = accounts[next++ % accounts.length] as Account;
      const outcome = await tc.client.register(account.dialog, account.params);
      result.registrations++;
      result.transactions += outcome.challenge ? 2 : 1;
      if (outcome.code !== 200 || outcome.contactMissing) {
        result.failed++;
        const key = `${outcome.code}${outcome.contactMissing ? 'c' : ''}`;
        result.failures[key] = (result.failures[key] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, count) }, worker));
  const cpu = process.cpuUsage(cpuStart);
  return { ...result, elapsedMs: performance.now() - started, cpuMicros: cpu.user + cpu.system, systemCpuMicros: cpu.system };
}

async function ourRound(kam: KamailioHandle, tc: TestClient, accounts: readonly Account[], round: number): Promise<number> {
  const kamailioCpu = processGroupCpuMicros(kam.pid);
  const r = await registerMany(tc, accounts, 0, accounts.length);
  const registrarUs = (processGroupCpuMicros(kam.pid) - kamailioCpu) / r.registrations;
  const rate = perSecond(r.registrations, r.elapsedMs);
  console.log(`  client  round ${round}: ${r.registrations} registrations (${r.failed} failed${failureList(r)}) in ${(r.elapsedMs / 1000).toFixed(2)} s`
    + ` = ${rate.toFixed(0)} registrations/s, ${perSecond(r.transactions, r.elapsedMs).toFixed(0)} transactions/s;`
    + ` CPU per registration: ${(r.cpuMicros / r.registrations).toFixed(0)} µs client`
    + ` (${(r.systemCpuMicros / r.registrations).toFixed(0)} µs of it system), ${registrarUs.toFixed(0)} µs Kamailio`);
  return rate;
}

async function sippRound(kam: KamailioHandle, users: readonly string[], round: number): Promise<number> {
  const kamailioCpu = processGroupCpuMicros(kam.pid);
  const sippCpu = endedChildrenCpuMicros();
  const result = await sippRegisterClient({
    target: { host: kam.host, port: kam.ports.udp },
    accounts: users.map((user) => ({ user, password: passwordOf(user), domain: kam.defaultDomain })),
    calls: users.length,
    rate: 1_000_000, // bound by the concurrency limit only
    concurrency: IN_FLIGHT,
    expires: EXPIRES,
    timeoutMs: 600_000,
  });
  const perRegistration = (micros: number) => (micros / Math.max(1, result.successful)).toFixed(0);
  console.log(`  sipp    round ${round}: ${result.successful} registrations (${result.failed} failed) in`
    + ` ${(result.elapsedMs / 1000).toFixed(2)} s = ${result.registrationsPerSecond.toFixed(0)} registrations/s;`
    + ` CPU per registration: ${perRegistration(endedChildrenCpuMicros() - sippCpu)} µs sipp,`
    + ` ${perRegistration(processGroupCpuMicros(kam.pid) - kamailioCpu)} µs Kamailio`);
  if (result.successful !== users.length) console.log(result.logTail);
  return result.registrationsPerSecond;
}

async function throughput(
  kam: KamailioHandle, tc: TestClient, accounts: readonly Account[], users: readonly string[], warmup: readonly Account[],
): Promise<void> {
  if (warmup.length > 0) {
    const w = await registerMany(tc, warmup, 0, warmup.length);
    console.log(`\nWarm-up (not measured): ${w.registrations} registrations of other accounts (${w.failed} failed${failureList(w)})`
      + ` at ${perSecond(w.registrations, w.elapsedMs).toFixed(0)}/s`);
  }
  console.log(`\nThroughput: ${ACCOUNTS} accounts, at most ${IN_FLIGHT} registrations in flight, ${ROUNDS} round(s)`);
  const ours: number[] = [];
  const theirs: number[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    ours.push(await ourRound(kam, tc, accounts, round));
    theirs.push(await sippRound(kam, users, round));
  }
  const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
  console.log(`  => client ${mean(ours).toFixed(0)}/s vs sipp ${mean(theirs).toFixed(0)}/s:`
    + ` ${((100 * mean(ours)) / mean(theirs)).toFixed(0)} % of sipp's rate (target >= 90 %)`);
}

/** RFC 3261 Timer K over UDP (T4, 5 s): how long completed transactions stay to absorb retransmitted replies. */
const TIMER_K_MS = 5000;

/** After the batch's transactions have ended (Timer K), so the sample holds only what lasts. */
async function sampleMemory(): Promise<NodeJS.MemoryUsage> {
  await new Promise((resolve) => setTimeout(resolve, TIMER_K_MS + 500));
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage();
}

async function memoryRun(tc: TestClient, accounts: readonly Account[]): Promise<void> {
  const gc = typeof (globalThis as { gc?: unknown }).gc === 'function';
  console.log(`\nMemory: ${MEMORY_RUN} registrations in batches of ${SAMPLE_EVERY}, sampled once Timer K ended the`
    + ` batch's transactions${gc ? ', after a full GC' : ' (no --expose-gc: no GC before sampling)'}`);
  const samples: NodeJS.MemoryUsage[] = [];
  let failed = 0;
  const failures: string[] = [];
  for (let done = 0; done < MEMORY_RUN; done += SAMPLE_EVERY) {
    const batch = await registerMany(tc, accounts, done, Math.min(SAMPLE_EVERY, MEMORY_RUN - done));
    failed += batch.failed;
    if (batch.failed) failures.push(failureList(batch));
    const sample = await sampleMemory();
    samples.push(sample);
    console.log(`  after ${String(done + batch.registrations).padStart(7)}: heapUsed ${mb(sample.heapUsed).padStart(6)} MB,`
      + ` rss ${mb(sample.rss).padStart(6)} MB  (${perSecond(batch.registrations, batch.elapsedMs).toFixed(0)}/s)`);
  }
  if (samples.length < 3) {
    console.log(`  => ${failed} failed${failures.join('')}; too few samples to judge the trend`);
    return;
  }
  // The first batch fills caches and pools; from then on the last sample is compared with the lowest.
  const steady = samples.slice(1);
  const growth = (key: 'heapUsed' | 'rss') => (steady.at(-1) as NodeJS.MemoryUsage)[key] - Math.min(...steady.map((s) => s[key]));
  console.log(`  => ${failed} failed${failures.join('')}; growth after the first sample: heapUsed ${mb(growth('heapUsed'))} MB,`
    + ` rss ${mb(growth('rss'))} MB: ${growth('heapUsed') <= FLAT_HEAP_BYTES ? 'flat' : 'NOT flat'}`
    + ` (threshold ${mb(FLAT_HEAP_BYTES)} MB of heap)`);
}

async function main(): Promise<void> {
  setLogLevel(0);
  const [load1, load5] = os.loadavg();
  console.log(`SIP client benchmark: node ${process.version}, ${os.cpus().length} CPUs,`
    + ` load average ${load1?.toFixed(2)} / ${load5?.toFixed(2)} (1 / 5 min) at start`);
  const kam = await startKamailio({ usrlocDbMode: 2, children: 4, tls: false, logLevel: 1, sharedMemoryMb: 512 });
  let tc: TestClient | undefined;
  try {
    const users = Array.from({ length: ACCOUNTS }, (_, i) => `bench-${i}`);
    const warmupUsers = Array.from({ length: WARMUP }, (_, i) => `warmup-${i}`);
    await kam.addSubscribers([...users, ...warmupUsers].map((user) => ({ user, password: passwordOf(user) })));
    tc = await openTestClient({ noTap: true });
    const client = tc;
    const accountsOf = (names: readonly string[]): Account[] => names.map((user) => ({
      params: client.params(user, kam.hostPort(), { expires: EXPIRES }),
      dialog: client.client.newDialog(),
    }));
    const accounts = accountsOf(users);
    await throughput(kam, tc, accounts, users, accountsOf(warmupUsers));
    await memoryRun(tc, accounts);
    console.log(`\nload average ${os.loadavg().map((l) => l.toFixed(2)).join(' / ')} (1 / 5 / 15 min) at the end`);
  } finally {
    await tc?.close();
    await kam.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
