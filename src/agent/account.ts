/**
 * An account as provisioned (DB row or DI call) and the rules that turn it into
 * what the SIP layer registers (SPEC §4, README "Configuring contact" and
 * "Auth username").
 */
import type { AccountType } from '../db/account-key';
import type { RegistrationParams } from '../sip/registration-client';
import { escapeUserPart } from '../sip/uri';

export type { AccountType };

/**
 * The engine's key of an account. Subscribers and peerings have separate id spaces,
 * so the type is folded into the number (2·id for a subscriber, 2·id + 1 for a
 * peering): a number keys the registry and the timers without a string per account
 * (as "subscriber:123" they took 6.5 MB at 100 000 accounts).
 */
export type AccountKey = number & { readonly accountKey: unique symbol };

export function accountKey(type: AccountType, id: number): AccountKey {
  return (id * 2 + (type === 'peering' ? 1 : 0)) as AccountKey;
}

/** "subscriber 123" / "peering 7", for logs. */
export function describeAccountKey(key: AccountKey): string {
  const peering = Math.abs(key % 2) === 1;
  return `${peering ? 'peering' : 'subscriber'} ${(key - (peering ? 1 : 0)) / 2}`;
}

export interface AccountData {
  /** As provisioned; may be user@domain with username_with_domain. */
  user: string;
  password: string;
  realm: string;
  /** Explicit contact (DB column with db_read_contact, or DI argument); '' = default. */
  contact: string;
  /** auth_user as provisioned; '' or 'NULL' = the user (see authUserOf). */
  authUser: string;
}

/** What the contact and identity rules need from the configuration. */
export interface IdentityRules {
  usernameWithDomain: boolean;
  /** contact_hostport, or '' */
  contactHostport: string;
  /** host:port of the local interface (public_ip or sip_ip, and sip_port). */
  localHostport: string;
  expires: number;
  outboundProxy: string;
}

/** The user part for From/To/Contact: with username_with_domain, everything from the first '@' is dropped (as SEMS does). */
export function identityUser(user: string, usernameWithDomain: boolean): string {
  if (!usernameWithDomain) return user;
  const at = user.indexOf('@');
  return at < 0 ? user : user.slice(0, at);
}

/**
 * auth_user values that mean "same as user" (SPEC §5b), from a DI call and from the
 * query alike: SEMS reads a NULL column as the text "NULL", and scripts send it so.
 */
const NO_AUTH_USER: ReadonlySet<string> = new Set(['', 'NULL']);

/** Digest user: auth_user if provisioned, else the user column as it is (with its domain). */
export function authUserOf(account: AccountData): string {
  return NO_AUTH_USER.has(account.authUser) ? account.user : account.authUser;
}

/**
 * Contact precedence: explicit > sip:user@contact_hostport > sip:user@local address. The
 * explicit one is a URI as provisioned; the user goes into the default one escaped (RFC 3261 §25.1).
 */
export function contactOf(account: AccountData, rules: IdentityRules): string {
  if (account.contact !== '') return account.contact;
  const user = escapeUserPart(identityUser(account.user, rules.usernameWithDomain));
  return `sip:${user}@${rules.contactHostport || rules.localHostport}`;
}

export function registrationParams(account: AccountData, rules: IdentityRules): RegistrationParams {
  return {
    user: identityUser(account.user, rules.usernameWithDomain),
    domain: account.realm,
    authUser: authUserOf(account),
    password: account.password,
    contact: contactOf(account, rules),
    expires: rules.expires,
    outboundProxy: rules.outboundProxy || undefined,
  };
}

/**
 * updateRegistration re-registers at once when what is registered or how it
 * authenticates changed (SPEC §5b: user, realm, auth user, password or contact).
 */
export function needsReregister(before: AccountData, after: AccountData): boolean {
  return (
    before.user !== after.user ||
    before.realm !== after.realm ||
    authUserOf(before) !== authUserOf(after) ||
    before.password !== after.password ||
    before.contact !== after.contact
  );
}

/** Call-ID and From tag are renewed when the identity (user or realm) changes (SPEC §4). */
export function identityChanged(before: AccountData, after: AccountData): boolean {
  return before.user !== after.user || before.realm !== after.realm;
}
