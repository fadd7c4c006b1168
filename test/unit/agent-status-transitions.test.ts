import assert from 'node:assert/strict';
import { EXPIRED, expiredWrites, RegStatus, transition, type StatusPolicy } from '../../src/agent/status-transitions';
import type { RegistrationOutcome } from '../../src/sip/registration-client';

const POLICY: StatusPolicy = {
  saveContacts: true,
  saveAuthReplies: false,
  deleteRemovedRegistrations: true,
  deleteFailedDeregistrations: false,
};

const ok = (extra: Partial<RegistrationOutcome> = {}): RegistrationOutcome => ({
  code: 200, reason: 'OK', sent: true, grantedExpires: 60, contacts: '<sip:a@127.0.0.1:5080>;expires=60', retransmissions: 0, ...extra,
});
const failed = (code: number, reason: string, extra: Partial<RegistrationOutcome> = {}): RegistrationOutcome => ({
  code, reason, sent: true, retransmissions: 0, ...extra,
});
const unsent: RegistrationOutcome = { code: 480, reason: 'no route', sent: false, retransmissions: 0 };
const invalid: RegistrationOutcome = {
  code: 480, reason: 'unable to send request: user contains a line break', sent: false, retransmissions: 0, invalid: true,
};

describe('status transitions (SPEC §3)', () => {
  describe('REGISTER', () => {
    it('2xx → ACTIVE with last_registration/expiry from the granted expires, contacts, refresh', () => {
      assert.deepEqual(transition('register', ok(), POLICY), {
        writes: [{ kind: 'update', update: { lastCode: 200, lastReason: 'OK', status: RegStatus.Active, registered: { grantedSeconds: 60 },
          contacts: '<sip:a@127.0.0.1:5080>;expires=60',
        } }],
        next: { kind: 'refresh', grantedExpires: 60 },
      });
    });

    it('2xx with save_contacts=no leaves contacts alone', () => {
      const t = transition('register', ok(), { ...POLICY, saveContacts: false });
      const w = t.writes[0];
      assert.ok(w?.kind === 'update');
      assert.equal(w.update.contacts, undefined);
    });

    it('2xx without our Contact → FAILED with a reason saying so, retry (no loop)', () => {
      const t = transition('register', ok({ contactMissing: true, grantedExpires: undefined, contacts: '<sip:other@h>' }), POLICY);
      assert.deepEqual(t.next, { kind: 'retry' });
      assert.equal(t.writes.length, 1);
      const w = t.writes[0];
      assert.ok(w?.kind === 'update');
      assert.equal(w.update.status, RegStatus.Failed);
      assert.equal(w.update.lastCode, 200);
      assert.match(w.update.lastReason, /Contact is missing/);
      assert.equal(w.update.registered, undefined);
      assert.equal(w.update.contacts, '<sip:other@h>');
    });

    it('>= 300 → FAILED, contacts emptied, retry', () => {
      assert.deepEqual(transition('register', failed(403, 'Forbidden'), POLICY), {
        writes: [{ kind: 'update', update: { lastCode: 403, lastReason: 'Forbidden', status: RegStatus.Failed, contacts: '' } }],
        next: { kind: 'retry' },
      });
    });

    it('no answer (local 408) → FAILED 408 Timeout, retry', () => {
      const t = transition('register', failed(408, 'Timeout', { retransmissions: 10 }), POLICY);
      assert.deepEqual(t.writes, [{ kind: 'update', update: { lastCode: 408, lastReason: 'Timeout', status: RegStatus.Failed, contacts: '' } }]);
      assert.deepEqual(t.next, { kind: 'retry' });
    });

    it('not sendable → FAILED 480 "unable to send request", contacts untouched, retry', () => {
      assert.deepEqual(transition('register', unsent, POLICY), {
        writes: [{ kind: 'update', update: { lastCode: 480, lastReason: 'unable to send request', status: RegStatus.Failed } }],
        next: { kind: 'retry' },
      });
    });

    it('invalid account data → FAILED 480 with the reason naming the field, contacts untouched, no retry (it would be refused again)', () => {
      assert.deepEqual(transition('register', invalid, POLICY), {
        writes: [{ kind: 'update', update: { lastCode: 480, lastReason: 'unable to send request: user contains a line break', status: RegStatus.Failed } }],
        next: { kind: 'keep' },
      });
    });

    it('the answered 401 is not stored unless save_auth_replies=yes', () => {
      const o = failed(401, 'Unauthorized', { challenge: { code: 401, reason: 'Unauthorized' } });
      assert.equal(transition('register', o, POLICY).writes.length, 1);
      const t = transition('register', o, { ...POLICY, saveAuthReplies: true });
      assert.equal(t.writes.length, 2);
      assert.deepEqual(t.writes[0], { kind: 'update', update: { lastCode: 401, lastReason: 'Unauthorized', contacts: '' } });
      assert.ok(t.writes[1]?.kind === 'update' && t.writes[1].update.status === RegStatus.Failed);
    });

    it('save_auth_replies stores the 407 before the final 2xx, without a status', () => {
      const t = transition('register', ok({ challenge: { code: 407, reason: 'Proxy Authentication Required' } }), { ...POLICY, saveAuthReplies: true });
      assert.deepEqual(t.writes.map((w) => (w.kind === 'update' ? [w.update.lastCode, w.update.status] : [w.kind])), [
        [407, undefined],
        [200, RegStatus.Active],
      ]);
    });
  });

  describe('de-REGISTER', () => {
    it('2xx → row deleted (delete_removed_registrations=yes)', () => {
      assert.deepEqual(transition('deregister', ok({ contacts: '' }), POLICY), {
        writes: [{ kind: 'remove' }], next: { kind: 'forget' },
      });
    });

    it('2xx → REMOVED (delete_removed_registrations=no)', () => {
      const t = transition('deregister', ok({ contacts: '' }), { ...POLICY, deleteRemovedRegistrations: false });
      assert.deepEqual(t.writes, [{ kind: 'update', update: { lastCode: 200, lastReason: 'OK', status: RegStatus.Removed, contacts: '' } }]);
      assert.deepEqual(t.next, { kind: 'forget' });
    });

    it('>= 300 → TO_BE_REMOVED', () => {
      const t = transition('deregister', failed(500, 'Server Internal Error'), POLICY);
      assert.deepEqual(t.writes, [{ kind: 'update', update: { lastCode: 500, lastReason: 'Server Internal Error', status: RegStatus.ToBeRemoved, contacts: '' } }]);
      assert.deepEqual(t.next, { kind: 'forget' });
    });

    it('>= 300 → deleted with delete_failed_deregistrations', () => {
      const t = transition('deregister', failed(408, 'Timeout'), { ...POLICY, deleteFailedDeregistrations: true });
      assert.deepEqual(t.writes, [{ kind: 'remove' }]);
      assert.deepEqual(t.next, { kind: 'forget' });
    });

    it('not sendable → TO_BE_REMOVED with 480, or deleted with delete_failed_deregistrations; the account is kept (SEMS)', () => {
      assert.deepEqual(transition('deregister', unsent, POLICY), {
        writes: [
          { kind: 'update', update: { lastCode: 480, lastReason: 'unable to send request', status: RegStatus.ToBeRemoved, contacts: undefined } },
        ],
        next: { kind: 'keep' },
      });
      assert.deepEqual(transition('deregister', unsent, { ...POLICY, deleteFailedDeregistrations: true }), {
        writes: [{ kind: 'remove' }], next: { kind: 'keep' },
      });
    });
  });

  it('de-REGISTER with invalid account data: as one not sendable (TO_BE_REMOVED or deleted, account kept), with the reason', () => {
    assert.deepEqual(transition('deregister', invalid, POLICY), {
      writes: [{
        kind: 'update',
        update: { lastCode: 480, lastReason: 'unable to send request: user contains a line break', status: RegStatus.ToBeRemoved, contacts: undefined },
      }],
      next: { kind: 'keep' },
    });
    assert.deepEqual(transition('deregister', invalid, { ...POLICY, deleteFailedDeregistrations: true }), {
      writes: [{ kind: 'remove' }], next: { kind: 'keep' },
    });
  });

  it('stopping before anything was sent (aborted): no write and nothing planned, whatever the request and the policy', () => {
    const aborted: RegistrationOutcome = { code: 0, reason: 'not sent: stopping', sent: false, retransmissions: 0, aborted: true };
    const keepEverything = { ...POLICY, saveAuthReplies: true, deleteFailedDeregistrations: true };
    for (const op of ['register', 'deregister'] as const) {
      for (const policy of [POLICY, keepEverything]) {
        assert.deepEqual(transition(op, aborted, policy), { writes: [], next: { kind: 'keep' } }, `${op} ${JSON.stringify(policy)}`);
      }
    }
  });
  describe('expiry without a successful refresh', () => {
    it('FAILED 408 with a reason saying whether the request was sent; contacts emptied only with save_contacts', () => {
      assert.deepEqual(expiredWrites(true, POLICY), [{ kind: 'update', update: {
        lastCode: 408, lastReason: EXPIRED.unanswered, status: RegStatus.Failed, contacts: '',
      } }]);
      assert.deepEqual(expiredWrites(false, { ...POLICY, saveContacts: false }), [{ kind: 'update', update: {
        lastCode: 408, lastReason: EXPIRED.queued, status: RegStatus.Failed, contacts: undefined,
      } }]);
      assert.notEqual(EXPIRED.unanswered, EXPIRED.queued);
    });
  });
});
