/**
 * The Prometheus view of the daemon (extension `metrics_port`).
 *
 * Engine figures come from the DI function `db_reg_agent.getStatistics` — the control
 * plane reaches the engine only through DI — and the status writer's from daemon.ts.
 * Nothing is counted here: each scrape takes one snapshot of both and every metric is
 * derived from it, so the figures of one scrape agree with each other.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { Counter, Gauge, Registry, collectDefaultMetrics, type Metric } from 'prom-client';
import { isDiStruct, type DiValue } from '../core/di';

export const METRIC_PREFIX = 'db_reg_agent_';

/** Cumulative buckets as counted by their owner: cumulative[i] = observations <= bounds[i]. */
export interface BucketCounts {
  bounds: number[];
  cumulative: number[];
  /** Sum of all observations, seconds. */
  sum: number;
  /** All observations (the +Inf bucket). */
  count: number;
}

export interface MethodFigures {
  method: string;
  sent: number;
  /** Final outcomes by status code. */
  replies: Record<string, number>;
  latency: BucketCounts;
}

/** What the metrics need from getStatistics. */
export interface EngineFigures {
  /** registration_status code ('0'..'5') → accounts in memory. */
  byStatus: Record<string, number>;
  methods: MethodFigures[];
  inFlight: number;
  rateLimitQueue: number;
  windowQueue: number;
  /** Scheduled refreshes and retries (the engine's timer queue). */
  timers: number;
}

/** The status writer's figures (StatusWriter.stats(), structurally). */
export interface WriterFigures {
  pending: number;
  written: number;
  errors: number;
  dropped: number;
  dbAvailable: boolean;
  latencyMs: { count: number; sum: number };
}

export interface MetricsSnapshot {
  engine: EngineFigures;
  /** Absent when no status writer runs. */
  writer?: WriterFigures;
}

// ---- reading getStatistics (a DiValue: checked, never trusted) ----------------------

type DiRecord = { [key: string]: DiValue };

function recordOf(v: DiValue | undefined): DiRecord {
  return isDiStruct(v) ? v : {};
}

function numberOf(v: DiValue | undefined): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

function numbersOf(v: DiValue | undefined): number[] {
  return Array.isArray(v) ? v.map(numberOf) : [];
}

function countsOf(v: DiValue | undefined): Record<string, number> {
  return Object.fromEntries(Object.entries(recordOf(v)).map(([k, n]) => [k, numberOf(n)]));
}

function bucketCountsOf(v: DiValue | undefined): BucketCounts {
  const r = recordOf(v);
  const bounds = numbersOf(r.bounds);
  const cumulative = numbersOf(r.cumulative);
  // Buckets are only meaningful in pairs; a malformed tail is left out, not invented.
  const n = Math.min(bounds.length, cumulative.length);
  return { bounds: bounds.slice(0, n), cumulative: cumulative.slice(0, n), sum: numberOf(r.sum), count: numberOf(r.count) };
}

/** getStatistics' result → the figures; missing members count as zero. */
export function readEngineFigures(statistics: DiValue): EngineFigures {
  const s = recordOf(statistics);
  const methods = Object.entries(recordOf(s.transactions)).map(([method, v]): MethodFigures => {
    const m = recordOf(v);
    return { method, sent: numberOf(m.sent), replies: countsOf(m.replies), latency: bucketCountsOf(m.latency) };
  });
  return {
    byStatus: countsOf(s.by_status),
    methods,
    inFlight: numberOf(s.in_flight),
    rateLimitQueue: numberOf(s.ratelimit_queue),
    windowQueue: numberOf(s.window_queue),
    timers: numberOf(s.timers),
  };
}

// ---- the exposition ------------------------------------------------------------------

type Labels = Record<string, string>;
interface Sample {
  metricName?: string;
  labels: Labels;
  value: number;
}

/** Histogram samples (_bucket, _sum, _count) from counts made elsewhere. */
export function histogramSamples(name: string, labels: Labels, h: BucketCounts): Sample[] {
  return [
    ...h.bounds.map((bound, i) => ({ metricName: `${name}_bucket`, labels: { ...labels, le: String(bound) }, value: h.cumulative[i] ?? 0 })),
    { metricName: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: h.count },
    { metricName: `${name}_sum`, labels, value: h.sum },
    { metricName: `${name}_count`, labels, value: h.count },
  ];
}

/**
 * A histogram or summary whose observations were counted by their owner (engine,
 * status writer). prom-client's classes only take single observations; its Registry
 * needs no more of a metric than its name, help, type and get().
 */
class PrecountedMetric {
  readonly aggregator = 'sum';

  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'histogram' | 'summary',
    private readonly samples: () => Sample[],
  ) {}

  get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: Sample[] }> {
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: this.samples() });
  }
}

/** Event-loop delay since the previous scrape, seconds. */
export interface LoopDelayFigures {
  p99: number;
  max: number;
}

/**
 * The engine thread's event-loop delay, sampled every 10 ms by perf_hooks. Node records
 * the time between two samples, so the sampling interval itself is taken off: what is
 * left is how late the loop came round. Read and restarted at every scrape.
 */
export class EventLoopDelay {
  static readonly RESOLUTION_MS = 10;
  private readonly histogram: IntervalHistogram = monitorEventLoopDelay({ resolution: EventLoopDelay.RESOLUTION_MS });

  constructor() {
    this.histogram.enable();
  }

  take(): LoopDelayFigures {
    const late = (ns: number): number => (this.histogram.count === 0 ? 0 : Math.max(0, ns / 1e6 - EventLoopDelay.RESOLUTION_MS) / 1000);
    const figures = { p99: late(this.histogram.percentile(99)), max: late(this.histogram.max) };
    this.histogram.reset();
    return figures;
  }

