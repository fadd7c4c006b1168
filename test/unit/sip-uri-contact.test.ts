import assert from 'node:assert/strict';
import { findContact, parseContactHeaders, type Contact, type ContactBinding } from '../../src/sip/contact';
import { parseSipUri, type SipUri } from '../../src/sip/uri';

function binding(contact: Contact | undefined): ContactBinding {
  assert.ok(contact !== undefined && contact !== '*', `a binding expected, got ${JSON.stringify(contact)}`);
  return contact;
}

function uri(text: string): SipUri {
  const parsed = parseSipUri(text);
  assert.ok(parsed);
  return parsed;
}

describe('Contact header (RFC 3261 §20.10)', () => {
  describe('parsing', () => {
    it('reads several contacts per header and several headers, in order', () => {
      const contacts = parseContactHeaders([
        '"Doe, John" <sip:john@h1>;expires=60, <sip:x@h2;transport=tcp>;q=0.5;expires=30',
        'sip:y@h3;expires=10',
      ]);
      assert.deepEqual(
        contacts.map((c) => binding(c).uri),
        ['sip:john@h1', 'sip:x@h2;transport=tcp', 'sip:y@h3'],
      );
      assert.equal(binding(contacts[0]).displayName, 'Doe, John');
      assert.deepEqual([...binding(contacts[1]).params], [['q', '0.5'], ['expires', '30']]);
    });

    it('gives the parameters after an addr-spec to the header, not to the URI', () => {
      const [contact] = parseContactHeaders('sip:alice@192.0.2.1:5060;expires=3600;transport=udp');
      assert.equal(binding(contact).uri, 'sip:alice@192.0.2.1:5060');
      assert.deepEqual([...binding(contact).params], [['expires', '3600'], ['transport', 'udp']]);
    });

    it('reads quoted display names with escaped quotes, unquoted token display names, and none', () => {
      const [quoted, tokens, bare] = parseContactHeaders('"A \\"B\\" C" <sip:a@h>, Bob Smith <sip:b@h>, <sip:c@h>');
      assert.equal(binding(quoted).displayName, 'A "B" C');
      assert.equal(binding(tokens).displayName, 'Bob Smith');
      assert.equal('displayName' in binding(bare), false);
    });

    it('keeps commas and semicolons inside quoted parameter values and inside <...>', () => {
      const contacts = parseContactHeaders('<sip:a@h?subject=x,y>;+sip.instance="<urn:uuid:1;2,3>";EXPIRES=5, <sip:b@h>');
      assert.equal(contacts.length, 2);
      assert.equal(binding(contacts[0]).uri, 'sip:a@h?subject=x,y');
      assert.deepEqual([...binding(contacts[0]).params], [['+sip.instance', '<urn:uuid:1;2,3>'], ['expires', '5']]);
    });

    it('reads the wildcard', () => {
      assert.deepEqual(parseContactHeaders(' * '), ['*']);
    });

    it('leaves out items that are not contacts, keeping the others', () => {
      const contacts = parseContactHeaders(['garbage, <sip:ok@h>;expires=1', '<sip:bad@h>junk', '<sip:also-ok@h>;;q=1']);
      assert.deepEqual(contacts.map((c) => binding(c).uri), ['sip:ok@h', 'sip:also-ok@h']);
      assert.deepEqual(parseContactHeaders(''), []);
    });

    it('accepts non-SIP absolute URIs as bindings', () => {
      assert.equal(binding(parseContactHeaders('<tel:+15551234>;expires=60')[0]).uri, 'tel:+15551234');
    });
  });

  describe('findContact', () => {
    const reply = parseContactHeaders([
      '<sip:other@192.0.2.9:5060>;expires=100, *, <tel:+15551234>',
      '"Me" <sip:alice@192.0.2.1:5060;ob>;expires=60',
    ]);

    it('finds our binding by §19.1.4 comparison, ignoring wildcards and non-SIP URIs', () => {
      const found = findContact(reply, uri('sip:alice@192.0.2.1:5060'));
      assert.equal(found?.uri, 'sip:alice@192.0.2.1:5060;ob');
      assert.equal(found?.params.get('expires'), '60');
    });

    it('misses when the port or the transport differ', () => {
      assert.equal(findContact(reply, uri('sip:alice@192.0.2.1')), undefined);
      assert.equal(findContact(reply, uri('sip:alice@192.0.2.1:5060;transport=tcp')), undefined);
    });

    it('matches transport values case-insensitively and host names in any case', () => {
      const contacts = parseContactHeaders('<sip:alice@Host.Example:5060;transport=TCP>;expires=30');
      assert.ok(findContact(contacts, uri('sip:alice@host.example:5060;transport=tcp')));
    });
  });
});
