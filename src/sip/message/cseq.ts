/** The CSeq header field (RFC 3261 §20.16): sequence number and method. */
import { TOKEN } from '../header-syntax';

export interface CSeq {
  readonly seq: number;
  readonly method: string;
}

/** `1*DIGIT LWS Method`, the number below 2**31 (§8.1.1.5); undefined when malformed. */
export function parseCSeq(value: string): CSeq | undefined {
  const m = CSEQ.exec(value);
  if (!m) return undefined;
  const seq = Number(m[1]);
  return seq < 2 ** 31 ? { seq, method: m[2] } : undefined;
}

export function formatCSeq(cseq: CSeq): string {
  return `${cseq.seq} ${cseq.method}`;
}

const CSEQ = new RegExp(`^\\s*(\\d{1,10})\\s+(${TOKEN})\\s*$`);
