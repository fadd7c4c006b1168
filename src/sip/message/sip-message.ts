/**
 * Our types for SIP requests and responses (RFC 3261 §7): start line, header fields
 * and body. Instances come from parseSipMessage() or are built by the caller; they are
 * immutable.
 */
import { parseCSeq, type CSeq } from './cseq';
import type { SipHeaders } from './headers';

export class SipRequest {
  readonly type = 'request';
  /** undefined when the CSeq header is absent or malformed (never for a parsed message). */
  readonly cseq: CSeq | undefined;

  constructor(
    readonly method: string,
    readonly uri: string,
    readonly headers: SipHeaders,
    readonly body = '',
  ) {
    this.cseq = readCSeq(headers);
  }
}

export class SipResponse {
  readonly type = 'response';
  readonly cseq: CSeq | undefined;

  constructor(
    readonly status: number,
    readonly reason: string,
    readonly headers: SipHeaders,
    readonly body = '',
  ) {
    this.cseq = readCSeq(headers);
  }

  /** 1xx (§7.2). */
  get provisional(): boolean {
    return this.status < 200;
  }
}

export type SipMessage = SipRequest | SipResponse;

function readCSeq(headers: SipHeaders): CSeq | undefined {
  const value = headers.get('cseq');
  return value === undefined ? undefined : parseCSeq(value);
}
