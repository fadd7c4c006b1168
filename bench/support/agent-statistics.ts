/**
 * The daemon's own figures: DI `getStatistics` over XML-RPC (xmlrpc2di's `di`
 * method), read the way an operator's monitoring would.
 */
import type { RunningDaemon } from '../../test/support/daemon';
import { di } from '../../test/support/registrations';
import type { ActiveCounts } from './registration-counts';

/** The members of getStatistics the benchmarks use. */
export interface AgentStatistics {
  registrations: number;
  /** registration_status code → accounts. */
  byStatus: Record<string, number>;
  /** REGISTER transactions started (not counting digest re-sends). */
  sentRegister: number;
  sentDeregister: number;
  /** Final outcomes by code. */
  replies: Record<string, number>;
  inFlight: number;
}

type Record_ = Record<string, unknown>;

function asRecord(value: unknown, what: string): Record_ {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`getStatistics: ${what} is not a struct`);
  return value as Record_;
}

function numbers(value: unknown): Record<string, number> {
  return Object.fromEntries(Object.entries(asRecord(value ?? {}, 'a count map')).map(([k, v]) => [k, Number(v)]));
}

export async function agentStatistics(daemon: RunningDaemon): Promise<AgentStatistics> {
  const result = asRecord(await di(daemon, 'getStatistics'), 'the result');
  const sent = numbers(result.sent);
  return {
    registrations: Number(result.registrations),
    byStatus: numbers(result.by_status),
    sentRegister: sent.REGISTER ?? 0,
    sentDeregister: sent.deREGISTER ?? 0,
    replies: numbers(result.replies),
    inFlight: Number(result.in_flight),
  };
}

/**
 * ACTIVE and FAILED in the daemon's memory (getStatistics): the table is scanned only
 * once these say every account is ACTIVE, so the polling does not load MariaDB while
 * the daemon and the registrar share the machine with it. Zero while getStatistics
 * does not answer yet (the RPC servers are starting, or hold calls during the load).
 */
export async function daemonActiveCounts(daemon: RunningDaemon): Promise<ActiveCounts> {
  try {
    const { byStatus } = await agentStatistics(daemon);
    return { active: byStatus['2'] ?? 0, failed: byStatus['3'] ?? 0 };
  } catch {
    return { active: 0, failed: 0 };
  }
}
