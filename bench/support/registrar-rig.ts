/**
 * What every benchmark run stands on: a Kamailio registrar and a fresh test database
 * holding the same N accounts (realm = the registrar's host:port), torn down with the
 * run's Teardown.
 *
 * Two registrar profiles (BENCH_REGISTRAR):
 * - `production` (default): usrloc `db_mode` 1, every binding written through to the
 *   location table (Kamailio's own database on the local MariaDB) before the 200 goes
 *   out; a location hash table sized for the bindings (usrlocHashSize); a per-account
 *   REGISTER counter in `htable`; 8 UDP workers, as each blocks on its INSERT. Digest auth with qop=auth against `auth_db`, as in both profiles.
 * - `lean`: the rig before issue 15, kept for its history figures: `db_mode` 2
 *   write-back with no flush during the run, no accounting, 4 workers.
 * Either can add a WAN-like delay (BENCH_TRANSACTION_DELAY_MS=min-max): each REGISTER
 * transaction stays open that long at the registrar (KamailioOptions.transactionDelayMs).
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

/**
 * usrloc's hash_size for `bindings`: about 8 bindings per slot, as a registrar sized for
 * its subscribers is configured (Kamailio's default of 2^10 slots would leave 1 000
 * bindings per slot at 1 000 000, each REGISTER walking them).
 */
export function usrlocHashSize(bindings: number): number {
  return Math.min(20, Math.max(10, Math.ceil(Math.log2(Math.max(1, bindings) / 8))));
}

export const REGISTRAR_PROFILES = ['production', 'lean'] as const;
export type RegistrarProfile = (typeof REGISTRAR_PROFILES)[number];

export function parseRegistrarProfile(name: string, text: string | undefined): RegistrarProfile {
  if (text === undefined) return 'production';
  const profile = REGISTRAR_PROFILES.find((p) => p === text);
  if (!profile) throw new Error(`${name}=${text}: expected one of ${REGISTRAR_PROFILES.join(', ')}`);
  return profile;
}

/** BENCH_TRANSACTION_DELAY_MS="50-100": [min, max] ms; undefined when unset. */
export function parseTransactionDelay(name: string, text: string | undefined): [number, number] | undefined {
  if (text === undefined) return undefined;
  const match = /^(\d+)-(\d+)$/.exec(text);
  const range = match ? [Number(match[1]), Number(match[2])] as [number, number] : undefined;
  if (!range || range[1] < range[0]) throw new Error(`${name}=${text}: expected <min ms>-<max ms>, e.g. 50-100`);
  return range;
}

export interface RegistrarSetup {
  profile: RegistrarProfile;
  transactionDelayMs?: [number, number];
}

/**
 * Shared memory for the WAN case's transactions on top of the bindings: each held
 * REGISTER is a transaction (a shared-memory clone of the request, its reply, and the
 * async task), kept until tm's wait timer (5 s) after its reply, so thousands a second
 * stay allocated. With the bindings' sizing alone Kamailio ran out at 10 000 accounts
 * ("Free fragment not found", 500 replies).
 */
const TRANSACTION_SHARED_MEMORY_MB = 512;

/** What the profile and the delay make of Kamailio's options, for `bindings` bindings. */
export function registrarOptions(setup: RegistrarSetup, bindings: number): KamailioOptions {
  const options = profileOptions(setup, bindings);
  if (!setup.transactionDelayMs) return options;
  return { ...options, sharedMemoryMb: (options.sharedMemoryMb ?? 128) + TRANSACTION_SHARED_MEMORY_MB };
}

function profileOptions(setup: RegistrarSetup, bindings: number): KamailioOptions {
  const common: KamailioOptions = {
    tls: false,
    logLevel: 1, // level 2 logs a line per challenge: one per account
    ...(setup.transactionDelayMs ? { transactionDelayMs: setup.transactionDelayMs, asyncWorkers: 8 } : {}),
  };
  if (setup.profile === 'lean') {
    return {
      ...common,
      usrlocDbMode: 2, // write-back: the registrar's fastest mode
      // No usrloc flush during a run: the DB statement counters then show the daemon's
      // writes, not Kamailio's location table (db_mode 2 flushes every timer_interval).
      usrlocTimerInterval: 3600,
      children: 4,
      sharedMemoryMb: kamailioMemoryMb(bindings),
    };
  }
  return {
    ...common,
    usrlocDbMode: 1, // write-through: the location row is INSERTed before the 200
    usrlocTimerInterval: 60, // purges expired rows only; nothing expires during a run
    usrlocHashSize: usrlocHashSize(bindings),
    accounting: true,
    children: 8,
    // an htable item per address of record (~0.2 kB with its key) on top of the bindings
    sharedMemoryMb: kamailioMemoryMb(bindings) + Math.ceil((bindings * 0.2) / 1024),
  };
}

export async function startRegistrarRig(
  size: number, teardown: Teardown, setup: RegistrarSetup, kamailio: KamailioOptions = {},
): Promise<RegistrarRig> {
  const accounts = benchAccounts(size);
  // 2 × size bindings: the daemon's and sipp's
  const kam = await startKamailio({ ...registrarOptions(setup, 2 * size), ...kamailio });
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
