/**
 * Parsing a received SIP message (RFC 3261 §7) with drachtio's parser, guarded so that
 * nothing a peer sends can throw out of here or grow without bound:
 * - the size is checked before any parsing;
 * - drachtio's exceptions become an error result;
 * - what drachtio lets through is checked: SIP/2.0, a 3-digit status, the mandatory
 *   headers of §8.1.1 and a well-formed CSeq;
 * - a header value holding a CR, LF or NUL after unfolding is refused: drachtio ends
 *   lines only at CRLF, so a bare LF stays inside a value, and a value copied into our
 *   answer (§8.2.6.2) would then inject a header row into it (SipHeaders refuses to
 *   build such a row, which must not make a peer's datagram an exception);
 * - the body is cut by Content-Length counted in bytes (§18.3, §20.14); drachtio mixes
 *   bytes and characters there, so it only ever sees the header section.
 */
import { DrachtioSipMessage, type DrachtioMessage } from './drachtio';
import { SipHeaders, breaksRow } from './headers';
import { SipRequest, SipResponse, type SipMessage } from './sip-message';

/** Larger messages are refused unparsed; 64 kB is also the largest UDP datagram. */
export const MAX_MESSAGE_BYTES = 65_536;

export type ParseResult =
  | { readonly ok: true; readonly message: SipMessage }
  | { readonly ok: false; readonly error: string };

export function parseSipMessage(input: Buffer | string, maxBytes = MAX_MESSAGE_BYTES): ParseResult {
  const data = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
  if (data.length > maxBytes) return failure(`${data.length} bytes exceed the ${maxBytes}-byte limit`);
  const start = skipLeadingLineBreaks(data, 0);
  if (start === data.length) return failure('empty message');
  const headerEnd = data.indexOf(HEADER_END, start);
  if (headerEnd < 0) return failure('no empty line after the header fields');

  const headerText = data.toString('utf8', start, headerEnd + HEADER_END.length);
  let parsed: DrachtioMessage;
  try {
    parsed = new DrachtioSipMessage(headerText);
  } catch {
    return failure('malformed start line or header line');
  }
  if (parsed.version !== '2.0') return failure(`not SIP/2.0 (SIP/${parsed.version})`);

  const headers = SipHeaders.fromParsed(parsed.headers);
  const missing = MANDATORY_HEADERS.find((name) => !headers.has(name));
  if (missing !== undefined) return failure(`no ${missing} header`);
  // One scan of the text finds any CR or LF outside a CRLF pair, or a NUL; only then
  // are the values looked at one by one (a bare LF that starts a folded line is legal).
  const broken = hasStrayLineBreakOrNul(headerText) ? headerWithLineBreak(headers) : undefined;
  if (broken !== undefined) return failure(`${broken} header holds a bare CR, LF or NUL`);

  const body = readBody(data, headerEnd + HEADER_END.length, headers.get('content-length'));
  if (typeof body !== 'string') return failure(body.error);

  const message = toSipMessage(parsed, headers, body);
  if (message === undefined) return failure('malformed start line');
  if (message.cseq === undefined) return failure(`malformed CSeq '${headers.get('cseq')}'`);
  return { ok: true, message };
}

/** Index of the first byte after any CR/LF at `from`: §7.5 lets CRLFs precede a start line (and RFC 5626 keep-alives are CRLFs). */
export function skipLeadingLineBreaks(data: Buffer, from: number): number {
  let i = from;
  while (i < data.length && (data[i] === CR || data[i] === LF)) i++;
  return i;
}

export const HEADER_END = Buffer.from('\r\n\r\n');

/** A NUL, a CR not followed by LF, or an LF not preceded by CR (cheaper with indexOf than with a regex). */
function hasStrayLineBreakOrNul(text: string): boolean {
  if (text.includes('\0')) return true;
  let pairs = 0;
  for (let i = text.indexOf('\r'); i >= 0; i = text.indexOf('\r', i + 1)) {
    if (text.charCodeAt(i + 1) !== LF) return true;
    pairs++;
  }
  let lineFeeds = 0;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) lineFeeds++;
  return lineFeeds !== pairs;
}

/** The name of the first header whose value holds CR, LF or NUL. */
function headerWithLineBreak(headers: SipHeaders): string | undefined {
  for (const [name, value] of headers) {
    if (breaksRow(value)) return name;
  }
  return undefined;
}

/** §8.1.1: every request carries these, and responses copy them (§8.2.6.2). */
const MANDATORY_HEADERS = ['via', 'from', 'to', 'call-id', 'cseq'] as const;
const STATUS_CODE = /^[1-6]\d\d$/;
const CR = 0x0d;
const LF = 0x0a;

function toSipMessage(parsed: DrachtioMessage, headers: SipHeaders, body: string): SipMessage | undefined {
  if (parsed.method !== undefined && parsed.uri !== undefined) {
    return new SipRequest(parsed.method, parsed.uri, headers, body);
  }
  if (parsed.status !== undefined && STATUS_CODE.test(String(parsed.status))) {
    return new SipResponse(parsed.status, (parsed.reason ?? '').trim(), headers, body);
  }
  return undefined;
}

/** §18.3: the body is Content-Length bytes; without the header (UDP only) it runs to the end of the datagram. */
function readBody(data: Buffer, bodyStart: number, contentLength: string | undefined): string | { error: string } {
  if (contentLength === undefined) return data.toString('utf8', bodyStart);
  if (!/^\d{1,9}$/.test(contentLength)) return { error: `malformed Content-Length '${contentLength}'` };
  const length = Number(contentLength);
  const available = data.length - bodyStart;
  if (length > available) return { error: `body truncated: Content-Length ${length}, ${available} bytes present` };
  return data.toString('utf8', bodyStart, bodyStart + length);
}

function failure(error: string): ParseResult {
  return { ok: false, error };
}
