/**
 * SIP and SIPS URIs: parsing (RFC 3261 §19.1.1, §25.1) and equivalence (§19.1.4).
 *
 * drachtio-srf's parseUri is not used: it takes the parameters of a single-label host
 * for part of the host (`sip:u@localhost;transport=tcp` → host `localhost;transport=tcp`)
 * and rejects an upper-case scheme.
 */
import { isIP, isIPv6 } from 'node:net';

export interface SipUri {
  scheme: 'sip' | 'sips';
  user?: string;
  password?: string;
  /** As written; an IPv6 reference keeps its brackets. */
  host: string;
  port?: number;
  /** uri-parameters: names lower-cased, values as written, null for a flag such as `lr`. */
  params: ReadonlyMap<string, string | null>;
  /** headers (`?name=value&...`): names lower-cased, values as written. */
  headers: ReadonlyMap<string, string>;
}

const HOSTNAME_OR_IPV4 = /^[A-Za-z0-9_.-]+$/;

function splitOnce(text: string, separator: string): [string, string | undefined] {
  const at = text.indexOf(separator);
  return at < 0 ? [text, undefined] : [text.slice(0, at), text.slice(at + 1)];
}

/** RFC 3261 §25.1 hostport: hostname, IPv4address or `[IPv6reference]`, then an optional port. */
function parseHostPort(text: string): { host: string; port?: number } | undefined {
  const bracketEnd = text.startsWith('[') ? text.indexOf(']') : -1;
  const host = bracketEnd >= 0 ? text.slice(0, bracketEnd + 1) : splitOnce(text, ':')[0];
  const portText = text.slice(host.length);
  const hostValid = bracketEnd >= 0 ? isIPv6(host.slice(1, -1)) : HOSTNAME_OR_IPV4.test(host);
  if (!hostValid || !/^(:\d{1,5})?$/.test(portText)) return undefined;
  if (portText === '') return { host };
  const port = Number(portText.slice(1));
  return port <= 65535 ? { host, port } : undefined;
}

/** `name[=value]` items; names lower-cased. undefined when a name is empty. */
function parseNameValues(items: readonly string[]): Map<string, string | null> | undefined {
  const result = new Map<string, string | null>();
  for (const item of items) {
    const [name, value] = splitOnce(item, '=');
    if (name === '') return undefined;
    if (!result.has(name.toLowerCase())) result.set(name.toLowerCase(), value ?? null);
  }
  return result;
}

/** Parses a `sip:` or `sips:` URI (no angle brackets); undefined if it is not one. */
export function parseSipUri(text: string): SipUri | undefined {
  const trimmed = text.trim();
  const scheme = /^(sips?):/i.exec(trimmed);
  if (!scheme) return undefined;
  let rest = trimmed.slice(scheme[0].length);
  // The userinfo ends at the first '@': neither user nor password may hold one unescaped.
  const [userinfo, afterUserinfo] = splitOnce(rest, '@');
  let user: string | undefined;
  let password: string | undefined;
  if (afterUserinfo !== undefined) {
    [user, password] = splitOnce(userinfo, ':');
    if (user === '') return undefined;
    rest = afterUserinfo;
  }
  const [beforeHeaders, headerText] = splitOnce(rest, '?');
  const [hostPortText, ...paramItems] = beforeHeaders.split(';');
  const hostPort = parseHostPort(hostPortText);
  const params = parseNameValues(paramItems);
  const headerPairs = parseNameValues(headerText === undefined ? [] : headerText.split('&'));
  if (!hostPort || !params || !headerPairs) return undefined;
  for (const value of headerPairs.values()) if (value === null) return undefined;
  // Built field by field, not by spreading hostPort: several URIs are parsed per request.
  const uri: SipUri = {
    scheme: scheme[1].toLowerCase() as SipUri['scheme'],
    user,
    password,
    host: hostPort.host,
    params,
    headers: headerPairs as Map<string, string>,
  };
  if (hostPort.port !== undefined) uri.port = hostPort.port;
  return uri;
}

/** The address of an IP-literal host (brackets removed), undefined for a host name. */
export function ipLiteral(host: string): string | undefined {
  const address = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  return isIP(address) ? address : undefined;
}

/** RFC 3261 §25.1 characters a user part holds unescaped: unreserved (alphanum, mark) and user-unreserved. */
const USER_UNESCAPED = "A-Za-z0-9\\-_.!~*'()&=+$,;?/";
const USER_PART_CHAR = new RegExp(`[${USER_UNESCAPED}]`);

