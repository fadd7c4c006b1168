/**
 * What a final reply to REGISTER means for our binding (RFC 3261 §10.2.4, §10.2.8;
 * SPEC §4): the expires granted by a 2xx, the Min-Expires demanded by a 423.
 */
import { findContact, parseContactHeaders, type ContactBinding } from './contact';
import { parseSipUri } from './uri';

/** The largest delta-seconds value (RFC 3261 §20.19). */
export const MAX_DELTA_SECONDS = 2 ** 32 - 1;

/** delta-seconds (RFC 3261 §25.1: 1*DIGIT), larger values clamped to 2^32-1; undefined if not digits. */
export function parseDeltaSeconds(value: string | null | undefined): number | undefined {
  const text = value?.trim();
  if (!text || !/^\d+$/.test(text)) return undefined;
  return Math.min(Number(text), MAX_DELTA_SECONDS);
}

export interface RegisterOkInput {
  /** Every Contact header value of the 2xx, as received. */
  contactHeaders: readonly string[];
  /** The Expires header value of the 2xx, if it has one. */
  expiresHeader?: string;
  /** The Contact URI we registered. */
  ourContact: string;
  /** The expires we asked for. */
  requestedExpires: number;
}

export interface RegisterOkResult {
  /** Our Contact is among the reply's bindings (§19.1.4 comparison). */
  found: boolean;
  /** When found: our Contact's `expires` param, else the Expires header, else the requested value. */
  grantedExpires?: number;
  /** The Contact header values as received, joined by ", " (the registrations.contacts column). */
  contacts: string;
}

/**
 * Interprets a 2xx to REGISTER: the registrar lists the current bindings and their
 * expiry (§10.2.4); an invalid `expires` param or Expires header counts as absent.
 */
export function interpretRegisterOk(input: RegisterOkInput): RegisterOkResult {
  const contacts = input.contactHeaders.join(', ');
  const listed = parseContactHeaders(input.contactHeaders);
  // Registrars usually echo our URI as we sent it: equal text is equal per §19.1.4, without parsing.
  const echoed = listed.find((c): c is ContactBinding => c !== '*' && c.uri === input.ourContact);
  const ours = echoed ? undefined : parseSipUri(input.ourContact);
  const binding = echoed ?? (ours && findContact(listed, ours));
  if (!binding) return { found: false, contacts };
  const grantedExpires =
    parseDeltaSeconds(binding.params.get('expires')) ?? parseDeltaSeconds(input.expiresHeader) ?? input.requestedExpires;
  return { found: true, grantedExpires, contacts };
}

export type IntervalTooBriefResult = { retryExpires: number } | { failure: string };

/**
 * Interprets a 423 Interval Too Brief (§10.2.8): retry with its Min-Expires. Missing,
 * not a number, or not above what we asked for, it gives nothing to retry with.
 */
export function interpretIntervalTooBrief(minExpiresHeader: string | undefined, requestedExpires: number): IntervalTooBriefResult {
  const minExpires = parseDeltaSeconds(minExpiresHeader);
  if (minExpires === undefined) {
    return { failure: minExpiresHeader === undefined ? '423 without Min-Expires' : `423 with invalid Min-Expires '${minExpiresHeader}'` };
  }
  if (minExpires <= requestedExpires) {
    return { failure: `423 with Min-Expires ${minExpires}, not above the requested ${requestedExpires}` };
  }
  return { retryExpires: minExpires };
}
