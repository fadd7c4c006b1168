/**
 * Soak (issue 14, `make test-long`): 10 000 accounts with expires=60 against Kamailio
 * and MariaDB for SOAK_SECONDS (default 1800 s: ~600 000 REGISTER transactions). After
 * the warm-up (the mass start and the first refresh rounds) the daemon must hold
 * steady: RSS grows < 10 %, the event loop's p99 delay stays < 50 ms, and file
 * descriptors, Node timers and the engine's timer queue do not grow.
 *
 *   make test-long                                   # every long test
 *   SOAK_SECONDS=180 node_modules/.bin/mocha build/test/long/soak.long.test.js
 *
 * Knobs: SOAK_SECONDS (1800), SOAK_ACCOUNTS (10000), SOAK_WARMUP_SECONDS (180, at most a
 * fifth of the run). Figures go to stdout and to SOAK_RESULTS (build/long-results/soak.json).
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startDaemon, type RunningDaemon } from '../support/daemon';
import { projectRoot } from '../support/fixtures';
import { startKamailio, type KamailioHandle } from '../support/kamailio';
import { createTestDatabase, type TestDatabase } from '../support/mariadb';
import { freePort } from '../support/ports';
import { openDescriptors, residentBytes, schedulerSeconds } from '../support/process-memory';
import { parseExposition, scrape, type Exposition } from '../support/prometheus';
import { printDaemonLogOnFailure, sleep, waitFor } from '../support/registrations';

const envInt = (name: string, fallback: number): number => {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer, not '${text}'`);
  return value;
};

const SOAK_SECONDS = envInt('SOAK_SECONDS', 1800);
const ACCOUNTS = envInt('SOAK_ACCOUNTS', 10_000);
const WARMUP_SECONDS = Math.min(envInt('SOAK_WARMUP_SECONDS', 180), Math.floor(SOAK_SECONDS / 5));
const EXPIRES = 60;
/** RSS is compared between the first and the last window of this length after the warm-up. */
const WINDOW_SECONDS = Math.max(10, Math.min(120, Math.floor(SOAK_SECONDS / 10)));
const SAMPLE_MS = 5000;
const SCRAPE_MS = 30_000;
const RESULTS = process.env.SOAK_RESULTS ?? path.join(projectRoot(), 'build', 'long-results', 'soak.json');

interface Sample {
  /** Seconds since the daemon was spawned. */
  t: number;
  rss: number;
  fds: number;
  load1: number;
}

