import assert from 'node:assert/strict';
import { addressRegistration, MAX_CONTACT_LENGTH, MAX_VALUE_LENGTH, type RequestAddressing } from '../../src/sip/addressing';
import type { RegistrationParams } from '../../src/sip/registration-client';
import { escapeUserPart } from '../../src/sip/uri';

const ALICE: RegistrationParams = {
  user: 'alice', domain: 'example.com', authUser: 'alice', password: 'pw', contact: 'sip:alice@192.0.2.1:5060', expires: 600,
};

function addressed(extra: Partial<RegistrationParams>): RequestAddressing {
  const result = addressRegistration({ ...ALICE, ...extra });
  assert.ok(typeof result !== 'string', `refused: ${String(result)}`);
  return result;
}

const refusal = (extra: Partial<RegistrationParams>): string | RequestAddressing => addressRegistration({ ...ALICE, ...extra });

describe('registration addressing: account data on the wire', () => {
  it('builds the Request-URI from the realm and the address of record with the escaped user', () => {
    assert.deepEqual(addressed({}), { requestUri: 'sip:example.com', aor: 'sip:alice@example.com', route: undefined, transport: undefined });
    assert.equal(addressed({ user: 'a"b <c>' }).aor, 'sip:a%22b%20%3Cc%3E@example.com');
    assert.equal(addressed({ user: 'jürgen' }).aor, 'sip:jürgen@example.com');
    assert.equal(addressed({ user: 'jürgen <j>' }).aor, 'sip:jürgen%20%3Cj%3E@example.com');
    assert.deepEqual(addressed({ domain: '[2001:db8::1]:5070;transport=tcp' }).requestUri, 'sip:[2001:db8::1]:5070;transport=tcp');
  });

  it('takes the transport from the Contact and the Route from the outbound proxy (loose routing)', () => {
    const a = addressed({ contact: 'sip:alice@192.0.2.1:5060;transport=TCP', outboundProxy: 'sip:proxy.example.com' });
    assert.deepEqual([a.transport, a.route], ['TCP', ['sip:proxy.example.com;lr']]);
    assert.deepEqual(addressed({ outboundProxy: 'sip:p;lr' }).route, ['sip:p;lr']);
  });

  it('accepts what a quoted-string carries in the auth user (the digest code quotes it), and any password', () => {
    addressed({ authUser: 'a "quoted" \\ user <x>' });
    addressed({ authUser: 'jürgen' });
    addressed({ authUser: '' });
    addressed({ password: 'line\r\nbreak\0and "quotes"' });
    addressed({ password: 'p'.repeat(10_000) });
  });

  it('refuses an empty user or realm, naming it', () => {
    assert.equal(refusal({ user: '' }), 'user is empty');
    assert.equal(refusal({ domain: '' }), 'realm is empty');
    assert.equal(refusal({ contact: '' }), 'contact is empty');
  });

  it('refuses line breaks, NUL, tabs and other control characters in every field that goes on the wire', () => {
    for (const [field, key] of [['user', 'user'], ['auth user', 'authUser'], ['realm', 'domain'], ['contact', 'contact']] as const) {
      const value = ALICE[key];
      assert.equal(refusal({ [key]: `${value}\r\nX-Injected: 1` }), `${field} contains a line break`);
      assert.equal(refusal({ [key]: `${value}\n` }), `${field} contains a line break`);
      assert.equal(refusal({ [key]: `${value}\0` }), `${field} contains a control character (U+0000)`);
      assert.equal(refusal({ [key]: `${value}\t` }), `${field} contains a tab`);
      assert.equal(refusal({ [key]: `${value}\x7f` }), `${field} contains a control character (U+007F)`);
      assert.equal(refusal({ [key]: `${value}\ud800` }), `${field} is not valid Unicode (a lone surrogate)`);
    }
  });

  it(`refuses values longer than ${MAX_VALUE_LENGTH} characters, counted as characters (not bytes or UTF-16 units)`, () => {
    addressed({ user: 'u'.repeat(MAX_VALUE_LENGTH) });
    addressed({ user: '😀'.repeat(MAX_VALUE_LENGTH) });
    assert.equal(refusal({ user: 'u'.repeat(MAX_VALUE_LENGTH + 1) }), `user is longer than ${MAX_VALUE_LENGTH} characters`);
    assert.equal(refusal({ authUser: 'a'.repeat(MAX_VALUE_LENGTH + 1) }), `auth user is longer than ${MAX_VALUE_LENGTH} characters`);
    assert.equal(refusal({ domain: `${'d'.repeat(MAX_VALUE_LENGTH)}.com` }), `realm is longer than ${MAX_VALUE_LENGTH} characters`);
    // A contact is a URI: room for the default one of the longest user, escaped.
    const longestUser = '😀'.repeat(MAX_VALUE_LENGTH);
    addressed({ user: longestUser, contact: `sip:${escapeUserPart(longestUser)}@[2001:db8::1234:5678]:65535;transport=tls` });
    assert.equal(refusal({ contact: `sip:${'c'.repeat(MAX_CONTACT_LENGTH)}@h` }), `contact is longer than ${MAX_CONTACT_LENGTH} characters`);
  });

  it('refuses a realm that is no host[:port][;params], naming the first bad character', () => {
    assert.equal(refusal({ domain: 'example.com ' }), 'realm contains a space');
    assert.equal(refusal({ domain: 'exa"mple.com' }), `realm contains '"'`);
    assert.equal(refusal({ domain: 'exämple.com' }), 'realm contains a non-ASCII character');
    assert.equal(refusal({ domain: 'example.com%zz' }), "realm contains a '%' that starts no escape");
    for (const domain of ['user@example.com', 'example.com:99999', 'example.com?x=1', 'sip:example.com', '[::1', 'a/b']) {
      assert.equal(refusal({ domain }), 'realm is not a host[:port] (with optional ;parameters)', domain);
    }
  });

  it('refuses a contact that is no valid sip:/sips: URI', () => {
    assert.equal(refusal({ contact: 'sip:john doe@192.0.2.1' }), 'contact contains a space');
    assert.equal(refusal({ contact: '<sip:alice@192.0.2.1>' }), "contact contains '<'");
    assert.equal(refusal({ contact: 'sip:a"b@192.0.2.1' }), `contact contains '"'`);
    addressed({ contact: 'sip:jürgen@192.0.2.1' });
    assert.equal(refusal({ contact: 'tel:+4930123' }), 'contact is not a sip: or sips: URI');
    assert.equal(refusal({ contact: 'sip:alice@' }), 'contact is not a sip: or sips: URI');
    addressed({ contact: 'sips:a%22b@[2001:db8::1]:5061;transport=tls' });
  });
});
