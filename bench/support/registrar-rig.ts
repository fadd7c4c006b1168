/**
 * What every benchmark run stands on: a Kamailio registrar and a fresh test database
 * holding the same N accounts (realm = the registrar's host:port), torn down with the
 * run's Teardown.
 */
import { startKamailio, type KamailioHandle, type KamailioOptions } from '../../test/support/kamailio';
import { createTestDatabase, type TestDatabase } from '../../test/support/mariadb';
import type { SippAccount } from '../../test/support/sipp';
import type { Teardown } from './teardown';

export interface BenchAccount {
  id: number;
  user: string;
  password: string;
}

export interface RegistrarRig {
  kam: KamailioHandle;
  db: TestDatabase;
  /** The subscribers' realm: where the daemon sends its REGISTERs. */
  realm: string;
  accounts: BenchAccount[];
}

export function benchAccounts(size: number): BenchAccount[] {
  return Array.from({ length: size }, (_, i) => ({ id: i + 1, user: `bench${i + 1}`, password: `pw-${i + 1}` }));
}

/**
 * Shared memory for `bindings` usrloc entries plus auth state: the harness's rule of
 * thumb is ~100 MB per 100 000 bindings; we allow 1.5 kB each on top of 128 MB.
 */
export function kamailioMemoryMb(bindings: number): number {
  return 128 + Math.ceil((bindings * 1.5) / 1024);
}

export async function startRegistrarRig(size: number, teardown: Teardown, kamailio: KamailioOptions = {}): Promise<RegistrarRig> {
  const accounts = benchAccounts(size);
  const kam = await startKamailio({
    tls: false,
    logLevel: 1, // level 2 logs a line per challenge: one per account
    usrlocDbMode: 2, // write-back: the registrar's fastest mode
    // No usrloc flush during a run: the DB statement counters then show the daemon's
    // writes, not Kamailio's location table (db_mode 2 flushes every timer_interval).
    usrlocTimerInterval: 3600,
    children: 4,
    sharedMemoryMb: kamailioMemoryMb(2 * size), // the daemon's bindings and sipp's
    ...kamailio,
  });
  teardown.add('stop Kamailio', () => kam.stop());
  await kam.addSubscribers(accounts.map(({ user, password }) => ({ user, password })));

  const db = await createTestDatabase({ schema: 'readme' });
  teardown.add(`drop ${db.name}`, () => db.drop());
  const realm = kam.hostPort('udp');
  await db.insert('subscribers', accounts.map((a) => ({ subscriber_id: a.id, user: a.user, pass: a.password, realm, contact: '' })));
  return { kam, db, realm, accounts };
}

/**
 * Accounts for sipp's run against the same registrar: `sipp<N>` beside the daemon's
 * `bench<N>`, same passwords and realm. Each client then registers N addresses of
 * record new to the registrar. Had sipp registered the daemon's accounts first, each
 * of the daemon's REGISTERs would add a second binding to an existing record, which
 * costs Kamailio more and makes every 200 list two Contacts.
 */
export async function addSippAccounts(rig: RegistrarRig): Promise<SippAccount[]> {
  const sippAccounts = rig.accounts.map((a) => ({ user: `sipp${a.id}`, password: a.password, domain: rig.realm }));
  await rig.kam.addSubscribers(sippAccounts.map(({ user, password }) => ({ user, password })));
  return sippAccounts;
}
