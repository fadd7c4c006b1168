/**
 * What the engine counts about its SIP transactions, per kind of request: how many
 * were sent, their final outcomes by code, and how long each took from sending to the
 * final outcome. Latencies go into fixed buckets (cumulative, like a Prometheus
 * histogram) so that percentiles can be computed outside the process from
 * getStatistics alone, at O(1) memory whatever the request rate.
 */
import type { DiValue } from '../core/di';
import type { Operation } from './status-transitions';

/**
 * Upper bounds in seconds. A REGISTER can last two Timer F periods (32 s each: the
 * first request and its re-send with credentials), hence the top bounds.
 */
export const LATENCY_BOUNDS_SECONDS: readonly number[] = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 32, 64,
];

/** The names getStatistics has always used for the two kinds of request. */
export type RequestMethod = 'REGISTER' | 'deREGISTER';

export function methodOf(op: Operation): RequestMethod {
  return op === 'register' ? 'REGISTER' : 'deREGISTER';
}

interface MethodCounters {
  sent: number;
  /** Final outcomes by status code (408 = unanswered, 480 = could not be sent). */
  outcomes: Map<number, number>;
  /** Per bound (not cumulative); the last slot counts what exceeds every bound. */
  latencyBuckets: number[];
  latencySumSeconds: number;
}

function emptyCounters(): MethodCounters {
  return { sent: 0, outcomes: new Map(), latencyBuckets: new Array<number>(LATENCY_BOUNDS_SECONDS.length + 1).fill(0), latencySumSeconds: 0 };
}

/** Index of the first bound >= seconds, or bounds.length when none is. */
export function bucketIndex(bounds: readonly number[], seconds: number): number {
  const i = bounds.findIndex((bound) => seconds <= bound);
  return i < 0 ? bounds.length : i;
}

/** Running totals: bucket i counts every observation <= bounds[i]. */
export function cumulative(counts: readonly number[]): number[] {
  let total = 0;
  return counts.map((n) => (total += n));
}

export class TransactionStats {
  private readonly byMethod: Record<RequestMethod, MethodCounters> = {
    REGISTER: emptyCounters(),
    deREGISTER: emptyCounters(),
  };

  sent(op: Operation): void {
    this.byMethod[methodOf(op)].sent++;
  }

  /** A transaction reached its final outcome `seconds` after it was sent. */
  finished(op: Operation, code: number, seconds: number): void {
    const c = this.byMethod[methodOf(op)];
    c.outcomes.set(code, (c.outcomes.get(code) ?? 0) + 1);
    c.latencyBuckets[bucketIndex(LATENCY_BOUNDS_SECONDS, seconds)]++;
    c.latencySumSeconds += seconds;
  }

  /** Requests sent per method (getStatistics `sent`). */
  sentTotals(): Record<RequestMethod, number> {
    return { REGISTER: this.byMethod.REGISTER.sent, deREGISTER: this.byMethod.deREGISTER.sent };
  }

  /** Final outcomes per code over both methods (getStatistics `replies`). */
  outcomeTotals(): Record<string, number> {
    const totals: Record<string, number> = {};
    for (const c of Object.values(this.byMethod)) {
      for (const [code, n] of c.outcomes) totals[String(code)] = (totals[String(code)] ?? 0) + n;
    }
    return totals;
  }

  /**
   * getStatistics `transactions`: per method, `sent`, `replies` by code and `latency`
   * as `bounds` (seconds), `cumulative` counts per bound, `sum` (seconds) and `count`
   * (the +Inf bucket).
   */
  snapshot(): Record<RequestMethod, DiValue> {
    const describe = (c: MethodCounters): DiValue => {
      const counts = cumulative(c.latencyBuckets);
      return {
        sent: c.sent,
        replies: Object.fromEntries([...c.outcomes].map(([code, n]) => [String(code), n])),
        latency: {
          bounds: [...LATENCY_BOUNDS_SECONDS],
          cumulative: counts.slice(0, -1),
          sum: c.latencySumSeconds,
          count: counts.at(-1) ?? 0,
        },
      };
    };
    return { REGISTER: describe(this.byMethod.REGISTER), deREGISTER: describe(this.byMethod.deREGISTER) };
  }
}
