/**
 * SIP timer values (RFC 3261 §17.1.2.2 and Table 4 of Appendix A) for the non-INVITE
 * client transaction. The transactions run on the engine's injectable Clock
 * (src/clock.ts), so unit tests drive the 32-second Timer F with a FakeClock.
 */

/** The base timer values of RFC 3261 §17.1.2.2, in milliseconds. */
export interface TimerValues {
  /** RTT estimate, 500 ms. */
  readonly t1: number;
  /** Maximum retransmit interval for non-INVITE requests, 4 s. */
  readonly t2: number;
  /** Maximum duration a message remains in the network, 5 s. */
  readonly t4: number;
}

export const DEFAULT_TIMER_VALUES: TimerValues = { t1: 500, t2: 4000, t4: 5000 };

/** Timer F: the non-INVITE transaction timeout, 64·T1 (§17.1.2.2). */
export function timerF(values: TimerValues): number {
  return 64 * values.t1;
}

/** Timer K: how long a completed transaction absorbs response retransmissions; 0 over reliable transports (§17.1.2.2). */
export function timerK(values: TimerValues, reliable: boolean): number {
  return reliable ? 0 : values.t4;
}

/**
 * The next Timer E interval after one has fired: doubling from T1 up to T2 in the
 * Trying state, T2 once a provisional response has arrived (§17.1.2.2).
 */
export function nextTimerE(values: TimerValues, current: number, proceeding: boolean): number {
  return proceeding ? values.t2 : Math.min(2 * current, values.t2);
}
