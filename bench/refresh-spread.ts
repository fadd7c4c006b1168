/**
 * Issue 4 benchmark, part 2: REGISTERs per second over time after a mass start, with
 * and without minimum_reregister_interval (not a test; `make bench`).
 *
 * N accounts (BENCH_SPREAD_SIZE, default 5 000) with expires 120 (Kamailio grants
 * exactly 120) and reregister_interval 0.5, so refreshes come 60 s after each 2xx; in
 * the second run minimum_reregister_interval 0.4 lets the daemon place each refresh in
 * the least-loaded second between 48 and 60 s. getStatistics().sent.REGISTER is read
 * every second for BENCH_SPREAD_SECONDS (default 200: the mass start and two refresh
 * waves). Output: bench/results/refresh-spread-*.csv and doc/refresh-spread.png.
 *
 *   node build/bench/refresh-spread.js
 */
import { agentStatistics, type AgentStatistics } from './support/agent-statistics';
import { envNumber } from './support/bench-env';
import { startBenchDaemon } from './support/bench-daemon';
import { gnuplotString, runGnuplot } from './support/gnuplot';
import { formatLoad, loadAverages, waitForQuietMachine } from './support/machine';
import { formatNumber } from './support/markdown-table';
import { sampleRegisterRate, type RegisterSample } from './support/register-rate-sampler';
import { startRegistrarRig } from './support/registrar-rig';
import { statusCounts, type StatusCounts } from './support/registration-counts';
import { docPath, resultsPath, writeCsv, writeJson } from './support/results-files';
import { Teardown } from './support/teardown';

const EXPIRES = 120;
const REREGISTER_INTERVAL = 0.5;
const MINIMUM_REREGISTER_INTERVAL = 0.4;

const settings = {
  size: envNumber('BENCH_SPREAD_SIZE', 5000),
  seconds: envNumber('BENCH_SPREAD_SECONDS', 200),
  maxLoad: envNumber('BENCH_MAX_LOAD', 1.5),
  quietWaitMs: envNumber('BENCH_QUIET_WAIT_S', 600) * 1000,
};

interface Variant {
  name: string;
  title: string;
  agent: Record<string, string>;
}

const VARIANTS: Variant[] = [
  {
    name: 'without-minimum',
    title: `reregister_interval=${REREGISTER_INTERVAL} (no minimum)`,
    agent: { reregister_interval: String(REREGISTER_INTERVAL) },
  },
  {
    name: 'with-minimum',
    title: `reregister_interval=${REREGISTER_INTERVAL}, minimum_reregister_interval=${MINIMUM_REREGISTER_INTERVAL}`,
    agent: { reregister_interval: String(REREGISTER_INTERVAL), minimum_reregister_interval: String(MINIMUM_REREGISTER_INTERVAL) },
  },
];

function say(line: string): void {
  process.stdout.write(`[${new Date().toISOString().slice(11, 19)}] ${line}\n`);
}

// ----- one run --------------------------------------------------------------------------

interface VariantRun {
  variant: Variant;
  loadBefore: number[];
  samples: RegisterSample[];
  countsAfter: StatusCounts;
  /** getStatistics at the end: replies by code, REGISTERs sent. */
  statistics: AgentStatistics;
  csv: string;
}

async function runVariant(variant: Variant): Promise<VariantRun> {
  const teardown = new Teardown();
  try {
    const loadBefore = await waitForQuietMachine(settings.maxLoad, settings.quietWaitMs, say);
    say(`${variant.name}: N = ${formatNumber(settings.size)}, load ${formatLoad(loadBefore)}; sampling for ${settings.seconds} s`);
    const rig = await startRegistrarRig(settings.size, teardown, { profile: 'lean' }, { defaultExpires: EXPIRES, maxExpires: EXPIRES });
    const started = performance.now();
    const { daemon } = await startBenchDaemon({ db: rig.db.config, agent: { expires: String(EXPIRES), ...variant.agent } }, teardown);
    teardown.add('remove the daemon config folder', () => daemon.cleanup());
    const samples = await sampleRegisterRate(daemon, started, settings.seconds);
    const countsAfter = await statusCounts(rig.db);
    const statistics = await agentStatistics(daemon);
    const csv = resultsPath(`refresh-spread-${variant.name}.csv`);
    writeCsv(csv, ['t_s', 'sent_register', 'registers_per_s'],
      samples.map((s) => [s.t.toFixed(3), s.sent, s.perSecond.toFixed(1)]));
    say(`  ${countsAfter.active} ACTIVE, ${countsAfter.failed} FAILED at the end; ${statistics.sentRegister} REGISTERs sent, `
      + `replies ${JSON.stringify(statistics.replies)}; ${csv}`);
    return { variant, loadBefore, samples, countsAfter, statistics, csv };
  } finally {
    await teardown.close();
  }
}

