/**
 * Building a REGISTER request (RFC 3261 §10.2). The transaction layer adds the Via
 * (with a fresh branch) when it sends the request; everything else is here.
 */
import { formatCSeq } from './cseq';
import { SipHeaders, type HeaderRow } from './headers';
import { SipRequest } from './sip-message';

export interface RegisterRequestFields {
  /** Request-URI: the registrar's domain, `sip:<realm>` (§10.2). */
  requestUri: string;
  /** Address of record, the From and To URI (§10.2). */
  aor: string;
  fromTag: string;
  callId: string;
  cseq: number;
  /** Contact URI to bind. */
  contact: string;
  /** `;expires=` on the Contact; a de-REGISTER sets 0 (§10.2.2). */
  contactExpires?: number;
  /** Expires header (§10.2.1.1). */
  expires: number;
  /** Route header URIs, e.g. a loose-routing outbound proxy (§8.1.2). */
  route?: readonly string[];
  /** Digest credentials answering a 401 (Authorization) and/or a 407 (Proxy-Authorization), §22.2/§22.3. */
  credentials?: readonly { readonly name: 'Authorization' | 'Proxy-Authorization'; readonly value: string }[];
  /** User-Agent value; empty or absent = no header. */
  userAgent?: string;
}

/** §8.1.1.6: Max-Forwards SHOULD be 70. */
export const MAX_FORWARDS = 70;

/** Throws TypeError when a field would not make a valid header (CR/LF in a value). */
export function buildRegisterRequest(f: RegisterRequestFields): SipRequest {
  const contactParams = f.contactExpires === undefined ? '' : `;expires=${f.contactExpires}`;
  const rows: HeaderRow[] = [
    ['Max-Forwards', String(MAX_FORWARDS)],
    ['From', `<${f.aor}>;tag=${f.fromTag}`],
    ['To', `<${f.aor}>`],
    ['Call-ID', f.callId],
    ['CSeq', formatCSeq({ seq: f.cseq, method: 'REGISTER' })],
    ['Contact', `<${f.contact}>${contactParams}`],
    ['Expires', String(f.expires)],
  ];
  for (const uri of f.route ?? []) rows.push(['Route', `<${uri}>`]);
  for (const { name, value } of f.credentials ?? []) rows.push([name, value]);
  if (f.userAgent) rows.push(['User-Agent', f.userAgent]);
  return new SipRequest('REGISTER', f.requestUri, SipHeaders.of(rows));
}
