/**
 * REGISTERs per second over time, from the daemon's getStatistics (sent.REGISTER)
 * read once a second on a fixed grid (no drift: tick k is due at start + k s).
 */
import type { RunningDaemon } from '../../test/support/daemon';
import { agentStatistics } from './agent-statistics';
import { sleep } from './time';

export interface RegisterSample {
  /** Seconds since `start`, when the reading was taken. */
  t: number;
  /** sent.REGISTER so far. */
  sent: number;
  /** (sent − previous sent) / (t − previous t): REGISTERs per second in the interval ending at t. */
  perSecond: number;
}

/**
 * Samples for `seconds` from `start` (a performance.now() value, e.g. the daemon's
 * spawn). Readings before the daemon's RPC server is up are skipped; the first
 * reading then holds everything sent until it.
 */
export async function sampleRegisterRate(daemon: RunningDaemon, start: number, seconds: number): Promise<RegisterSample[]> {
  const samples: RegisterSample[] = [];
  let previous = { t: 0, sent: 0 };
  for (let tick = 1; tick <= seconds; tick++) {
    const due = start + tick * 1000;
    await sleep(Math.max(0, due - performance.now()));
    let sent: number;
    try {
      sent = (await agentStatistics(daemon)).sentRegister;
    } catch {
      if (samples.length === 0) continue; // not listening yet
      throw new Error(`getStatistics failed at ${tick} s:\n${daemon.log().slice(-2000)}`);
    }
    const t = (performance.now() - start) / 1000;
    samples.push({ t, sent, perSecond: (sent - previous.sent) / (t - previous.t) });
    previous = { t, sent };
  }
  return samples;
}
