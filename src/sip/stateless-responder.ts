/**
 * Answers the requests that reach our SIP socket (RFC 3261 §8.2, statelessly as in
 * §8.2.7): OPTIONS with 200 — registrars that qualify contacts (Kamailio's nathelper
 * pings, Asterisk's qualify) would otherwise mark our bindings unreachable; SEMS
 * answers them too — and anything else with 405 naming what we allow. ACK is never
 * answered (§17.1.1.3).
 */
import { randomHex } from './random-token';
import { SipHeaders, type HeaderRow } from './message/headers';
import { SipResponse, type SipRequest } from './message/sip-message';

export const ALLOWED_METHODS = 'OPTIONS';

/** The response to send, or undefined when none is due. */
export function statelessResponse(request: SipRequest, userAgent: string): SipResponse | undefined {
  if (request.method === 'ACK') return undefined;
  const [status, reason] = request.method === 'OPTIONS' ? [200, 'OK'] : [405, 'Method Not Allowed'];
  // §8.2.6.2: Via, From, Call-ID and CSeq copied; To gets a tag if it has none.
  const to = request.headers.get('to') ?? '';
  const rows: HeaderRow[] = [];
  const via = request.headers.get('via');
  if (via !== undefined) rows.push(['Via', via]);
  for (const name of ['From', 'Call-ID', 'CSeq']) {
    const value = request.headers.get(name);
    if (value !== undefined) rows.push([name, value]);
  }
  rows.push(['To', /;\s*tag=/i.test(to) ? to : `${to};tag=${randomHex(8)}`]);
  rows.push(['Allow', ALLOWED_METHODS]);
  if (userAgent) rows.push(['Server', userAgent]);
  return new SipResponse(status, reason, SipHeaders.of(rows));
}
