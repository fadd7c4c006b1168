/**
 * Helpers for the registration-engine integration tests (test/integration/agent-*):
 * reading the registrations table relative to the DB clock, polling with deadlines,
 * DI calls over XML-RPC, the daemon's bindings at Kamailio, REGISTERs seen by sipp.
 */
import { createClient } from 'xmlrpc';
import type { RunningDaemon } from './daemon';
import type { KamailioHandle, LocationRow } from './kamailio';
import type { TestDatabase } from './mariadb';
import { cseqNumber, headerParam, type SipMessage } from './sip-message';
import type { SippHandle, SippTraceEntry } from './sipp';

export const RegStatus = { INACTIVE: 0, PENDING: 1, ACTIVE: 2, FAILED: 3, REMOVED: 4, TO_BE_REMOVED: 5 } as const;

/** A registrations row, with its times as whole seconds relative to the DB's NOW(). */
export interface RegRow {
  subscriber_id: number;
  registration_status: number;
  last_code: number | null;
  last_reason: string | null;
  last_registration: string | null;
  expiry: string | null;
  contacts: string | null;
  /** expiry − NOW() */
  expires_in: number | null;
  /** NOW() − last_registration */
  registered_ago: number | null;
}

const ROW_SQL = 'SELECT *, TIMESTAMPDIFF(SECOND, NOW(), expiry) AS expires_in, '
  + 'TIMESTAMPDIFF(SECOND, last_registration, NOW()) AS registered_ago FROM registrations';

export async function registrationRows(db: TestDatabase): Promise<RegRow[]> {
  return db.query<RegRow>(`${ROW_SQL} ORDER BY subscriber_id`);
}

export async function registrationRow(db: TestDatabase, id: number): Promise<RegRow | undefined> {
  const [row] = await db.query<RegRow>(`${ROW_SQL} WHERE subscriber_id = ?`, [id]);
  return row;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `probe` until `ok` holds; throws with the last value after `timeoutMs`. */
export async function waitFor<T>(
  what: string, probe: () => Promise<T> | T, ok: (value: T) => boolean, timeoutMs = 15_000, pollMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = await probe();
  while (!ok(last)) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${JSON.stringify(last)}`);
    await sleep(pollMs);
    last = await probe();
  }
  return last;
}

/** Waits until the row of `id` satisfies `ok` (undefined = no row). */
export function waitForRow(
  db: TestDatabase, id: number, what: string, ok: (row: RegRow | undefined) => boolean, timeoutMs = 15_000,
): Promise<RegRow | undefined> {
  return waitFor(`row ${id}: ${what}`, () => registrationRow(db, id), ok, timeoutMs);
}

/** Waits for a final reply stored for `id` with this status; returns the row. */
export async function waitForStatus(db: TestDatabase, id: number, status: number, timeoutMs = 15_000): Promise<RegRow> {
  const row = await waitForRow(db, id, `status ${status}`, (r) => r?.registration_status === status && r.last_code !== null, timeoutMs);
  return row as RegRow;
}

/** A DI call through xmlrpc2di's `di` method, as the provisioning scripts make it. */
export function di(daemon: RunningDaemon, fn: string, ...args: unknown[]): Promise<unknown> {
  const client = createClient({ host: '127.0.0.1', port: daemon.xmlrpcPort, path: '/' });
  return new Promise((resolve, reject) => {
    client.methodCall('di', ['db_reg_agent', fn, ...args], (err, value) => (err ? reject(err) : resolve(value)));
  });
}

/** The Contact the daemon registers for `user` by default. */
export function defaultContact(daemon: RunningDaemon, user: string): string {
  return `sip:${user}@127.0.0.1:${daemon.sipPort}`;
}

/** This daemon's bindings for `user` (earlier tests' daemons leave theirs behind, as they should). */
export async function ourBindings(kam: KamailioHandle, daemon: RunningDaemon, user: string): Promise<LocationRow[]> {
  const contact = defaultContact(daemon, user);
  return (await kam.locations({ username: user })).filter((b) => b.contact === contact);
}

/** Waits until exactly one binding of ours for `user` satisfies `ok`; returns it. */
export async function waitForBinding(
  kam: KamailioHandle, daemon: RunningDaemon, user: string, what: string,
  ok: (binding: LocationRow) => boolean = () => true, timeoutMs = 15_000,
): Promise<LocationRow> {
  const rows = await waitFor(`${user}'s binding: ${what}`, () => ourBindings(kam, daemon, user),
    (b) => b.length === 1 && ok(b[0] as LocationRow), timeoutMs);
  return rows[0] as LocationRow;
}

/** Fields of a binding that change whenever a REGISTER for it is accepted. */
export function bindingStamp(b: LocationRow): { callId: string; cseq: number; lastModified: number } {
  return { callId: b.callId, cseq: b.cseq, lastModified: b.lastModified.getTime() };
}

// ----- sipp traces ---------------------------------------------------------------------

/** First copies of the REGISTERs sipp received (retransmissions dropped), in order. */
export function registers(peer: SippHandle): SippTraceEntry[] {
  return peer.transactions().filter((t) => t.method === 'REGISTER').map((t) => t.first);
}

/** Waits for at least `count` distinct REGISTER transactions at sipp. */
export async function waitForRegisters(peer: SippHandle, count: number, timeoutMs = 15_000): Promise<SippTraceEntry[]> {
  return waitFor(`${count} REGISTERs at sipp ${peer.scenario}`, () => registers(peer), (r) => r.length >= count, timeoutMs, 20);
}

export interface RegisterSummary {
  callId: string;
  fromTag: string | undefined;
  cseq: number;
  expires: string | undefined;
  contact: string | undefined;
  contactExpires: string | undefined;
  authorized: boolean;
  at: number;
}

/** The parts of a REGISTER these tests look at. */
export function summarize(entry: SippTraceEntry): RegisterSummary {
  const m: SipMessage = entry.message;
  const contact = m.header('Contact');
  return {
    callId: m.header('Call-ID') ?? '',
    fromTag: headerParam(m.header('From'), 'tag'),
    cseq: cseqNumber(m),
    expires: m.header('Expires'),
    contact,
    contactExpires: headerParam(contact, 'expires'),
    authorized: m.header('Authorization') !== undefined,
    at: entry.at,
  };
}

// ----- diagnostics ---------------------------------------------------------------------

/** On a failed test, the daemon's log tail helps more than the assertion alone. */
export function printDaemonLogOnFailure(test: Mocha.Test | undefined, daemon: RunningDaemon | undefined): void {
  if (test?.state !== 'failed' || !daemon) return;
  process.stderr.write(`\n----- daemon log (${test.title}) -----\n${daemon.log().slice(-8000)}\n-----\n`);
}

/** afterEach of a test with one daemon: its log if the test failed, then stop it and remove its folder. */
export async function endDaemon(test: Mocha.Test | undefined, daemon: RunningDaemon | undefined): Promise<void> {
  printDaemonLogOnFailure(test, daemon);
  await daemon?.stop();
  daemon?.cleanup();
}
