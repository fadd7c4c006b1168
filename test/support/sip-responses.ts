/**
 * Responses as a registrar writes them, for tests that play the registrar: built with
 * the independent test parser (./sip-message), never with src/, so our parser is not
 * checked against itself.
 */
import type { TransactionOutcome } from '../../src/sip/transaction-non-invite-client';
import { parseSipMessage, type SipMessage } from './sip-message';

export interface AnswerOptions {
  /** Put another branch into the top Via (a response for some other transaction). */
  branch?: string;
  /** Put another method into the CSeq. */
  method?: string;
  /** Extra header lines, e.g. 'Contact: <sip:a@b>;expires=60'. */
  headers?: readonly string[];
}

/** Copies Via, From, To (adding a tag), Call-ID and CSeq from the request (RFC 3261 §8.2.6.2). */
export function answerRequest(request: string | SipMessage, status: number, reason: string, options: AnswerOptions = {}): string {
  const req = typeof request === 'string' ? parseSipMessage(request) : request;
  const vias = req.headerAll('Via');
  if (options.branch !== undefined) vias[0] = vias[0].replace(/branch=[^;,\s]+/, `branch=${options.branch}`);
  const [seq, method] = (req.header('CSeq') ?? '').trim().split(/\s+/);
  return [
    `SIP/2.0 ${status} ${reason}`,
    ...vias.map((via) => `Via: ${via}`),
    `From: ${req.header('From')}`,
    `To: ${req.header('To')};tag=registrar`,
    `Call-ID: ${req.header('Call-ID')}`,
    `CSeq: ${seq} ${options.method ?? method}`,
    ...(options.headers ?? []),
    'Content-Length: 0',
    '', '',
  ].join('\r\n');
}

/** How a transaction ended, for assertions: the response's status, or 'timeout' / 'transport-error'; undefined while unsettled. */
export function outcomeStatus(outcome: TransactionOutcome | undefined): number | string | undefined {
  if (outcome === undefined) return undefined;
  return outcome.kind === 'response' ? outcome.response.status : outcome.kind;
}
