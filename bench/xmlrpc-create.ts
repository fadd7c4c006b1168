/**
 * Benchmark (not a test): createRegistration over XML-RPC against the compiled daemon,
 * with MariaDB and a real Kamailio behind it, so every call also costs the engine a
 * REGISTER with digest authentication and its status writes.
 *
 * Open loop: calls are scheduled at the offered rate and taken by a fixed number of
 * keep-alive clients. Latency is reported twice: from sending to the reply, and from
 * the scheduled moment to the reply (which also counts the wait for a free client, so
 * a stall cannot hide behind a slowed-down load).
 *
 *   make bench-rpc
 *   node build/bench/xmlrpc-create.js [--rate 1000] [--seconds 20] [--clients 200] [--warmup 2] [--server-timeout 500]
 *
 * The measured run is preceded by --warmup seconds of the same load on other accounts,
 * so that it sees a daemon whose code is compiled, as a provisioning burst would.
 *
 * --server-timeout sets xmlrpc2di's server_timeout (ms; default 500, the shipped
 * default when doc/benchmarks.md's figures were taken; now 30000). The
 * server's idle keep-alive timeout follows it, and Node's HTTP client reuses a
 * connection only when the announced timeout is at least 2 s: below that every call
 * opens a new connection, as the report line "connections opened" shows.
 */
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { cpus } from 'node:os';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { startDaemon, type RunningDaemon } from '../test/support/daemon';
import { startKamailio, type KamailioHandle } from '../test/support/kamailio';
import { createTestDatabase, type TestDatabase } from '../test/support/mariadb';
import { waitUntil } from '../test/support/peer-process';
import { freePort } from '../test/support/ports';
import { parseExposition, scrape } from '../test/support/prometheus';

interface Options {
  rate: number;
  seconds: number;
  clients: number;
  warmup: number;
  serverTimeout: number;
}

const OPTION_NAMES: Record<string, keyof Options> = {
  rate: 'rate', seconds: 'seconds', clients: 'clients', warmup: 'warmup', 'server-timeout': 'serverTimeout',
};

/** prom-client samples the daemon's event loop every 10 ms; we sample ours every 1 ms. */
const DAEMON_LAG_RESOLUTION_MS = 10;
const OWN_LAG_RESOLUTION_MS = 1;

const OK_REPLY = /<int>200<\/int><\/value>\s*<value><string>OK<\/string>/;

function parseOptions(argv: string[]): Options {
  const options: Options = { rate: 1000, seconds: 20, clients: 200, warmup: 2, serverTimeout: 500 };
  for (let i = 0; i < argv.length; i += 2) {
    const key = OPTION_NAMES[argv[i]?.replace(/^--/, '') ?? ''];
    const value = Number(argv[i + 1]);
    if (!key || !(value > 0 || (key === 'warmup' && value === 0))) {
      throw new Error(`usage: xmlrpc-create [--rate N] [--seconds N] [--clients N] [--warmup s] [--server-timeout ms] (got ${argv.slice(i, i + 2).join(' ')})`);
    }
    options[key] = value;
  }
  return options;
}

/** Nearest-rank percentile of ascending `sorted`. */
function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

function createCall(id: number, realm: string): string {
  return '<?xml version="1.0"?><methodCall><methodName>di</methodName><params>' +
    ['db_reg_agent', 'createRegistration'].map((s) => `<param><value><string>${s}</string></value></param>`).join('') +
    `<param><value><int>${id}</int></value></param>` +
    [`bench${id}`, `pw-${id}`, realm].map((s) => `<param><value><string>${s}</string></value></param>`).join('') +
    '</params></methodCall>';
}

/** Sockets the clients used: tells whether connections were kept alive. */
const socketsSeen = new WeakSet<object>();
let connectionsOpened = 0;

function post(port: number, agent: Agent, body: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/RPC2', method: 'POST', agent,
      headers: { 'Content-Type': 'text/xml', 'Content-Length': Buffer.byteLength(body) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve(text));
      res.on('error', reject);
    });
    req.on('socket', (socket) => {
      if (socketsSeen.has(socket)) return;
      socketsSeen.add(socket);
      connectionsOpened++;
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** utime + stime of a process, seconds (Linux). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Busy and total CPU time of the whole machine so far, in clock ticks (Linux /proc/stat). */
function machineTicks(): { busy: number; total: number } {
  const [, ...fields] = readFileSync('/proc/stat', 'utf8').split('\n')[0]?.trim().split(/\s+/) ?? [];
  const ticks = fields.map(Number);
  const total = ticks.reduce((a, b) => a + b, 0);
  const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0); // idle + iowait
  return { busy: total - idle, total };
}

interface RunResult {
  sent: number;
  failed: number;
  elapsedS: number;
  serviceMs: number[];
  scheduledMs: number[];
}

/** `total` calls at o.rate for the accounts firstId, firstId + 1, ... */
async function offerLoad(port: number, realm: string, o: Options, firstId: number, total: number): Promise<RunResult> {
  const intervalMs = 1000 / o.rate;
  const serviceMs: number[] = [];
  const scheduledMs: number[] = [];
  let next = 0;
  let failed = 0;
  const start = performance.now() + 100;
  await Promise.all(Array.from({ length: o.clients }, async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (let i = next++; i < total; i = next++) {
        const due = start + i * intervalMs;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        const sentAt = performance.now();
        const reply = await post(port, agent, createCall(firstId + i, realm)).catch((err: Error) => err.message);
        const done = performance.now();
        if (!OK_REPLY.test(reply)) failed++;
        serviceMs.push(done - sentAt);
        scheduledMs.push(done - Math.min(due, sentAt)); // timers may fire a fraction of a ms early
      }
    } finally {
      agent.destroy();
    }
  }));
  return { sent: total, failed, elapsedS: (performance.now() - start) / 1000, serviceMs, scheduledMs };
}

