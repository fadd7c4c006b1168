/**
 * The user and group to run as (-u / -g, or daemon_uid / daemon_gid in sems.conf).
 * Names are looked up at start-up, before the database or the network is touched, so
 * a typo is one line and a non-zero exit instead of a failure after SIP traffic began.
 */
import { execFileSync } from 'node:child_process';

export interface RunAs {
  uid?: number;
  gid?: number;
  /** The user's primary group, when the system knows the user (the group used without -g). */
  userGid?: number;
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
  const passwd = user && lookUp('passwd', 'user', user);
  const groupEntry = group && lookUp('group', 'group', group);
  return {
    uid: user && (passwd ? idField(passwd, 2, 'passwd', user) : Number(user.value)),
    gid: group && (groupEntry ? idField(groupEntry, 2, 'group', group) : Number(group.value)),
    userGid: user && passwd ? idField(passwd, 3, 'passwd', user) : undefined,
  };
}

/**
 * After the sockets are bound (SPEC §1): the groups first, while we still may. Root's
 * supplementary groups (gid 0 among them) are replaced by the user's own (initgroups),
 * and without -g the user's primary group is taken instead of keeping root's.
 */
export function dropPrivileges(runAs: RunAs): void {
  const gid = runAs.gid ?? runAs.userGid;
  try {
    if (runAs.uid !== undefined && runAs.userGid !== undefined && gid !== undefined) (process as WithInitgroups).initgroups?.(runAs.uid, gid);
    else if (gid !== undefined || runAs.uid !== undefined) process.setgroups?.(gid === undefined ? [] : [gid]);
    if (gid !== undefined) process.setgid?.(gid);
    if (runAs.uid !== undefined) process.setuid?.(runAs.uid);
  } catch (err) {
    throw new Error(`cannot switch to uid ${runAs.uid ?? '-'} gid ${gid ?? '-'}: ${(err as Error).message}`, { cause: err });
  }
}

/** Node has process.initgroups on POSIX systems; @types/node does not declare it. */
type WithInitgroups = NodeJS.Process & { initgroups?: (user: number | string, extraGroup: number | string) => void };

/**
 * The entry's fields (name:password:id:…), looked up with getent rather than read from
 * /etc/passwd, so users from LDAP or other NSS sources count too. undefined for a number
 * the system does not know: SEMS takes any number as an id.
 */
function lookUp(database: 'passwd' | 'group', what: string, requested: Requested): string[] | undefined {
  const { value, from } = requested;
  try {
    return execFileSync('getent', [database, value], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split(':');
  } catch (err) {
    if (/^\d+$/.test(value)) return undefined;
    const e = err as NodeJS.ErrnoException & { status?: number };
    if (e.status === 2) throw new PrivilegeError(`${from}: unknown ${what} '${value}'`);
    throw new PrivilegeError(`${from}: cannot look up ${what} '${value}': ${e.message}`);
  }
}

function idField(fields: string[], index: number, database: string, requested: Requested): number {
  const id = fields[index];
  if (id === undefined || !/^\d+$/.test(id)) throw new PrivilegeError(`${requested.from}: unreadable ${database} entry for '${requested.value}'`);
  return Number(id);
}