  close(): void {
    this.histogram.disable();
  }
}

/** What one scrape renders: the snapshot handed in and the loop delay read for it. */
interface ScrapeFigures extends MetricsSnapshot {
  loop: LoopDelayFigures;
}

/** Samples of one metric, read from the current scrape's figures. */
type Reader = (s: ScrapeFigures) => Sample[];

export class DaemonMetrics {
  readonly registry = new Registry();
  private readonly loopDelay = new EventLoopDelay();
  private snapshot?: ScrapeFigures;

  constructor() {
    const e = (read: (engine: EngineFigures) => Sample[]): Reader => (s) => read(s.engine);
    const w = (read: (writer: WriterFigures) => Sample[]): Reader => (s) => (s.writer ? read(s.writer) : []);
    const one = (value: number): Sample[] => [{ labels: {}, value }];

    this.gauge('registrations', 'Registrations in memory by registration_status (0 INACTIVE, 1 PENDING, 2 ACTIVE, 3 FAILED, 4 REMOVED, 5 TO_BE_REMOVED).', ['status'],
      e((f) => Object.entries(f.byStatus).map(([status, value]) => ({ labels: { status }, value }))));
    this.counter('requests_sent_total', 'SIP requests sent by kind (REGISTER, deREGISTER); re-sends with credentials are part of their transaction.', ['method'],
      e((f) => f.methods.map((m) => ({ labels: { method: m.method }, value: m.sent }))));
    this.counter('final_replies_total', 'Final outcomes by request kind and status code (408: no answer, 480: could not be sent).', ['method', 'code'],
      e((f) => f.methods.flatMap((m) => Object.entries(m.replies).map(([code, value]) => ({ labels: { method: m.method, code }, value })))));
    this.precounted('transaction_duration_seconds', 'histogram', 'From sending a request to its final outcome, including a re-send with credentials or a 423 retry.',
      e((f) => f.methods.flatMap((m) => histogramSamples(`${METRIC_PREFIX}transaction_duration_seconds`, { method: m.method }, m.latency))));
    this.gauge('transactions_in_flight', 'SIP transactions in progress.', [], e((f) => one(f.inFlight)));
    this.gauge('ratelimit_queue_length', 'Requests waiting for a rate-limit token.', [], e((f) => one(f.rateLimitQueue)));
    this.gauge('congestion_window_queue_length', 'Requests waiting for a slot in the congestion window of their next hop.', [], e((f) => one(f.windowQueue)));
    this.gauge('timers', 'Scheduled refreshes and retries.', [], e((f) => one(f.timers)));
    this.gauge('event_loop_delay_p99_seconds', "99th percentile of the engine thread's event-loop delay since the previous scrape.", [],
      (s) => one(s.loop.p99));
    this.gauge('event_loop_delay_max_seconds', "Longest event-loop delay of the engine thread since the previous scrape.", [],
      (s) => one(s.loop.max));

    this.precounted('db_write_duration_seconds', 'summary', 'From queueing a registration status record to storing it.',
      w((f) => [
        { metricName: `${METRIC_PREFIX}db_write_duration_seconds_sum`, labels: {}, value: f.latencyMs.sum / 1000 },
        { metricName: `${METRIC_PREFIX}db_write_duration_seconds_count`, labels: {}, value: f.latencyMs.count },
      ]));
    this.counter('db_writes_total', 'Registration status records stored.', [], w((f) => one(f.written)));
    this.counter('db_write_errors_total', 'Failed write attempts (transient or not).', [], w((f) => one(f.errors)));
    this.counter('db_writes_dropped_total', 'Records given up because the database rejected them.', [], w((f) => one(f.dropped)));
    this.gauge('db_writes_pending', 'Accounts with a status record not stored yet.', [], w((f) => one(f.pending)));
    this.gauge('db_available', '1 while the database accepts writes, 0 from a transient failure until the next success.', [],
      w((f) => one(f.dbAvailable ? 1 : 0)));

    collectDefaultMetrics({ register: this.registry });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The exposition text for one snapshot. */
  render(snapshot: MetricsSnapshot): Promise<string> {
    // Every collect() below runs synchronously inside metrics(): they all see this snapshot.
    this.snapshot = { ...snapshot, loop: this.loopDelay.take() };
    return this.registry.metrics();
  }

  close(): void {
    this.loopDelay.close();
  }

  private current(read: Reader): Sample[] {
    return this.snapshot ? read(this.snapshot) : [];
  }

  private gauge(name: string, help: string, labelNames: string[], read: Reader): void {
    const samples = (): Sample[] => this.current(read);
    new Gauge({
      name: METRIC_PREFIX + name, help, labelNames, registers: [this.registry],
      collect() {
        this.reset();
        for (const s of samples()) this.set(s.labels, s.value);
      },
    });
  }

  private counter(name: string, help: string, labelNames: string[], read: Reader): void {
    const samples = (): Sample[] => this.current(read);
    new Counter({
      name: METRIC_PREFIX + name, help, labelNames, registers: [this.registry],
      collect() {
        this.reset();
        for (const s of samples()) this.inc(s.labels, s.value);
      },
    });
  }

  private precounted(name: string, type: 'histogram' | 'summary', help: string, read: Reader): void {
    const metric = new PrecountedMetric(METRIC_PREFIX + name, help, type, () => this.current(read));
    this.registry.registerMetric(metric as unknown as Metric);
  }
}
