/**
 * Serialising a SIP message (RFC 3261 §7): start line, one row per header field, an
 * empty line, the body. Written here rather than through drachtio's
 * SipMessage.toString(): every REGISTER goes through this, and drachtio's path (a
 * header object, a message object, a parsed-header walk) cost ~1.3 µs and ~1 kB more
 * per REGISTER than the string built directly (`make bench-messages`). The output is
 * drachtio's layout, with two of its habits left out (the rest is checked to be the
 * same by test/unit/sip-message-drachtio.test.ts):
 * - it counts Content-Length in UTF-16 code units; §20.14 wants bytes. Text is turned
 *   into "byte strings" (each UTF-8 byte as one latin1 character) and the result
 *   encoded as latin1, so characters and bytes coincide;
 * - it writes header names in lower case (except Call-ID, Content-Length); legal
 *   (§7.3.1) but unlike every other UA, so names are given in their usual spelling.
 * Content-Length is always written, last, as streams require (§18.3, §20.14).
 */
import type { SipMessage } from './sip-message';

/**
 * `topVia`: a Via written first, in place of any the message has — how the transaction
 * layer stamps each request it sends, without copying the message for it. The caller
 * builds it (formatVia), so it holds no CR/LF. Header values hold no CR/LF either:
 * SipHeaders refuses them.
 */
export function serializeSipMessage(message: SipMessage, topVia?: string): Buffer {
  let text = message.type === 'request'
    ? `${message.method} ${byteString(message.uri)} SIP/2.0\r\n`
    : `SIP/2.0 ${message.status} ${byteString(message.reason)}\r\n`;
  if (topVia !== undefined) text += `Via: ${byteString(topVia)}\r\n`;
  for (const [name, value] of message.headers) {
    if ((topVia !== undefined && name === 'via') || name === 'content-length') continue;
    text += `${displayName(name)}: ${byteString(value)}\r\n`;
  }
  const body = byteString(message.body);
  return Buffer.from(`${text}Content-Length: ${body.length}\r\n\r\n${body}`, 'latin1');
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
