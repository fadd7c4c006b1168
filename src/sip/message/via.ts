/**
 * The Via header field (RFC 3261 §20.42, §8.1.1.7, §18.2.2): building our own and
 * reading the top Via of a response.
 *
 * Reading is ours, not drachtio's: drachtio's Via parser stops at the first ':' of a
 * bracketed IPv6 sent-by and loses the branch (test/unit/sip-message-drachtio.test.ts),
 * and the branch is how responses find their transaction (§17.1.3).
 */
import { isIPv6 } from 'node:net';
import { TOKEN, parseParam, splitOutsideQuotes } from '../header-syntax';
import { randomHex } from '../random-token';

/** §8.1.1.7: branches starting with this cookie are unique per transaction (RFC 3261 matching). */
export const BRANCH_MAGIC_COOKIE = 'z9hG4bK';

export interface Via {
  /** UDP, TCP, TLS, ... as written. */
  readonly transport: string;
  /** Host as written, IPv6 references keep their brackets. */
  readonly host: string;
  readonly port: number | undefined;
  /** Parameter names in lower case, values unquoted; a flag (`;rport`) maps to null. */
  readonly params: ReadonlyMap<string, string | null>;
}

/**
 * A fresh branch: the magic cookie and 128 random bits, so responses cannot be guessed
 * onto our transactions. (randomUUID() is a tree of string pieces, 500 bytes that each
 * of 100 000 transactions would keep alive; randomHex() gives one flat string.)
 */
export function newBranch(): string {
  return BRANCH_MAGIC_COOKIE + randomHex(16);
}

/** `SIP/2.0/<transport> <host>:<port>;branch=<branch>;rport` (rport: RFC 3581 §3). */
export function formatVia(transport: string, host: string, port: number, branch: string): string {
  return `SIP/2.0/${transport} ${formatHostPort(host, port)};branch=${branch};rport`;
}

/** host:port with an IPv6 address in brackets (§19.1.1 hostport, RFC 2732). */
export function formatHostPort(host: string, port: number): string {
  return `${isIPv6(host) ? `[${host}]` : host}:${port}`;
}

/** One via-parm (a single element of the Via list); undefined when malformed. */
export function parseVia(value: string): Via | undefined {
  const m = VIA.exec(value);
  if (!m) return undefined;
  const params = new Map<string, string | null>();
  for (const item of splitOutsideQuotes(m[4], ';')) {
    const param = parseParam(item);
    if (param === undefined) return undefined;
    if (!params.has(param[0])) params.set(param[0], param[1]);
  }
  return { transport: m[1].toUpperCase(), host: m[2], port: m[3] === undefined ? undefined : Number(m[3]), params };
}

/** `SIP/2.0/transport sent-by` then the parameters (§25.1 via-parm); IPv6 references in brackets. */
const VIA = new RegExp(`^SIP\\s*/\\s*2\\.0\\s*/\\s*(${TOKEN})\\s+(\\[[0-9A-Fa-f:.]+\\]|[A-Za-z0-9.-]+)(?:\\s*:\\s*(\\d{1,5}))?\\s*((?:;.*)?)$`, 's');
