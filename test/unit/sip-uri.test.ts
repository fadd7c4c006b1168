import assert from 'node:assert/strict';
import { escapeUserPart, ipLiteral, parseSipUri, sipUrisEqual, type SipUri } from '../../src/sip/uri';

function uri(text: string): SipUri {
  const parsed = parseSipUri(text);
  assert.ok(parsed, `'${text}' should parse`);
  return parsed;
}

const equal = (a: string, b: string): boolean => sipUrisEqual(uri(a), uri(b));

describe('SIP URI (RFC 3261 §19.1)', () => {
  describe('parsing', () => {
    it('splits user, password, host, port, parameters and headers', () => {
      const parsed = uri('sips:alice:secret@Atlanta.com:5061;transport=tcp;LR;maddr=239.255.255.1?Subject=hi%20there&priority=urgent');
      assert.equal(parsed.scheme, 'sips');
      assert.equal(parsed.user, 'alice');
      assert.equal(parsed.password, 'secret');
      assert.equal(parsed.host, 'Atlanta.com');
      assert.equal(parsed.port, 5061);
      assert.deepEqual([...parsed.params], [['transport', 'tcp'], ['lr', null], ['maddr', '239.255.255.1']]);
      assert.deepEqual([...parsed.headers], [['subject', 'hi%20there'], ['priority', 'urgent']]);
    });

    it('keeps the parameters of a single-label host out of the host (where drachtio-srf fails)', () => {
      const parsed = uri('sip:user@localhost;transport=tcp');
      assert.equal(parsed.host, 'localhost');
      assert.equal(parsed.params.get('transport'), 'tcp');
      assert.equal(uri('sip:registrar;lr').host, 'registrar');
    });

    it('reads a URI without user part, an upper-case scheme and a user part holding ";"', () => {
      assert.deepEqual(
        { ...uri('sip:192.0.2.4:5060'), params: undefined, headers: undefined },
        { scheme: 'sip', user: undefined, password: undefined, host: '192.0.2.4', port: 5060, params: undefined, headers: undefined },
      );
      assert.equal(uri('SIP:alice@host').scheme, 'sip');
      assert.equal(uri('sip:alice;day=tuesday@atlanta.com').user, 'alice;day=tuesday');
    });

    it('reads IPv6 references with and without port', () => {
      assert.deepEqual([uri('sip:[2001:db8::1]:5070;lr').host, uri('sip:[2001:db8::1]:5070').port], ['[2001:db8::1]', 5070]);
      assert.equal(uri('sip:u@[::1]').port, undefined);
    });

    it('rejects what is not a SIP URI', () => {
      for (const text of [
        'tel:+15551234', 'sip:', 'sip:@host', 'sip:host:', 'sip:host:99999', 'sip:host:12ab', 'sip:[::1', 'sip:[not-v6]',
        'sip:ho st', 'sip:host;=x', 'sip:host?novalue', '<sip:host>', 'alice@host',
      ]) {
        assert.equal(parseSipUri(text), undefined, text);
      }
    });

    it('tells IP literals from host names', () => {
      assert.equal(ipLiteral('192.0.2.1'), '192.0.2.1');
      assert.equal(ipLiteral('[2001:db8::1]'), '2001:db8::1');
      assert.equal(ipLiteral('example.com'), undefined);
      assert.equal(ipLiteral('2001:db8::1'), '2001:db8::1');
    });
  });

  describe('comparison (§19.1.4)', () => {
    it('holds the equivalences listed in §19.1.4', () => {
      assert.ok(equal('sip:%61lice@atlanta.com;transport=TCP', 'sip:alice@AtLanTa.CoM;Transport=tcp'));
      assert.ok(equal('sip:carol@chicago.com', 'sip:carol@chicago.com;newparam=5'));
      assert.ok(equal('sip:carol@chicago.com', 'sip:carol@chicago.com;security=on'));
      assert.ok(equal('sip:carol@chicago.com;newparam=5', 'sip:carol@chicago.com;security=on'));
      assert.ok(equal(
        'sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com',
        'sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com',
      ));
      assert.ok(equal('sip:alice@atlanta.com?subject=project%20x&priority=urgent', 'sip:alice@atlanta.com?priority=urgent&subject=project%20x'));
    });

    it('holds the non-equivalences listed in §19.1.4', () => {
      assert.equal(equal('SIP:ALICE@AtLanTa.CoM;Transport=udp', 'sip:alice@AtLanTa.CoM;Transport=UDP'), false);
      assert.equal(equal('sip:bob@biloxi.com', 'sip:bob@biloxi.com:5060'), false);
      assert.equal(equal('sip:bob@biloxi.com', 'sip:bob@biloxi.com;transport=udp'), false);
      assert.equal(equal('sip:bob@biloxi.com', 'sip:bob@biloxi.com:6000;transport=tcp'), false);
      assert.equal(equal('sip:carol@chicago.com', 'sip:carol@chicago.com?Subject=next%20meeting'), false);
      assert.equal(equal('sip:bob@phone21.boxesbybob.com', 'sip:bob@192.0.2.4'), false);
      assert.equal(equal('sip:carol@chicago.com;security=on', 'sip:carol@chicago.com;security=off'), false);
    });

    it('never equates sip and sips', () => {
      assert.equal(equal('sip:alice@atlanta.com', 'sips:alice@atlanta.com'), false);
    });

    it('compares userinfo case-sensitively and requires it in both or neither', () => {
      assert.equal(equal('sip:alice:Secret@h', 'sip:alice:secret@h'), false);
      assert.equal(equal('sip:alice:secret@h', 'sip:alice@h'), false);
      assert.equal(equal('sip:alice@h', 'sip:h'), false);
      assert.ok(equal('sip:alice:secret@h', 'sip:alice:secret@h'));
    });

    it('equates escaped and plain unreserved characters, but not reserved ones', () => {
      assert.ok(equal('sip:%41lice@h', 'sip:Alice@h'));
      assert.ok(equal('sip:a%3bb@h', 'sip:a%3Bb@h'), 'hex digits compare case-insensitively');
      assert.equal(equal('sip:a%3Bb@h', 'sip:a;b@h'), false, '";" is reserved');
      assert.equal(equal('sip:a%2541@h', 'sip:a%41@h'), false, 'an escaped "%" stays escaped');
    });

    it('requires the same port, an absent port not equalling the default one', () => {
      assert.ok(equal('sip:u@h:5060', 'sip:u@h:5060'));
      assert.equal(equal('sip:u@h:5060', 'sip:u@h:5061'), false);
      assert.equal(equal('sips:u@h', 'sips:u@h:5061'), false);
    });

    it('requires user, ttl, method and maddr parameters in both URIs, and equal when present', () => {
      for (const param of ['user=phone', 'ttl=15', 'method=INVITE', 'maddr=239.255.255.1', 'transport=tcp']) {
        assert.equal(equal(`sip:u@h;${param}`, 'sip:u@h'), false, `${param} in the first only`);
        assert.equal(equal('sip:u@h', `sip:u@h;${param}`), false, `${param} in the second only`);
        assert.ok(equal(`sip:u@h;${param.toUpperCase()}`, `sip:u@h;${param}`), `${param} compared case-insensitively`);
      }
      assert.equal(equal('sip:u@h;ttl=15', 'sip:u@h;ttl=16'), false);
    });

    it('compares a parameter in both, flag against flag, flag against value', () => {
      assert.ok(equal('sip:u@h;lr', 'sip:u@h;lr'));
      assert.equal(equal('sip:u@h;lr', 'sip:u@h;lr=on'), false);
      assert.ok(equal('sip:u@h;ob', 'sip:u@h'), 'other parameters in one URI only are ignored');
    });

    it('compares header names case-insensitively and values exactly', () => {
      assert.ok(equal('sip:u@h?Subject=x', 'sip:u@h?subject=x'));
      assert.equal(equal('sip:u@h?subject=X', 'sip:u@h?subject=x'), false);
      assert.equal(equal('sip:u@h?a=1', 'sip:u@h?b=1'), false);
    });

    it('compares IPv6 references case-insensitively', () => {
      assert.ok(equal('sip:u@[2001:DB8::1]:5060', 'sip:u@[2001:db8::1]:5060'));
    });
  });
});