async function activeRows(db: TestDatabase): Promise<number> {
  const [row] = await db.query<{ n: number }>('SELECT COUNT(*) AS n FROM registrations WHERE registration_status = 2');
  return Number(row?.n ?? 0);
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  const total = o.rate * o.seconds;
  const warmupCalls = o.rate * o.warmup;
  let kam: KamailioHandle | undefined;
  let db: TestDatabase | undefined;
  let daemon: RunningDaemon | undefined;
  try {
    kam = await startKamailio({ usrlocDbMode: 2, children: 4, logLevel: 1, sharedMemoryMb: 256 });
    await kam.addSubscribers(Array.from({ length: total + warmupCalls }, (_, i) => ({ user: `bench${i + 1}`, password: `pw-${i + 1}` })));
    const database = await createTestDatabase({ schema: 'readme' });
    db = database;
    const metricsPort = await freePort({ protocols: ['tcp'] });
    daemon = await startDaemon({
      db: database.config, logLevel: 2, agent: { metrics_port: String(metricsPort) }, xmlrpc: { server_timeout: String(o.serverTimeout) },
    });
    await daemon.waitForLog(/running/);
    const pid = daemon.process.pid ?? 0;
    const realm = kam.hostPort('udp');
    if (warmupCalls > 0) {
      await offerLoad(daemon.xmlrpcPort, realm, o, total + 1, warmupCalls);
      await waitUntil(async () => (await activeRows(database)) >= warmupCalls, 60_000, 250);
    }

    // Both sides' event-loop delay: a stall in the load generator would count as latency too.
    await scrape(metricsPort); // prom-client restarts its event-loop delay figures at each scrape
    const ownDelay = monitorEventLoopDelay({ resolution: OWN_LAG_RESOLUTION_MS });
    ownDelay.enable();
    const cpuBefore = cpuSeconds(pid);
    const machineBefore = machineTicks();
    connectionsOpened = 0; // count the measured run's only
    const run = await offerLoad(daemon.xmlrpcPort, realm, o, 1, total);
    const daemonCpu = (cpuSeconds(pid) - cpuBefore) / run.elapsedS;
    const machineAfter = machineTicks();
    const machineBusy = (machineAfter.busy - machineBefore.busy) / (machineAfter.total - machineBefore.total);
    ownDelay.disable();
    const daemonMetrics = parseExposition((await scrape(metricsPort)).body);
    // Both histograms hold whole sampling intervals: what exceeds the interval is the delay.
    const daemonLagMs = (name: string): number =>
      (daemonMetrics.value(`nodejs_eventloop_lag_${name}_seconds`) ?? NaN) * 1000 - DAEMON_LAG_RESOLUTION_MS;
    const ownLagMs = (ns: number): number => ns / 1e6 - OWN_LAG_RESOLUTION_MS;
    const activeAtEnd = (await activeRows(database)) - warmupCalls;
    const settleStart = performance.now();
    await waitUntil(async () => (await activeRows(database)) >= total + warmupCalls, 120_000, 250);
    const allActiveS = (performance.now() - settleStart) / 1000;
    const allActive = (await activeRows(database)) >= total + warmupCalls;

    const service = [...run.serviceMs].sort((a, b) => a - b);
    const scheduled = [...run.scheduledMs].sort((a, b) => a - b);
    const ms = (v: number): string => v.toFixed(2);
    console.log([
      `offered ${o.rate} req/s × ${o.seconds} s with ${o.clients} keep-alive clients (${total} createRegistration calls), server_timeout ${o.serverTimeout} ms`,
      `achieved ${(run.sent / run.elapsedS).toFixed(0)} req/s; ${run.failed} calls not answered [200, "OK"]; ${connectionsOpened} connections opened`,
      `latency send → reply:      p50 ${ms(percentile(service, 50))} ms, p99 ${ms(percentile(service, 99))} ms, max ${ms(percentile(service, 100))} ms`,
      `latency schedule → reply:  p50 ${ms(percentile(scheduled, 50))} ms, p99 ${ms(percentile(scheduled, 99))} ms, max ${ms(percentile(scheduled, 100))} ms`,
      `daemon CPU during the run: ${(daemonCpu * 100).toFixed(0)} % of one core; whole machine (${cpus().length} CPUs, everything on it): ${(machineBusy * 100).toFixed(0)} % busy`,
      `event-loop delay, daemon:         p50 ${ms(daemonLagMs('p50'))} ms, p99 ${ms(daemonLagMs('p99'))} ms, max ${ms(daemonLagMs('max'))} ms`,
      `event-loop delay, load generator: p50 ${ms(ownLagMs(ownDelay.percentile(50)))} ms, p99 ${ms(ownLagMs(ownDelay.percentile(99)))} ms, max ${ms(ownLagMs(ownDelay.max))} ms`,
      `status writes: ${daemonMetrics.value('db_reg_agent_db_writes_total')} stored, ${daemonMetrics.value('db_reg_agent_db_write_errors_total')} failed attempts (retried), ${daemonMetrics.value('db_reg_agent_db_writes_dropped_total')} dropped`,
      `ACTIVE rows when the load ended: ${activeAtEnd}/${total}; all ACTIVE ${allActive ? `${allActiveS.toFixed(1)} s later` : 'not within 120 s'}`,
    ].join('\n'));
  } finally {
    await daemon?.stop();
    daemon?.cleanup();
    await db?.drop();
    await kam?.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