// ----- summary --------------------------------------------------------------------------

interface WaveFigures {
  from: number;
  to: number;
  registers: number;
  peakPerSecond: number;
  /** Seconds in the window in which any REGISTER was sent. */
  busySeconds: number;
}

/** The REGISTERs of the samples taken at from <= t < to. */
function wave(samples: readonly RegisterSample[], from: number, to: number): WaveFigures {
  const inside = samples.filter((s) => s.t >= from && s.t < to);
  const sentBefore = samples.filter((s) => s.t < from).at(-1)?.sent ?? 0;
  return {
    from,
    to,
    registers: (inside.at(-1)?.sent ?? sentBefore) - sentBefore,
    peakPerSecond: Math.max(0, ...inside.map((s) => s.perSecond)),
    busySeconds: inside.filter((s) => s.perSecond > 0).length,
  };
}

/** The mass start and the two refresh waves (refreshes are due 48–60 s and 96–120 s after start). */
function waves(samples: readonly RegisterSample[]): Record<string, WaveFigures> {
  return {
    massStart: wave(samples, 0, 30),
    firstRefresh: wave(samples, 30, 85),
    secondRefresh: wave(samples, 85, 150),
  };
}

// ----- plot -----------------------------------------------------------------------------

/**
 * Two panels, same axes: REGISTERs/s as bars per second; shaded, where refreshes of
 * registrations made at t = 0 would fall (the mass start itself takes a few seconds).
 */
function plotScript(runs: readonly VariantRun[], png: string): string {
  const peak = Math.max(1, ...runs.flatMap((r) => r.samples.map((s) => s.perSecond)));
  const lines = [
    `set terminal pngcairo noenhanced size 1100,800 font 'sans,10'`,
    `set output ${gnuplotString(png)}`,
    `set datafile separator ','`,
    `set multiplot layout ${runs.length},1 title ${gnuplotString(`REGISTERs per second after a mass start of ${formatNumber(settings.size)} accounts (expires ${EXPIRES} s)`)}`,
    `set xrange [0:${settings.seconds}]`,
    `set yrange [0:${Math.ceil(peak * 1.1)}]`,
    `set xtics 12`,
    `set grid ytics`,
    `set xlabel 'seconds since daemon start'`,
    `set ylabel 'REGISTERs/s'`,
    `set style fill solid 0.9 noborder`,
    `set object 1 rect from ${EXPIRES * MINIMUM_REREGISTER_INTERVAL},graph 0 to ${EXPIRES * REREGISTER_INTERVAL},graph 1 fc rgb '#e4e4e4' fillstyle solid 1.0 noborder behind`,
    `set object 2 rect from ${2 * EXPIRES * MINIMUM_REREGISTER_INTERVAL},graph 0 to ${2 * EXPIRES * REREGISTER_INTERVAL},graph 1 fc rgb '#e4e4e4' fillstyle solid 1.0 noborder behind`,
    `set key below`,
  ];
  for (const run of runs) {
    lines.push(
      `set title ${gnuplotString(run.variant.title)}`,
      `plot ${gnuplotString(run.csv)} using 1:3 skip 1 with boxes lc rgb '#1f77b4' title 'REGISTERs sent per second (grey: 0.4–0.5 and 0.8–1.0 × expires after start)'`,
    );
  }
  lines.push('unset multiplot');
  return lines.join('\n') + '\n';
}

async function main(): Promise<void> {
  const runs: VariantRun[] = [];
  for (const variant of VARIANTS) runs.push(await runVariant(variant));
  const png = docPath('refresh-spread.png');
  runGnuplot(plotScript(runs, png));
  const summary = runs.map((r) => ({
    variant: r.variant.name,
    agent: r.variant.agent,
    loadBefore: r.loadBefore,
    active: r.countsAfter.active,
    failed: r.countsAfter.failed,
    sentRegister: r.statistics.sentRegister,
    replies: r.statistics.replies,
    waves: waves(r.samples),
  }));
  writeJson(resultsPath('refresh-spread.json'), { settings, loadAfter: loadAverages(), summary });
  for (const s of summary) {
    say(`${s.variant}: ${s.active} ACTIVE, ${s.failed} FAILED`);
    for (const [name, w] of Object.entries(s.waves)) {
      say(`  ${name} (${w.from}–${w.to} s): ${w.registers} REGISTERs, peak ${w.peakPerSecond.toFixed(0)}/s, ${w.busySeconds} busy seconds`);
    }
  }
  say(`plot: ${png}`);
}

main().catch((err: Error) => {
  process.stderr.write(`refresh-spread benchmark failed: ${err.stack ?? err.message}\n`);
  process.exitCode = 1;
});
