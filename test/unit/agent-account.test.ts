import assert from 'node:assert/strict';
import {
  accountKey, contactOf, describeAccountKey, identityChanged, needsReregister, registrationParams, type AccountData, type IdentityRules,
} from '../../src/agent/account';

const RULES: IdentityRules = {
  usernameWithDomain: false, contactHostport: '', localHostport: '127.0.0.1:5080', expires: 3600, outboundProxy: '',
};
const ALICE: AccountData = { user: 'alice', password: 'pw', realm: 'example.org', contact: '', authUser: '' };

describe('account rules', () => {
  it('keys subscribers and peerings apart, one number per (type, id), and reads back for logs', () => {
    const keys = new Set<number>();
    for (const id of [0, 1, 2, 7, 8, 2 ** 31, -3]) for (const type of ['subscriber', 'peering'] as const) keys.add(accountKey(type, id));
    assert.equal(keys.size, 14);
    assert.equal(describeAccountKey(accountKey('subscriber', 7)), 'subscriber 7');
    assert.equal(describeAccountKey(accountKey('peering', 2 ** 31)), 'peering 2147483648');
    assert.equal(describeAccountKey(accountKey('peering', -3)), 'peering -3');
  });

  it('default contact is sip:user@<local address> (README, not the sipwise user-less contact)', () => {
    assert.equal(contactOf(ALICE, RULES), 'sip:alice@127.0.0.1:5080');
  });

  it('contact_hostport overrides the host part; an explicit contact wins over both', () => {
    assert.equal(contactOf(ALICE, { ...RULES, contactHostport: '10.0.0.50:5080' }), 'sip:alice@10.0.0.50:5080');
    assert.equal(contactOf({ ...ALICE, contact: 'sip:x@1.2.3.4;transport=tcp' }, { ...RULES, contactHostport: 'h:1' }), 'sip:x@1.2.3.4;transport=tcp');
  });

  it('the default contact carries the user escaped (RFC 3261 §25.1); an explicit one is a URI already and stays as it is', () => {
    assert.equal(contactOf({ ...ALICE, user: 'a"b c' }, RULES), 'sip:a%22b%20c@127.0.0.1:5080');
    assert.equal(contactOf({ ...ALICE, user: 'jürgen@example.org' }, { ...RULES, usernameWithDomain: true }), 'sip:jürgen@127.0.0.1:5080');
    assert.equal(contactOf({ ...ALICE, contact: 'sip:a%22b@1.2.3.4' }, RULES), 'sip:a%22b@1.2.3.4');
  });

  it('username_with_domain strips the domain for identity and keeps it for auth', () => {
    const p = registrationParams({ ...ALICE, user: 'alice@example.org' }, { ...RULES, usernameWithDomain: true });
    assert.equal(p.user, 'alice');
    assert.equal(p.authUser, 'alice@example.org');
    assert.equal(p.contact, 'sip:alice@127.0.0.1:5080');
  });

  it("username_with_domain cuts at the first '@' (SEMS), the auth user stays whole", () => {
    const p = registrationParams({ ...ALICE, user: 'alice@corp@example.org' }, { ...RULES, usernameWithDomain: true });
    assert.equal(p.user, 'alice');
    assert.equal(p.contact, 'sip:alice@127.0.0.1:5080');
    assert.equal(p.authUser, 'alice@corp@example.org');
  });

  it('without username_with_domain the user is taken as is', () => {
    const p = registrationParams({ ...ALICE, user: 'alice@example.org' }, RULES);
    assert.equal(p.user, 'alice@example.org');
  });

  it('an explicit auth_user is the digest user; empty or the text NULL means the user (SEMS)', () => {
    assert.equal(registrationParams({ ...ALICE, authUser: 'auth-1' }, RULES).authUser, 'auth-1');
    assert.equal(registrationParams(ALICE, RULES).authUser, 'alice');
    assert.equal(registrationParams({ ...ALICE, authUser: 'NULL' }, RULES).authUser, 'alice');
    assert.equal(registrationParams({ ...ALICE, authUser: 'null' }, RULES).authUser, 'null', 'only the exact text, as SEMS compares it');
  });

  it('passes expires and the outbound proxy', () => {
    const p = registrationParams(ALICE, { ...RULES, outboundProxy: 'sip:127.0.0.9:5070' });
    assert.equal(p.expires, 3600);
    assert.equal(p.outboundProxy, 'sip:127.0.0.9:5070');
    assert.equal(registrationParams(ALICE, RULES).outboundProxy, undefined);
  });

  it('re-registers on a change of user, realm, auth user, password or contact — not otherwise', () => {
    assert.equal(needsReregister(ALICE, { ...ALICE }), false);
    for (const change of [{ user: 'bob' }, { realm: 'other.org' }, { authUser: 'x' }, { password: 'new' }, { contact: 'sip:c@h' }]) {
      assert.equal(needsReregister(ALICE, { ...ALICE, ...change }), true, JSON.stringify(change));
    }
    assert.equal(needsReregister(ALICE, { ...ALICE, authUser: 'alice' }), false, 'explicit auth user equal to the user');
    assert.equal(needsReregister(ALICE, { ...ALICE, authUser: 'NULL' }), false, 'NULL is the same as no auth user');
  });

  it('renews dialog identifiers only when user or realm change', () => {
    assert.equal(identityChanged(ALICE, { ...ALICE, password: 'new' }), false);
    assert.equal(identityChanged(ALICE, { ...ALICE, realm: 'r2' }), true);
  });
});
