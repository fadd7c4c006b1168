/**
 * Issue 15 item 3 (not a test; `make bench-million`): 1 000 000 accounts on one machine.
 *
 * One daemon, N accounts (BENCH_MILLION_SIZE, default 1 000 000) against the production
 * benchmark registrar (support/registrar-rig.ts, sized for N bindings: usrloc hash,
 * shared memory), SEMS's recommended refresh spreading (expires 3600,
 * reregister_interval 0.5, minimum_reregister_interval 0.4). In order:
 *   1. mass start: spawn → every row ACTIVE (getStatistics, then the table); wall
 *      time, CPU from process start, peak RSS;
 *   2. idle: CPU over 60 s with N registered and no refresh due yet, then the RSS;
 *   3. restart: SIGTERM, start again: restore time, REGISTERs sent in the 60 s after
 *      the restore (must be none: every refresh is still ahead), RSS;
 *   4. refreshes: from the first refresh due (1 440 s after the first 2xx) for
 *      BENCH_MILLION_REFRESH_S (default 900 s), REGISTERs sent per 10 s, FAILED and
 *      ACTIVE counts every 10 s (an expired row would turn FAILED).
 * No sipp: at this size the question is whether one daemon holds N, not a ratio.
 *
 *   node build/bench/million.js
 *   BENCH_MILLION_SIZE=20000 BENCH_MILLION_EXPIRES=300 BENCH_MILLION_REFRESH_S=60 node build/bench/million.js   # a rehearsal
 *
 * Results: bench/results/million.json, bench/results/million-refreshes.csv and
 * Markdown on standard output.
 */
import { agentStatistics, daemonActiveCounts } from './support/agent-statistics';
import { envNumber } from './support/bench-env';
import { restoreReport, startBenchDaemon, stopDaemon } from './support/bench-daemon';
import { describeMachine, formatLoad, loadAverages } from './support/machine';
import { formatNumber, markdownTable } from './support/markdown-table';
import { coreShareDuring, cpuSeconds, peakRssBytes, rssBytes } from './support/process-usage';
import { kamailioMemoryMb, startRegistrarRig, type RegistrarRig } from './support/registrar-rig';
import { statusCounts, waitForAllActive } from './support/registration-counts';
import { resultsPath, writeCsv, writeJson } from './support/results-files';
import { Teardown } from './support/teardown';
import { secondsSince, sleep } from './support/time';
import type { DaemonOptions, RunningDaemon } from '../test/support/daemon';

const REREGISTER_INTERVAL = 0.5;
const MINIMUM_REREGISTER_INTERVAL = 0.4;
const IDLE_MS = 60_000;
const RESTART_WATCH_S = 60;
const SAMPLE_S = 10;
const MB = 2 ** 20;

const settings = {
  size: envNumber('BENCH_MILLION_SIZE', 1_000_000),
  refreshSeconds: envNumber('BENCH_MILLION_REFRESH_S', 900),
  /** Requested expires; a rehearsal may shorten it so the refreshes come sooner. */
  expires: envNumber('BENCH_MILLION_EXPIRES', 3600),
};
const EXPIRES = settings.expires;

function say(line: string): void {
  process.stdout.write(`[${new Date().toISOString().slice(11, 19)}] ${line}\n`);
}

const daemonOptions = (rig: RegistrarRig): DaemonOptions => ({
  db: rig.db.config,
  agent: {
    expires: String(EXPIRES),
    reregister_interval: String(REREGISTER_INTERVAL),
    minimum_reregister_interval: String(MINIMUM_REREGISTER_INTERVAL),
  },
});

interface RefreshSample {
  /** Seconds since the first daemon's spawn. */
  t: number;
  registersPerSecond: number;
  active: number;
  failed: number;
}

/** sent.REGISTER per second and the status counts, every SAMPLE_S on a fixed grid from `from`. */
async function sampleRefreshes(daemon: RunningDaemon, spawnedAt: number, from: number, seconds: number): Promise<RefreshSample[]> {
  const samples: RefreshSample[] = [];
  let previous = { t: (performance.now() - spawnedAt) / 1000, sent: (await agentStatistics(daemon)).sentRegister };
  for (let tick = 1; tick * SAMPLE_S <= seconds; tick++) {
    await sleep(Math.max(0, from + tick * SAMPLE_S * 1000 - performance.now()));
    const stats = await agentStatistics(daemon);
    const t = (performance.now() - spawnedAt) / 1000;
    samples.push({
      t, registersPerSecond: (stats.sentRegister - previous.sent) / (t - previous.t),
      active: stats.byStatus['2'] ?? 0, failed: stats.byStatus['3'] ?? 0,
    });
    previous = { t, sent: stats.sentRegister };
  }
  return samples;
}