describe('SIP URI user part escaping (RFC 3261 §25.1)', () => {
  it('leaves unreserved and user-unreserved characters as they are, and returns the same string', () => {
    const plain = "Alice.O'Neil_(1)-~*!&=+$,;?/";
    assert.equal(escapeUserPart(plain), plain);
    assert.equal(escapeUserPart('+4930123456'), '+4930123456');
  });

  it('escapes what a user part may not hold: quotes, space, angle brackets, backslash, @, :, #', () => {
    assert.equal(escapeUserPart('a"b'), 'a%22b');
    assert.equal(escapeUserPart('john doe'), 'john%20doe');
    assert.equal(escapeUserPart('<x>'), '%3Cx%3E');
    assert.equal(escapeUserPart('a\\b'), 'a%5Cb');
    assert.equal(escapeUserPart('user@corp'), 'user%40corp');
    assert.equal(escapeUserPart('a:b#c[d]'), 'a%3Ab%23c%5Bd%5D');
    assert.equal(escapeUserPart('\r\n\0'), '%0D%0A%00');
  });

  it('sends characters outside ASCII as they are (UTF-8, as SEMS; Kamailio refuses them escaped), escaping the ASCII around them', () => {
    assert.equal(escapeUserPart('jürgen'), 'jürgen');
    assert.equal(escapeUserPart('日本'), '日本');
    assert.equal(escapeUserPart('😀 x'), '😀%20x');
    assert.equal(escapeUserPart('jür"gen'), 'jür%22gen');
  });

  it('keeps an escape already written, escapes a % that starts none', () => {
    assert.equal(escapeUserPart('a%20b'), 'a%20b');
    assert.equal(escapeUserPart('a%20b c'), 'a%20b%20c');
    assert.equal(escapeUserPart('50%off'), '50%25off');
    assert.equal(escapeUserPart('100%'), '100%25');
    assert.equal(escapeUserPart('%4'), '%254');
  });

  it('gives a user part that parses back to the same user, equal to its own text (§19.1.4)', () => {
    for (const user of ['a"b', 'john doe', 'jürgen', '<>', 'a;b?c', '50%off']) {
      const parsed = uri(`sip:${escapeUserPart(user)}@example.com`);
      assert.ok(parsed.user !== undefined);
      assert.equal(decodeURIComponent(parsed.user), user, user);
      assert.ok(sipUrisEqual(parsed, uri(`sip:${escapeUserPart(user)}@EXAMPLE.com`)));
    }
  });
});
