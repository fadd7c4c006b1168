/**
 * The ceiling a registration engine is compared against: sipp (C++, one UDP socket)
 * registering the same accounts against the same registrar, with digest auth, as fast
 * as the registrar lets it. Timed from spawn to exit like the daemon (start-up
 * included), and sipp's own figure (its first to last statistics dump) kept beside it.
 */
import { sippRegisterClient, type SippAccount } from '../../test/support/sipp';
import type { KamailioHandle } from '../../test/support/kamailio';
import { reapedChildrenCpuSeconds } from './process-usage';

export interface SippCeilingOptions {
  /** New REGISTERs per second sipp may start (sipp -r). */
  rate: number;
  /** Registrations in flight at most (sipp -l): like the daemon's max_pending_transactions. */
  concurrency: number;
  expires: number;
  timeoutMs: number;
}

export interface SippFigures {
  successful: number;
  failed: number;
  exitCode: number | null;
  wallSeconds: number;
  /** successful / wallSeconds. */
  perSecond: number;
  /** sipp's own successful / (last stats dump − start); 1-second granularity. */
  sippReportedPerSecond: number;
  /** sipp's utime + stime (s), from start to exit. */
  cpuSeconds: number;
  /** cpuSeconds ÷ successful, µs. */
  cpuMicrosPerAccount: number;
}

export interface SippCeiling {
  figures: SippFigures;
  /** sipp's log and error tail, for when it did not register every account. */
  logTail: string;
}

export async function sippCeiling(kam: KamailioHandle, accounts: readonly SippAccount[], options: SippCeilingOptions): Promise<SippCeiling> {
  // sipp is the only child of this process that ends during its run, so the growth of
  // the reaped children's CPU is sipp's.
  const cpuBefore = reapedChildrenCpuSeconds();
  const started = performance.now();
  const result = await sippRegisterClient({
    target: { host: kam.host, port: kam.ports.udp },
    accounts,
    transport: 'udp',
    rate: options.rate,
    concurrency: options.concurrency,
    expires: options.expires,
    timeoutMs: options.timeoutMs,
  });
  const wallSeconds = (performance.now() - started) / 1000;
  const cpuSeconds = reapedChildrenCpuSeconds() - cpuBefore;
  return {
    figures: {
      successful: result.successful,
      failed: result.failed,
      exitCode: result.exitCode,
      wallSeconds,
      perSecond: result.successful / wallSeconds,
      sippReportedPerSecond: result.registrationsPerSecond,
      cpuSeconds,
      cpuMicrosPerAccount: result.successful > 0 ? (cpuSeconds / result.successful) * 1e6 : NaN,
    },
    logTail: result.logTail,
  };
}