async function main(): Promise<void> {
  const machine = describeMachine();
  const size = settings.size;
  say(`machine: ${machine.cpus} CPUs, ${machine.memoryGiB.toFixed(1)} GiB, Node ${machine.node}; N = ${formatNumber(size)}, load ${formatLoad(loadAverages())}`);
  const teardown = new Teardown();
  try {
    const rigStarted = performance.now();
    // N bindings only (no sipp), plus the accounting htable and headroom.
    const rig = await startRegistrarRig(size, teardown, { profile: 'production' }, { sharedMemoryMb: kamailioMemoryMb(size) + Math.ceil((size * 0.2) / 1024) });
    say(`registrar and ${formatNumber(size)} accounts ready in ${secondsSince(rigStarted).toFixed(0)} s`);

    // 1. mass start
    const spawnedAt = performance.now();
    const { daemon } = await startBenchDaemon(daemonOptions(rig), teardown);
    teardown.add('remove the daemon config folder', () => daemon.cleanup());
    const pid = daemon.process.pid as number;
    const firstRestore = await restoreReport(daemon, 600_000);
    say(`loaded ${formatNumber(firstRestore.registrations)} accounts in ${firstRestore.ms} ms`);
    const counts = await waitForAllActive(rig.db, size, {
      stallMs: 120_000,
      timeoutMs: 3 * 3600_000,
      pollMs: 2500,
      precount: () => daemonActiveCounts(daemon),
      progress: (c) => say(`  ${formatNumber(c.active)} ACTIVE, ${c.failed} FAILED (${secondsSince(spawnedAt).toFixed(0)} s)`),
    });
    const massStart = {
      wallSeconds: secondsSince(spawnedAt), cpuSeconds: cpuSeconds(pid), peakRssMb: peakRssBytes(pid) / MB,
      active: counts.active, failed: counts.failed, loadMs: firstRestore.ms,
    };
    say(`mass start: ${formatNumber(counts.active)} ACTIVE, ${counts.failed} FAILED in ${massStart.wallSeconds.toFixed(0)} s; `
      + `CPU ${massStart.cpuSeconds.toFixed(0)} s (${(massStart.cpuSeconds / size * 1e6).toFixed(0)} µs/account); peak RSS ${massStart.peakRssMb.toFixed(0)} MB`);

    // 2. idle
    const idle = await coreShareDuring(pid, () => sleep(IDLE_MS));
    const idleRssMb = rssBytes(pid) / MB;
    const firstSent = (await agentStatistics(daemon)).sentRegister;
    say(`idle: ${(idle.share * 100).toFixed(2)} % of a core over ${idle.wallSeconds.toFixed(0)} s; RSS ${idleRssMb.toFixed(0)} MB; sent.REGISTER ${formatNumber(firstSent)}`);

    // 3. restart
    const stopMs = await stopDaemon(daemon);
    const restartedAt = performance.now();
    const { daemon: second } = await startBenchDaemon({ ...daemonOptions(rig), reuse: daemon }, teardown);
    const restore = await restoreReport(second, 600_000);
    await second.waitForLog(/ running$/m, 600_000);
    const readySeconds = secondsSince(restartedAt);
    const secondPid = second.process.pid as number;
    const sentAfterRestart: number[] = [];
    for (let s = 0; s <= RESTART_WATCH_S; s += SAMPLE_S) {
      sentAfterRestart.push((await agentStatistics(second)).sentRegister);
      if (s < RESTART_WATCH_S) await sleep(SAMPLE_S * 1000);
    }
    const restart = {
      stopMs, restoreMs: restore.ms, restoredRows: restore.registrations, readySeconds, sentAfterRestart,
      peakRssMb: peakRssBytes(secondPid) / MB, rssMb: rssBytes(secondPid) / MB, cpuSeconds: cpuSeconds(secondPid),
    };
    say(`restart: stopped in ${stopMs.toFixed(0)} ms; restored ${formatNumber(restore.registrations)} rows in ${restore.ms} ms, RPC up after ${readySeconds.toFixed(1)} s; `
      + `sent.REGISTER every ${SAMPLE_S} s: ${sentAfterRestart.join(',')}; RSS ${restart.rssMb.toFixed(0)} MB (peak ${restart.peakRssMb.toFixed(0)})`);

    // 4. refreshes, from when the first one is due
    const firstRefreshAt = spawnedAt + EXPIRES * MINIMUM_REREGISTER_INTERVAL * 1000;
    const wait = firstRefreshAt - performance.now();
    if (wait > 0) say(`waiting ${(wait / 1000).toFixed(0)} s for the first refreshes`);
    await sleep(Math.max(0, wait));
    const cpuBefore = cpuSeconds(secondPid);
    const refreshStarted = performance.now();
    const samples = await sampleRefreshes(second, spawnedAt, performance.now(), settings.refreshSeconds);
    const refreshCpuShare = (cpuSeconds(secondPid) - cpuBefore) / secondsSince(refreshStarted);
    const final = await statusCounts(rig.db);
    const refresh = {
      seconds: settings.refreshSeconds, cpuShare: refreshCpuShare, samples, finalCounts: final,
      minActive: Math.min(...samples.map((s) => s.active)), maxFailed: Math.max(...samples.map((s) => s.failed)),
      peakRssMb: peakRssBytes(secondPid) / MB,
    };
    say(`refreshes over ${settings.refreshSeconds} s: daemon ${(refreshCpuShare * 100).toFixed(1)} % of a core; fewest ACTIVE ${formatNumber(refresh.minActive)}, `
      + `most FAILED ${refresh.maxFailed}; table at the end: ${formatNumber(final.active)} ACTIVE of ${formatNumber(final.rows)} rows`);

    writeCsv(resultsPath('million-refreshes.csv'), ['t_s', 'registers_per_s', 'active', 'failed'],
      samples.map((s) => [s.t.toFixed(0), s.registersPerSecond.toFixed(1), String(s.active), String(s.failed)]));
    const file = resultsPath('million.json');
    writeJson(file, { machine, size, settings: daemonOptions(rig).agent, massStart, idle: { share: idle.share, rssMb: idleRssMb }, restart, refresh });

    process.stdout.write(`\n${markdownTable(
      ['N', 'mass start: all ACTIVE (s)', 'CPU from process start (µs/account)', 'peak RSS (MB)', 'idle RSS (MB)', 'idle CPU (% core)',
        'restore (s)', 'REGISTERs in the 60 s after the restore', 'CPU while refreshing (% core)', 'failed'],
      [[formatNumber(size), formatNumber(massStart.wallSeconds, 0), formatNumber(massStart.cpuSeconds / size * 1e6), formatNumber(massStart.peakRssMb),
        formatNumber(idleRssMb), formatNumber(idle.share * 100, 2), formatNumber(restore.ms / 1000, 1),
        formatNumber((sentAfterRestart.at(-1) ?? 0) - (sentAfterRestart[0] ?? 0)), formatNumber(refreshCpuShare * 100, 1), String(refresh.maxFailed)]],
    )}\n\n`);
    process.stdout.write(`${histogram(samples)}\n`);
    say(`results: ${file}`);
  } finally {
    await teardown.close();
  }
}

/** REGISTERs/s per minute of the refresh phase, as a Markdown table with a bar. */
function histogram(samples: RefreshSample[]): string {
  const perMinute = new Map<number, number[]>();
  for (const s of samples) {
    const minute = Math.floor(s.t / 60);
    perMinute.set(minute, [...(perMinute.get(minute) ?? []), s.registersPerSecond]);
  }
  const rows = [...perMinute].map(([minute, rates]) => {
    const mean = rates.reduce((a, b) => a + b, 0) / rates.length;
    return [`${minute}–${minute + 1}`, formatNumber(mean), formatNumber(Math.max(...rates)), '█'.repeat(Math.round(mean / 50))];
  });
  return markdownTable(['minute after the first start', 'REGISTERs/s (mean of 10 s samples)', 'highest 10 s', ''], rows);
}

main().catch((err: Error) => {
  process.stderr.write(`million benchmark failed: ${err.stack ?? err.message}\n`);
  process.exitCode = 1;
});