interface Scrape {
  t: number;
  /** The engine thread's CPU seconds and seconds waiting for a CPU, since its start. */
  onCpu: number;
  waiting: number;
  loopP99: number;
  loopMax: number;
  nodeTimeouts: number;
  timers: number;
  inFlight: number;
  queued: number;
  registrations: number;
  active: number;
  registersSent: number;
  replies: Record<string, number>;
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
const MB = 2 ** 20;

function readScrape(t: number, m: Exposition, pid: number): Scrape {
  const value = (name: string, labels?: Record<string, string>): number => m.value(name, labels) ?? 0;
  const replies: Record<string, number> = {};
  for (const s of m.all('db_reg_agent_final_replies_total')) {
    if (s.labels.method === 'REGISTER') replies[s.labels.code ?? '?'] = s.value;
  }
  return {
    t,
    ...schedulerSeconds(pid),
    loopP99: value('db_reg_agent_event_loop_delay_p99_seconds'),
    loopMax: value('db_reg_agent_event_loop_delay_max_seconds'),
    nodeTimeouts: value('nodejs_active_resources', { type: 'Timeout' }),
    timers: value('db_reg_agent_timers'),
    inFlight: value('db_reg_agent_transactions_in_flight'),
    queued: value('db_reg_agent_ratelimit_queue_length') + value('db_reg_agent_congestion_window_queue_length'),
    registrations: m.all('db_reg_agent_registrations').reduce((n, s) => n + s.value, 0),
    active: value('db_reg_agent_registrations', { status: '2' }),
    registersSent: value('db_reg_agent_requests_sent_total', { method: 'REGISTER' }),
    replies,
  };
}

describe(`soak: ${ACCOUNTS} accounts, expires=${EXPIRES}, ${SOAK_SECONDS} s (MariaDB + Kamailio)`, function () {
  this.timeout((SOAK_SECONDS + 900) * 1000);
  let kam: KamailioHandle | undefined;
  let db: TestDatabase | undefined;
  let daemon: RunningDaemon | undefined;

  after(async function () {
    printDaemonLogOnFailure(this.currentTest, daemon);
    await daemon?.stop();
    daemon?.cleanup();
    await kam?.stop();
    await db?.drop();
  });

  it('holds RSS, event-loop delay, descriptors and timers steady after the warm-up', async () => {
    kam = await startKamailio({
      tls: false,
      logLevel: 1,
      usrlocDbMode: 2,
      usrlocTimerInterval: 60,
      children: 4,
      sharedMemoryMb: 128 + Math.ceil(ACCOUNTS * 1.5 / 1024),
    });
    const users = Array.from({ length: ACCOUNTS }, (_, i) => ({ id: i + 1, user: `soak${i + 1}`, password: `soak-pw-${i + 1}` }));
    await kam.addSubscribers(users.map(({ user, password }) => ({ user, password })));
    db = await createTestDatabase({ schema: 'readme' });
    const realm = kam.hostPort('udp');
    await db.insert('subscribers', users.map((u) => ({ subscriber_id: u.id, user: u.user, pass: u.password, realm, contact: '' })));

    const metricsPort = await freePort({ protocols: ['tcp'] });
    const spawnedAt = Date.now();
    daemon = await startDaemon({
      db: db.config,
      logLevel: 2,
      agent: { expires: String(EXPIRES), error_retry_interval: '10', metrics_port: String(metricsPort) },
    });
    const pid = daemon.process.pid as number;
    await daemon.waitForLog(/\brunning$/m, 120_000);
    const since = (): number => (Date.now() - spawnedAt) / 1000;
    const metrics = async (): Promise<Exposition> => parseExposition((await scrape(metricsPort)).body);
    await waitFor('every account ACTIVE after the mass start', metrics,
      (m) => (m.value('db_reg_agent_registrations', { status: '2' }) ?? 0) === ACCOUNTS, 300_000, 1000);
    const massStartSeconds = since();

    const samples: Sample[] = [];
    const scrapes: Scrape[] = [];
    let nextScrape = 0;
    let nextReport = 0;
    while (since() < SOAK_SECONDS) {
      assert.equal(daemon.process.exitCode, null, 'the daemon is still running');
      const t = since();
      samples.push({ t, rss: residentBytes(pid), fds: openDescriptors(pid), load1: Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]) });
      if (Date.now() >= nextScrape) {
        nextScrape = Date.now() + SCRAPE_MS;
        scrapes.push(readScrape(t, await metrics(), pid));
      }
      if (Date.now() >= nextReport) {
        nextReport = Date.now() + 300_000;
        const last = scrapes.at(-1) as Scrape;
        process.stdout.write(`      soak t=${Math.round(t)} s: RSS ${(samples.at(-1)!.rss / MB).toFixed(1)} MB, fds ${samples.at(-1)!.fds}, `
          + `loop p99 ${(last.loopP99 * 1000).toFixed(1)} ms, REGISTERs sent ${last.registersSent}, ACTIVE ${last.active}\n`);
      }
      await sleep(SAMPLE_MS);
    }
    const end = readScrape(since(), await metrics(), pid);
    scrapes.push(end);

    const afterWarmup = samples.filter((s) => s.t >= WARMUP_SECONDS);
    const firstWindow = afterWarmup.filter((s) => s.t < WARMUP_SECONDS + WINDOW_SECONDS);
    const lastWindow = samples.filter((s) => s.t >= SOAK_SECONDS - WINDOW_SECONDS);
    const steadyScrapes = scrapes.filter((s) => s.t >= WARMUP_SECONDS);
    /** The scrapes of the first window: what "not growing" is measured against. */
    const baseScrapes = steadyScrapes.filter((s) => s.t < WARMUP_SECONDS + Math.max(WINDOW_SECONDS, SCRAPE_MS / 1000));
    const rssBase = mean(firstWindow.map((s) => s.rss));
    const rssEnd = mean(lastWindow.map((s) => s.rss));
    const fdsBase = Math.max(...firstWindow.map((s) => s.fds));
    const fdsEnd = samples.at(-1)!.fds;
    const timeoutsBase = Math.max(...baseScrapes.map((s) => s.nodeTimeouts));
    const worstP99 = Math.max(...steadyScrapes.map((s) => s.loopP99));
    const registerTotal = end.registersSent;
    const registrarBindings = Number(/location_contacts = (\d+)/.exec(await kam.rpc('stats.get_statistics', 'usrloc:'))?.[1] ?? -1);
    const [tableCounts] = await db.query<{ n: number; active: string }>('SELECT COUNT(*) AS n, SUM(registration_status = 2) AS active FROM registrations');

    /** Per scrape interval: share of one CPU the engine thread ran, and waited to run. */
    const shares = steadyScrapes.slice(1).map((s, i) => {
      const prev = steadyScrapes[i] as Scrape;
      return { cpu: (s.onCpu - prev.onCpu) / (s.t - prev.t), waiting: (s.waiting - prev.waiting) / (s.t - prev.t), p99: s.loopP99 };
    });
    const results = {
      accounts: ACCOUNTS, expires: EXPIRES, soakSeconds: SOAK_SECONDS, warmupSeconds: WARMUP_SECONDS, windowSeconds: WINDOW_SECONDS,
      massStartSeconds,
      rssMb: { base: rssBase / MB, end: rssEnd / MB, growthPercent: (rssEnd / rssBase - 1) * 100, max: Math.max(...samples.map((s) => s.rss)) / MB },
      loopDelayMs: {
        worstScrapeP99: worstP99 * 1000,
        medianScrapeP99: [...steadyScrapes.map((s) => s.loopP99)].sort((a, b) => a - b)[Math.floor(steadyScrapes.length / 2)]! * 1000,
        worstMax: Math.max(...steadyScrapes.map((s) => s.loopMax)) * 1000,
      },
      fds: { base: fdsBase, end: fdsEnd, max: Math.max(...afterWarmup.map((s) => s.fds)) },
      nodeTimeouts: { base: timeoutsBase, end: end.nodeTimeouts },
      engine: { registrations: end.registrations, active: end.active, timers: end.timers, inFlight: end.inFlight, queued: end.queued },
      registersSent: registerTotal,
      registerReplies: end.replies,
      registrarBindings,
      table: { rows: Number(tableCounts?.n), active: Number(tableCounts?.active) },
      load1: { mean: mean(samples.map((s) => s.load1)), max: Math.max(...samples.map((s) => s.load1)) },
      engineThreadPercent: {
        cpu: mean(shares.map((x) => x.cpu)) * 100,
        waitingForCpu: mean(shares.map((x) => x.waiting)) * 100,
        waitingForCpuMax: Math.max(...shares.map((x) => x.waiting)) * 100,
      },
      scrapes,
    };
    mkdirSync(path.dirname(RESULTS), { recursive: true });
    writeFileSync(RESULTS, JSON.stringify(results, null, 2));
    process.stdout.write(`      soak figures (every scrape in ${RESULTS}):\n${JSON.stringify({ ...results, scrapes: scrapes.length }, null, 2).replace(/^/gm, '      ')}\n`);

    assert.ok(results.rssMb.growthPercent < 10,
      `RSS grew ${results.rssMb.growthPercent.toFixed(1)} % (${results.rssMb.base.toFixed(1)} → ${results.rssMb.end.toFixed(1)} MB) after the warm-up`);
    assert.ok(worstP99 < 0.05, `event-loop delay p99 reached ${(worstP99 * 1000).toFixed(1)} ms in a ${SCRAPE_MS / 1000} s interval`);
    assert.ok(fdsEnd <= fdsBase + 5, `file descriptors ${fdsBase} after the warm-up, ${fdsEnd} at the end`);
    assert.ok(end.nodeTimeouts <= timeoutsBase * 1.1 + 10, `Node timers ${timeoutsBase} after the warm-up, ${end.nodeTimeouts} at the end`);
    // Every account is in memory once and has exactly one thing planned or under way.
    assert.equal(end.registrations, ACCOUNTS);
    assert.equal(end.timers + end.inFlight + end.queued, ACCOUNTS, 'timer queue + in flight + queued = accounts');
    // ~one refresh per account every EXPIRES/2 s once registered (challenges add a few).
    const expected = ACCOUNTS * (SOAK_SECONDS - massStartSeconds) / (EXPIRES / 2);
    assert.ok(registerTotal >= 0.9 * expected, `${registerTotal} REGISTERs sent, ~${Math.round(expected)} expected`);
    assert.equal(end.active, ACCOUNTS, 'every account ACTIVE at the end');
    assert.equal(registrarBindings, ACCOUNTS, 'the registrar holds one binding per account');
    assert.deepEqual(results.table, { rows: ACCOUNTS, active: ACCOUNTS });
  });
});