/** Whether the code unit is an ASCII hex digit (NaN past the end: no). */
function isHexDigit(code: number): boolean {
  return (code >= 0x30 && code <= 0x39) || ((code | 0x20) >= 0x61 && (code | 0x20) <= 0x66);
}

/** §25.1 `user` (those characters and escapes), and characters outside ASCII, sent as they are (below). */
const USER_PART_OR_NON_ASCII = new RegExp(`^(?:[${USER_UNESCAPED}\\u0080-\\uFFFF]|%[0-9A-Fa-f]{2})*$`);

/**
 * A user name as the user part of a SIP URI (RFC 3261 §19.1.2, §25.1): every ASCII
 * character outside `unreserved` and `user-unreserved` is %-escaped (`"` → `%22`,
 * space → `%20`). A `%` that already starts an escape is kept: a user provisioned in
 * URI form, which SEMS sent unchanged, keeps its meaning. Characters outside ASCII are
 * sent as UTF-8, unescaped, as SEMS and Kamailio's uac_reg send them: §25.1 would
 * escape them byte-wise (`ü` → `%C3%BC`), but Kamailio's registrar refuses an escaped
 * non-ASCII byte (400) while it takes the raw form, so the strict form would fail every
 * such account a SEMS installation had registered. Returns `user` itself when nothing
 * needs escaping (the usual case: no copy).
 */
export function escapeUserPart(user: string): string {
  if (USER_PART_OR_NON_ASCII.test(user)) return user;
  let escaped = '';
  for (let i = 0; i < user.length; i++) {
    const code = user.charCodeAt(i);
    const char = user[i] as string;
    const asIs = code >= 0x80 || USER_PART_CHAR.test(char);
    const startsEscape = char === '%' && isHexDigit(user.charCodeAt(i + 1)) && isHexDigit(user.charCodeAt(i + 2));
    escaped += asIs || startsEscape ? char : `%${code < 0x10 ? '0' : ''}${code.toString(16).toUpperCase()}`;
  }
  return escaped;
}

/** RFC 2396 "reserved" characters (plus '%' itself): their escaped and plain forms differ. */
const RESERVED = new Set(';/?:@&=+$,%');

/**
 * §19.1.4: characters outside the reserved set equal their `%HEX HEX` form. Decodes
 * those escapes and upper-cases the hex of the others, so equal strings mean equal text.
 */
function normalizeEscapes(text: string): string {
  return text.replace(/%([0-9A-Fa-f]{2})/g, (escape, hex: string) => {
    const char = String.fromCharCode(parseInt(hex, 16));
    return RESERVED.has(char) ? escape.toUpperCase() : char;
  });
}

function sameText(a: string | null | undefined, b: string | null | undefined, caseSensitive: boolean): boolean {
  if (typeof a !== 'string' || typeof b !== 'string') return a === b;
  const normalize = (text: string): string => (caseSensitive ? normalizeEscapes(text) : normalizeEscapes(text).toLowerCase());
  return normalize(a) === normalize(b);
}

/** uri-parameters that make two URIs differ when only one of them has it (§19.1.4). */
const PARAMS_REQUIRED_IN_BOTH = new Set(['transport', 'user', 'ttl', 'method', 'maddr']);

/** §19.1.4: parameters in both must match; transport/user/ttl/method/maddr in one only never match; others are ignored. */
function paramsMatch(a: SipUri['params'], b: SipUri['params']): boolean {
  for (const name of new Set([...a.keys(), ...b.keys()])) {
    if (a.has(name) && b.has(name)) {
      if (!sameText(a.get(name), b.get(name), false)) return false;
    } else if (PARAMS_REQUIRED_IN_BOTH.has(name)) {
      return false;
    }
  }
  return true;
}

/**
 * §19.1.4: header components are never ignored; each must be in both URIs with an
 * equal value. (Values compare as text; §20's per-header rules are not applied.)
 */
function headersMatch(a: SipUri['headers'], b: SipUri['headers']): boolean {
  return a.size === b.size && [...a].every(([name, value]) => sameText(value, b.get(name), true));
}

/**
 * RFC 3261 §19.1.4 URI equivalence: same scheme; userinfo case-sensitive and present in
 * both or neither; host case-insensitive; port present in both and equal, or in neither
 * (an absent port does not equal 5060); parameters and headers as above.
 */
export function sipUrisEqual(a: SipUri, b: SipUri): boolean {
  return (
    a.scheme === b.scheme &&
    sameText(a.user, b.user, true) &&
    sameText(a.password, b.password, true) &&
    a.host.toLowerCase() === b.host.toLowerCase() &&
    a.port === b.port &&
    paramsMatch(a.params, b.params) &&
    headersMatch(a.headers, b.headers)
  );
}
