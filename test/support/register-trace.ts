/**
 * What a Kamailio started with `traceRegisters: true` saw of each REGISTER: its
 * arrivals (retransmissions included) and the sending of its answers, with the
 * registrar's microsecond clock. Used to prove at the registrar that a daemon never
 * has two transactions under way for one account.
 */
import fs from 'node:fs';

export interface TraceEvent {
  kind: 'in' | 'out';
  /** Epoch milliseconds (the registrar's clock: the same host's). */
  at: number;
  user: string;
  callId: string;
  cseq: number;
  /** Via branch: one per client transaction (RFC 3261 §17.1.3). */
  branch: string;
}

/** One client transaction as the registrar saw it. */
export interface TransactionSpan {
  user: string;
  callId: string;
  cseq: number;
  branch: string;
  /** First arrival. */
  first: number;
  /** First answer sent (Infinity: none). */
  firstAnswer: number;
  /** Last arrival (a retransmission when later than `first`). */
  lastArrival: number;
  /** Copies received: 1 + retransmissions. */
  arrivals: number;
}

/**
 * Kamailio's workers read one socket: two datagrams sent in order can be logged out of
 * order by the time one worker takes over another. A copy of an earlier request that
 * arrives this much after a later one began is no such reordering.
 */
export const REORDER_TOLERANCE_MS = 250;

const LINE = /REGISTER-TRACE (in|out) (\d+)\.(\d{6}) (\S+) (\S+) (\d+) .*;branch=([^;\s]+)/;

export function parseRegisterTrace(text: string): TraceEvent[] {
  const events: TraceEvent[] = [];
  for (const line of text.split('\n')) {
    const m = LINE.exec(line);
    if (!m) continue;
    events.push({
      kind: m[1] as 'in' | 'out',
      at: Number(m[2]) * 1000 + Number(m[3]) / 1000,
      user: m[4] as string,
      callId: m[5] as string,
      cseq: Number(m[6]),
      branch: m[7] as string,
    });
  }
  return events;
}

export function readRegisterTrace(logFile: string): TraceEvent[] {
  return parseRegisterTrace(fs.readFileSync(logFile, 'utf8'));
}

/** Events grouped into transactions by branch, in order of first arrival. */
export function transactionSpans(events: readonly TraceEvent[]): TransactionSpan[] {
  const spans = new Map<string, TransactionSpan>();
  for (const e of events) {
    let span = spans.get(e.branch);
    if (!span) {
      span = { user: e.user, callId: e.callId, cseq: e.cseq, branch: e.branch, first: Infinity, firstAnswer: Infinity, lastArrival: -Infinity, arrivals: 0 };
      spans.set(e.branch, span);
    }
    if (e.kind === 'in') {
      span.first = Math.min(span.first, e.at);
      span.lastArrival = Math.max(span.lastArrival, e.at);
      span.arrivals++;
    } else {
      span.firstAnswer = Math.min(span.firstAnswer, e.at);
    }
  }
  return [...spans.values()].sort((a, b) => a.first - b.first);
}

export interface Overlap {
  earlier: TransactionSpan;
  later: TransactionSpan;
}

/**
 * Pairs of transactions for one user that were under way at once, as far as the
 * registrar can tell: the later one arrived before any answer to the earlier one had
 * been sent (so its sender could not have had one), or a copy of the earlier one
 * arrived after the later one began (its sender was still retransmitting it).
 * Give it the transactions of one sender only.
 */
export function overlappingTransactions(spans: readonly TransactionSpan[]): Overlap[] {
  const found: Overlap[] = [];
  const byUser = new Map<string, TransactionSpan[]>();
  for (const span of spans) {
    const list = byUser.get(span.user);
    if (list) list.push(span);
    else byUser.set(span.user, [span]);
  }
  for (const list of byUser.values()) {
    list.sort((a, b) => a.first - b.first);
    for (let i = 1; i < list.length; i++) {
      const later = list[i] as TransactionSpan;
      for (const earlier of list.slice(0, i)) {
        if (later.first < earlier.firstAnswer || earlier.lastArrival > later.first + REORDER_TOLERANCE_MS) found.push({ earlier, later });
      }
    }
  }
  return found;
}
