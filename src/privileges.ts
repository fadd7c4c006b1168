/**
 * The user and group to run as (-u / -g, or daemon_uid / daemon_gid in sems.conf).
 * Names are looked up at start-up, before the database or the network is touched, so
 * a typo is one line and a non-zero exit instead of a failure after SIP traffic began.
 */
import { execFileSync } from 'node:child_process';

export interface RunAs {
  uid?: number;
  gid?: number;
}

/** A requested user or group and where it was given (`-u`, `daemon_uid`, …) for messages. */
export interface Requested {
  value: string;
  from: string;
}

export class PrivilegeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PrivilegeError';
  }
}

/** As SEMS: a number is taken as an id; a name goes through the system's databases. */
export function resolveRunAs(user: Requested | undefined, group: Requested | undefined): RunAs {
  return {
    uid: user && resolveId('passwd', 'user', user),
    gid: group && resolveId('group', 'group', group),
  };
}

/** After the sockets are bound (SPEC §1): group first, while we still may. */
export function dropPrivileges(runAs: RunAs): void {
  try {
    if (runAs.gid !== undefined) process.setgid?.(runAs.gid);
    if (runAs.uid !== undefined) process.setuid?.(runAs.uid);
  } catch (err) {
    throw new Error(`cannot switch to uid ${runAs.uid ?? '-'} gid ${runAs.gid ?? '-'}: ${(err as Error).message}`, { cause: err });
  }
}

function resolveId(database: 'passwd' | 'group', what: string, requested: Requested): number {
  const { value, from } = requested;
  if (/^\d+$/.test(value)) return Number(value);
  // getent rather than reading /etc/passwd: users from LDAP or other NSS sources count too.
  let entry: string;
  try {
    entry = execFileSync('getent', [database, value], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { status?: number };
    if (e.status === 2) throw new PrivilegeError(`${from}: unknown ${what} '${value}'`);
    throw new PrivilegeError(`${from}: cannot look up ${what} '${value}': ${e.message}`);
  }
  const id = entry.split(':')[2];
  if (id === undefined || !/^\d+$/.test(id)) throw new PrivilegeError(`${from}: unreadable ${database} entry for '${value}'`);
  return Number(id);
}
