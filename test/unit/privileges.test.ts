import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { PrivilegeError, resolveRunAs } from '../../src/process/privileges';

const idOf = (...args: string[]): number => Number(execFileSync('id', args, { encoding: 'utf8' }).trim());

describe('user and group to run as (-u / -g, daemon_uid / daemon_gid)', () => {
  it('looks names up in the system databases and takes numbers as ids, like SEMS', () => {
    assert.deepEqual(resolveRunAs({ value: 'nobody', from: '-u' }, { value: 'root', from: '-g' }), {
      uid: idOf('-u', 'nobody'), gid: 0, userGid: idOf('-g', 'nobody'),
    });
    assert.deepEqual(resolveRunAs({ value: '4321', from: '-u' }, { value: '99', from: '-g' }), { uid: 4321, gid: 99, userGid: undefined });
    assert.deepEqual(resolveRunAs(undefined, undefined), { uid: undefined, gid: undefined, userGid: undefined });
  });

  it('names the flag or key of an unknown user or group', () => {
    assert.throws(
      () => resolveRunAs({ value: 'no-such-user-dra', from: '-u' }, undefined),
      (e: Error) => e instanceof PrivilegeError && e.message === "-u: unknown user 'no-such-user-dra'",
    );
    assert.throws(
      () => resolveRunAs(undefined, { value: 'no-such-group-dra', from: "sems.conf: 'daemon_gid'" }),
      /^PrivilegeError: sems\.conf: 'daemon_gid': unknown group 'no-such-group-dra'$/,
    );
  });
});
