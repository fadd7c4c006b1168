/**
 * Contact header values (RFC 3261 §20.10, §25.1): several contacts per value and several
 * values; name-addr (`"Doe, John" <sip:j@host>;expires=60`) or addr-spec
 * (`sip:j@host;expires=60`, whose `;` parameters belong to the header, not the URI); `*`.
 */
import { parseParam, splitOutsideQuotes, unquote } from './header-syntax';
import { parseSipUri, sipUrisEqual, type SipUri } from './uri';

export interface ContactBinding {
  displayName?: string;
  /** The URI as written, without angle brackets. */
  uri: string;
  /** contact-params (`expires`, `q`, ...): names lower-cased, values unquoted, null for a flag. */
  params: ReadonlyMap<string, string | null>;
}

/** A Contact is a binding or the wildcard `*` (REGISTER removing all bindings, §10.2.2). */
export type Contact = ContactBinding | '*';

/** display-name (quoted-string or tokens) `<` URI `>` then the parameters. */
const NAME_ADDR = /^("(?:[^"\\]|\\.)*"\s*|[^"<]*)<([^>]*)>(.*)$/s;
/** An absoluteURI: scheme ':' and no white space. */
const ABSOLUTE_URI = /^[A-Za-z][A-Za-z0-9+.-]*:\S+$/;

function parseContactParams(text: string): Map<string, string | null> | undefined {
  if (text.trim() !== '' && !text.trim().startsWith(';')) return undefined;
  const params = new Map<string, string | null>();
  for (const item of splitOutsideQuotes(text, ';')) {
    const param = parseParam(item);
    if (!param) return undefined;
    if (!params.has(param[0])) params.set(param[0], param[1]);
  }
  return params;
}

function parseContact(item: string): Contact | undefined {
  if (item === '*') return '*';
  const nameAddr = NAME_ADDR.exec(item);
  const paramsAt = item.indexOf(';');
  const [displayName, uri, paramText] = nameAddr
    ? [unquote(nameAddr[1].trim()), nameAddr[2].trim(), nameAddr[3]]
    : ['', paramsAt < 0 ? item : item.slice(0, paramsAt), paramsAt < 0 ? '' : item.slice(paramsAt)];
  const params = parseContactParams(paramText);
  if (!ABSOLUTE_URI.test(uri) || !params) return undefined;
  return displayName === '' ? { uri, params } : { displayName, uri, params };
}

/**
 * Every Contact in the given header values, in order. Items that are not a valid
 * contact are left out; the caller keeps the raw values when it needs all of them.
 */
export function parseContactHeaders(values: string | readonly string[]): Contact[] {
  const list = typeof values === 'string' ? [values] : values;
  return list
    .flatMap((value) => splitOutsideQuotes(value, ','))
    .map(parseContact)
    .filter((contact): contact is Contact => contact !== undefined);
}

/** The binding whose URI equals `ours` per RFC 3261 §19.1.4 (the first, if several do). */
export function findContact(contacts: readonly Contact[], ours: SipUri): ContactBinding | undefined {
  return contacts.find((contact): contact is ContactBinding => {
    if (contact === '*') return false;
    const uri = parseSipUri(contact.uri);
    return uri !== undefined && sipUrisEqual(uri, ours);
  });
}
