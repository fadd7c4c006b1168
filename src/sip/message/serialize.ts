/**
 * Serialising a SIP message (RFC 3261 §7) with drachtio's SipMessage.toString(),
 * guarded against two of its habits:
 * - it counts Content-Length in UTF-16 code units; §20.14 wants bytes. We hand it
 *   "byte strings" (each UTF-8 byte as one latin1 character) and encode its output as
 *   latin1, so characters and bytes coincide;
 * - it writes header names in lower case (except Call-ID, Content-Length); legal
 *   (§7.3.1) but unlike every other UA, so names are given in their usual spelling.
 * Content-Length is always written, as streams require (§18.3, §20.14).
 */
import { DrachtioSipMessage } from './drachtio';
import type { SipMessage } from './sip-message';

/**
 * `topVia`: a Via written first, in place of any the message has — how the transaction
 * layer stamps each request it sends, without copying the message for it. The caller
 * builds it (formatVia), so it holds no CR/LF.
 */
export function serializeSipMessage(message: SipMessage, topVia?: string): Buffer {
  const headers: Record<string, string> = {};
  if (topVia !== undefined) headers.Via = byteString(topVia);
  for (const [name, value] of message.headers) {
    if (topVia !== undefined && name === 'via') continue;
    if (name !== 'content-length') headers[displayName(name)] = byteString(value);
  }
  const body = byteString(message.body);
  const fields = message.type === 'request'
    ? { method: message.method, uri: byteString(message.uri), headers, body }
    : { status: message.status, reason: byteString(message.reason), headers, body };
  return Buffer.from(new DrachtioSipMessage(fields).toString(), 'latin1');
}

/** The customary spelling of a header name: as RFC 3261 §20 writes it, else Title-Case. */
export function displayName(lowerCaseName: string): string {
  return RFC_3261_SPELLING.get(lowerCaseName) ?? lowerCaseName.replace(/(^|-)([a-z])/g, (_, dash: string, c: string) => dash + c.toUpperCase());
}

/** §20's spellings (the irregular ones among them, and the ones we send, spared the regex). */
const RFC_3261_SPELLING: ReadonlyMap<string, string> = new Map(
  [
    'Call-ID', 'CSeq', 'WWW-Authenticate', 'MIME-Version', 'Via', 'From', 'To', 'Contact', 'Expires',
    'Max-Forwards', 'User-Agent', 'Route', 'Authorization', 'Proxy-Authorization', 'Min-Expires',
    'Proxy-Authenticate', 'Content-Type', 'Supported', 'Allow', 'Server',
  ].map((name) => [name.toLowerCase(), name]),
);

function byteString(text: string): string {
  return /[\u0080-\uffff]/.test(text) ? Buffer.from(text, 'utf8').toString('latin1') : text;
}
