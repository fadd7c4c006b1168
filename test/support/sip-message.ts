/**
 * Just enough SIP text handling for tests to look at what peers sent: split a message
 * into start line, headers and body, and find headers by (long or compact) name.
 * Deliberately independent of src/: a test must not share the parser it is testing.
 */

export interface SipHeader {
  name: string;
  value: string;
}

export interface SipMessage {
  raw: string;
  startLine: string;
  isRequest: boolean;
  /** Requests only. */
  method?: string;
  requestUri?: string;
  /** Responses only. */
  status?: number;
  reason?: string;
  headers: SipHeader[];
  body: string;
  /** First value of a header (long or compact name, case-insensitive). */
  header(name: string): string | undefined;
  /** Every value of a header, one per header line (comma lists are not split). */
  headerAll(name: string): string[];
}

/** RFC 3261 §7.3.3 compact forms. */
const COMPACT_NAMES: Record<string, string> = {
  i: 'call-id', m: 'contact', f: 'from', t: 'to', v: 'via', l: 'content-length',
  c: 'content-type', k: 'supported', s: 'subject', e: 'content-encoding', o: 'event',
};

export function canonicalHeaderName(name: string): string {
  const lower = name.trim().toLowerCase();
  return COMPACT_NAMES[lower] ?? lower;
}

export function parseSipMessage(raw: string): SipMessage {
  const headerEnd = findHeaderEnd(raw);
  const head = headerEnd < 0 ? raw : raw.slice(0, headerEnd);
  const body = headerEnd < 0 ? '' : raw.slice(headerEnd).replace(/^\r?\n\r?\n/, '');
  const lines = unfold(head.split(/\r?\n/));
  const startLine = (lines.shift() ?? '').trim();
  const headers = lines.filter((line) => line.includes(':')).map(splitHeaderLine);
  const headerAll = (name: string): string[] => {
    const wanted = canonicalHeaderName(name);
    return headers.filter((h) => canonicalHeaderName(h.name) === wanted).map((h) => h.value);
  };
  return {
    raw,
    startLine,
    ...parseStartLine(startLine),
    headers,
    body,
    header: (name) => headerAll(name)[0],
    headerAll,
  };
}

/** The CSeq number of a message, NaN when absent. */
export function cseqNumber(message: SipMessage): number {
  return Number.parseInt(message.header('CSeq') ?? '', 10);
}

/** Value of a `;name=value` parameter in a header value (e.g. Via branch, Contact expires). */
export function headerParam(value: string | undefined, name: string): string | undefined {
  if (value === undefined) return undefined;
  const afterUri = value.includes('>') ? value.slice(value.lastIndexOf('>')) : value;
  const match = new RegExp(`;\\s*${name}\\s*=\\s*("[^"]*"|[^;,\\s]+)`, 'i').exec(afterUri);
  return match?.[1].replace(/^"|"$/g, '');
}

/** The URI inside a name-addr (`"x" <sip:a@b>;p=1` → `sip:a@b`) or a bare addr-spec. */
export function uriOf(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const bracketed = /<([^>]*)>/.exec(value);
  if (bracketed) return bracketed[1];
  return value.trim().split(/[;,\s]/)[0];
}

function findHeaderEnd(raw: string): number {
  const crlf = raw.indexOf('\r\n\r\n');
  const lf = raw.indexOf('\n\n');
  if (crlf < 0) return lf;
  if (lf < 0) return crlf;
  return Math.min(crlf, lf);
}

/** Join header continuation lines (leading white space) onto the line before. */
function unfold(lines: string[]): string[] {
  const out: string[] = [];
  for (const line of lines) {
    if (/^[ \t]/.test(line) && out.length > 1) out[out.length - 1] += ' ' + line.trim();
    else out.push(line);
  }
  return out;
}

function splitHeaderLine(line: string): SipHeader {
  const colon = line.indexOf(':');
  return { name: line.slice(0, colon).trim(), value: line.slice(colon + 1).trim() };
}

function parseStartLine(line: string): Pick<SipMessage, 'isRequest' | 'method' | 'requestUri' | 'status' | 'reason'> {
  const response = /^SIP\/2\.0\s+(\d{3})\s*(.*)$/i.exec(line);
  if (response) return { isRequest: false, status: Number(response[1]), reason: response[2] };
  const request = /^([A-Za-z]+)\s+(\S+)\s+SIP\/2\.0$/i.exec(line);
  if (request) return { isRequest: true, method: request[1].toUpperCase(), requestUri: request[2] };
  return { isRequest: false };
}
