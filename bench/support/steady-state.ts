/**
 * CPU per account once a mass start is under way: the process's CPU between the first
 * poll that saw `from` of the accounts ACTIVE and the first that saw `to`, divided by
 * the accounts that became ACTIVE in between. Start-up (module loading, the restore,
 * JIT warm-up) falls before the span and the stragglers' retransmissions after it; the
 * figure from process start (CPU at all ACTIVE ÷ N) keeps both.
 */
export interface SteadyState {
  /** The polls that opened and closed the span: ACTIVE accounts, the process's CPU (s), wall (s since spawn). */
  first: ProgressSample;
  last: ProgressSample;
  /** (last.cpu − first.cpu) ÷ (last.active − first.active), µs. */
  cpuMicrosPerAccount: number;
  /** Accounts per second over the span. */
  perSecond: number;
}

export interface ProgressSample {
  active: number;
  cpuSeconds: number;
  wallSeconds: number;
}

export class SteadyStateMeter {
  private first: ProgressSample | undefined;
  private last: ProgressSample | undefined;

  /** `from` and `to` are fractions of `size`, e.g. 0.1 and 0.9. */
  constructor(private readonly size: number, private readonly from = 0.1, private readonly to = 0.9) {}

  /** One poll's figures; only the first at or past each bound is kept. */
  record(sample: ProgressSample): void {
    if (this.first === undefined && sample.active >= this.from * this.size) this.first = sample;
    else if (this.first !== undefined && this.last === undefined && sample.active >= this.to * this.size) this.last = sample;
  }

  /** Undefined when the polls never saw both bounds with accounts between them. */
  result(): SteadyState | undefined {
    const { first, last } = this;
    if (!first || !last || last.active <= first.active || last.wallSeconds <= first.wallSeconds) return undefined;
    const accounts = last.active - first.active;
    return {
      first,
      last,
      cpuMicrosPerAccount: ((last.cpuSeconds - first.cpuSeconds) / accounts) * 1e6,
      perSecond: accounts / (last.wallSeconds - first.wallSeconds),
    };
  }
}
