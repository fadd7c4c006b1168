/**
 * What a registration's account data becomes on the wire (RFC 3261 §10.2, §25.1), or
 * why it cannot go there. Checked per request, before anything is resolved or sent: a
 * registrar drops a request it cannot parse without a word (Kamailio does so with a raw
 * `"`, space or `<` in a URI), which would leave the account waiting 32 s for a 408,
 * and a line break would add header rows of the provisioner's making.
 *
 * - user: %-escaped as a URI user part (escapeUserPart: ASCII outside §25.1 `user`;
 *   characters outside ASCII go as UTF-8, as SEMS sends them) in From and To; the
 *   engine's default Contact escapes it the same way.
 * - realm: the Request-URI `sip:<realm>` and the host of From/To. A host has no
 *   escaping, so it must be host[:port] with optional URI parameters.
 * - auth user: the Digest `username`, a quoted-string (digest.ts quotes `"` and `\`);
 *   the response is computed over the value itself.
 * - password: hashed, never sent: any text will do.
 * - contact: a URI already (explicit, or the default built with the escaped user): it
 *   must be a valid sip:/sips: URI, whose user part may hold UTF-8 as the AoR's does.
 * A user, auth user or realm longer than MAX_VALUE_LENGTH characters, a contact longer
 * than MAX_CONTACT_LENGTH, or any of them holding a control character or a lone
 * surrogate, is refused.
 */
import type { RegistrationParams } from './registration-client';
import { escapeUserPart, parseSipUri } from './uri';

/**
 * Longest user, auth user and realm: the README schema's column width (varchar(256)),
 * and Kamailio's longest address of record (MAX_AOR_LEN); longer values come only from
 * other tables or DI calls.
 */
export const MAX_VALUE_LENGTH = 256;
/**
 * Longest contact: room for the default one, whose user part is a user of
 * MAX_VALUE_LENGTH characters escaped (3 characters for each ASCII one that needs it).
 */
export const MAX_CONTACT_LENGTH = 4096;

/** Request-URI, To/From, Route and transport of one registration request, whatever its transactions. */
export interface RequestAddressing {
  readonly requestUri: string;
  /** Address of record (From and To): `sip:<escaped user>@<realm>`. */
  readonly aor: string;
  readonly route: readonly string[] | undefined;
  /** The Contact's `;transport=`: it selects the transport towards the registrar (SPEC §4). */
  readonly transport: string | undefined;
}

/**
 * The addressing of a request for `params`, or why they cannot be sent: a reason that
 * names the field, e.g. "user contains a line break".
 */
export function addressRegistration(params: RegistrationParams): RequestAddressing | string {
  const problem = valueProblem('user', params.user, true)
    ?? valueProblem('auth user', params.authUser, false)
    ?? realmProblem(params.domain)
    ?? valueProblem('contact', params.contact, true, MAX_CONTACT_LENGTH)
    ?? uriTextProblem('contact', params.contact, CONTACT_TEXT_EXCLUDED);
  if (problem !== undefined) return problem;
  const contact = parseSipUri(params.contact);
  if (contact === undefined) return 'contact is not a sip: or sips: URI';
  return {
    requestUri: `sip:${params.domain}`,
    aor: `sip:${escapeUserPart(params.user)}@${params.domain}`,
    route: params.outboundProxy ? [looseRoute(params.outboundProxy)] : undefined,
    transport: contact.params.get('transport') ?? undefined,
  };
}

/** C0 controls and DEL: no header may carry them (RFC 3261 §25.1: quoted-strings and URIs alike). */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
/** Either of them may be there: one scan in the usual case that neither is. */
// eslint-disable-next-line no-control-regex
const SUSPECT = /[\u0000-\u001f\u007f\ud800-\udfff]/;

function valueProblem(field: string, value: string, required: boolean, maxLength = MAX_VALUE_LENGTH): string | undefined {
  if (required && value === '') return `${field} is empty`;
  // Counted in characters, as the column is; a string is never shorter in UTF-16 units.
  if (value.length > maxLength && [...value].length > maxLength) return `${field} is longer than ${maxLength} characters`;
  if (!SUSPECT.test(value)) return undefined;
  const control = CONTROL.exec(value);
  if (control) return `${field} contains ${describeCharacter(control[0])}`;
  return LONE_SURROGATE.test(value) ? `${field} is not valid Unicode (a lone surrogate)` : undefined;
}

/** Characters a URI never holds as they are: everything but unreserved, reserved, `%` and the IPv6 brackets (RFC 3261 §25.1). */
const URI_TEXT_EXCLUDED = /[^A-Za-z0-9\-_.!~*'();/?:@&=+$,%[\]]|%(?![0-9A-Fa-f]{2})/;
/** The same, but for characters outside ASCII: a contact's user part carries them as the AoR's does (escapeUserPart). */
const CONTACT_TEXT_EXCLUDED = /[^A-Za-z0-9\-_.!~*'();/?:@&=+$,%[\]\u0080-\uffff]|%(?![0-9A-Fa-f]{2})/;

/** The first character of `text` that no URI may hold as it is, described; undefined if none. */
function uriTextProblem(field: string, text: string, excludedPattern = URI_TEXT_EXCLUDED): string | undefined {
  const excluded = excludedPattern.exec(text);
  if (!excluded) return undefined;
  return `${field} contains ${excluded[0] === '%' ? "a '%' that starts no escape" : describeCharacter(excluded[0])}`;
}

/**
 * Verdicts on realms seen (undefined: valid): many accounts share a few realms, so a
 * request looks its realm up instead of parsing it. Bounded: emptied when full.
 */
const realmVerdicts = new Map<string, string | undefined>();
const MAX_REALM_VERDICTS = 1024;

function realmProblem(realm: string): string | undefined {
  if (realmVerdicts.has(realm)) return realmVerdicts.get(realm);
  const problem = checkRealm(realm);
  if (realmVerdicts.size >= MAX_REALM_VERDICTS) realmVerdicts.clear();
  realmVerdicts.set(realm, problem);
  return problem;
}

/** host[:port] then optional uri-parameters (§25.1); the host part as parseSipUri checks it. */
function checkRealm(realm: string): string | undefined {
  const problem = valueProblem('realm', realm, true) ?? uriTextProblem('realm', realm);
  if (problem !== undefined) return problem;
  const uri = parseSipUri(`sip:${realm}`);
  return uri && uri.user === undefined && uri.headers.size === 0 ? undefined : 'realm is not a host[:port] (with optional ;parameters)';
}

function describeCharacter(char: string): string {
  switch (char) {
    case '\r':
    case '\n':
      return 'a line break';
    case '\t':
      return 'a tab';
    case ' ':
      return 'a space';
    default: {
      const code = char.charCodeAt(0);
      if (code < 0x20 || code === 0x7f) return `a control character (U+${code.toString(16).toUpperCase().padStart(4, '0')})`;
      return code < 0x80 ? `'${char}'` : 'a non-ASCII character';
    }
  }
}

/** RFC 3261 §8.1.2: an outbound proxy is a loose-routing pre-existing route. */
function looseRoute(proxy: string): string {
  return parseSipUri(proxy)?.params.has('lr') ? proxy : `${proxy};lr`;
}
