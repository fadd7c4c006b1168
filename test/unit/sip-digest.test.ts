import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  NonceCounter,
  RequestAuthenticator,
  buildAuthorization,
  digestResponse,
  formatNonceCount,
  parseDigestChallenges,
  strongestChallenge,
  type DigestChallenge,
} from '../../src/sip/digest';

const md5 = (text: string): string => createHash('md5').update(text).digest('hex');
const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/** Splits an Authorization value into its parameters (values unquoted) for assertions. */
function credentialParams(value: string): Map<string, string> {
  assert.match(value, /^Digest /);
  const params = new Map<string, string>();
  for (const match of value.slice('Digest '.length).matchAll(/([a-z]+)=("(?:[^"\\]|\\.)*"|[^,\s]+)/g)) {
    params.set(match[1], match[2].startsWith('"') ? match[2].slice(1, -1).replace(/\\(.)/g, '$1') : match[2]);
  }
  return params;
}

function onlyChallenge(header: string | string[]): DigestChallenge {
  const challenges = parseDigestChallenges(header);
  assert.equal(challenges.length, 1, `one challenge expected in ${JSON.stringify(header)}`);
  return challenges[0];
}

// RFC 2617 §3.5
const RFC2617_CHALLENGE =
  'Digest realm="testrealm@host.com", qop="auth,auth-int", ' +
  'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"';

// RFC 7616 §3.9.1
const RFC7616_NONCE = '7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v';
const RFC7616_OPAQUE = 'FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS';
const rfc7616Challenge = (algorithm: string): string =>
  `Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=${algorithm}, ` +
  `nonce="${RFC7616_NONCE}", opaque="${RFC7616_OPAQUE}"`;
const RFC7616_REQUEST = {
  method: 'GET',
  uri: '/dir/index.html',
  username: 'Mufasa',
  password: 'Circle of Life',
  nc: 1,
  cnonce: 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ',
};

describe('SIP digest authentication (RFC 2617 / RFC 7616)', () => {
  describe('published examples', () => {
    it('answers the RFC 2617 §3.5 example with its response, in SEMS\'s parameter order, naming the algorithm', () => {
      const value = buildAuthorization({
        challenge: onlyChallenge(RFC2617_CHALLENGE),
        method: 'GET',
        uri: '/dir/index.html',
        username: 'Mufasa',
        password: 'Circle Of Life',
        nc: 1,
        cnonce: '0a4f113b',
      });
      assert.equal(
        value,
        'Digest username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", ' +
          'uri="/dir/index.html", opaque="5ccc069c403ebaf9f0171e9517f40e41", qop=auth, cnonce="0a4f113b", ' +
          'nc=00000001, response="6629fae49393a05397450978507c4ef1", algorithm=MD5',
      );
    });

    it('answers the RFC 7616 §3.9.1 MD5 example', () => {
      const params = credentialParams(buildAuthorization({ challenge: onlyChallenge(rfc7616Challenge('MD5')), ...RFC7616_REQUEST }));
      assert.equal(params.get('response'), '8ca523f5e9506fed4657c9700eebdbec');
      assert.equal(params.get('algorithm'), 'MD5');
      assert.equal(params.get('opaque'), RFC7616_OPAQUE);
      assert.equal(params.get('qop'), 'auth');
    });

    it('answers the RFC 7616 §3.9.1 SHA-256 example', () => {
      const params = credentialParams(buildAuthorization({ challenge: onlyChallenge(rfc7616Challenge('SHA-256')), ...RFC7616_REQUEST }));
      assert.equal(params.get('response'), '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1');
      assert.equal(params.get('algorithm'), 'SHA-256');
    });

    it('answers without qop as RFC 2069 did (its example as corrected by the errata), sending no qop, nc or cnonce but the algorithm', () => {
      const challenge = onlyChallenge('Digest realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093"');
      assert.equal(challenge.qop, undefined);
      const value = buildAuthorization({
        challenge, method: 'GET', uri: '/dir/index.html', username: 'Mufasa', password: 'CircleOfLife', nc: 1, cnonce: 'unused',
      });
      const params = credentialParams(value);
      assert.equal(params.get('response'), '1949323746fe6a43ef61f9606e7febea');
      assert.deepEqual([...params.keys()], ['username', 'realm', 'nonce', 'uri', 'response', 'algorithm']);
      assert.equal(params.get('algorithm'), 'MD5');
    });
  });

  describe('response computation', () => {
    const base = { method: 'REGISTER', uri: 'sip:example.com', username: 'alice', password: 's3cret', nc: 3, cnonce: 'c0ffee' };

    it('MD5-sess hashes nonce and cnonce into A1 and sends the cnonce', () => {
      const challenge = onlyChallenge('Digest realm="example.com", nonce="n1", qop="auth", algorithm=MD5-sess');
      const ha1 = md5(`${md5('alice:example.com:s3cret')}:n1:c0ffee`);
      const expected = md5(`${ha1}:n1:00000003:c0ffee:auth:${md5('REGISTER:sip:example.com')}`);
      assert.equal(digestResponse({ challenge, ...base }), expected);
      const params = credentialParams(buildAuthorization({ challenge, ...base }));
      assert.equal(params.get('response'), expected);
      assert.equal(params.get('algorithm'), 'MD5-sess');
      assert.equal(params.get('cnonce'), 'c0ffee');
      assert.equal(params.get('nc'), '00000003');
    });

    it('SHA-256-sess uses SHA-256 throughout', () => {
      const challenge = onlyChallenge('Digest realm="example.com", nonce="n1", qop="auth", algorithm=SHA-256-sess');
      const ha1 = sha256(`${sha256('alice:example.com:s3cret')}:n1:c0ffee`);
      const expected = sha256(`${ha1}:n1:00000003:c0ffee:auth:${sha256('REGISTER:sip:example.com')}`);
      assert.equal(digestResponse({ challenge, ...base }), expected);
    });

    it('MD5-sess without qop still sends the cnonce it hashed, but no qop or nc', () => {
      const challenge = onlyChallenge('Digest realm="example.com", nonce="n1", algorithm=MD5-sess');
      const ha1 = md5(`${md5('alice:example.com:s3cret')}:n1:c0ffee`);
      const params = credentialParams(buildAuthorization({ challenge, ...base }));
      assert.equal(params.get('response'), md5(`${ha1}:n1:${md5('REGISTER:sip:example.com')}`));
      assert.equal(params.get('cnonce'), 'c0ffee');
      assert.equal(params.has('qop'), false);
      assert.equal(params.has('nc'), false);
    });

    it('auth-int (when it is the only qop offered) hashes the empty body into A2', () => {
      const challenge = onlyChallenge('Digest realm="example.com", nonce="n1", qop="auth-int"');
      assert.equal(challenge.qop, 'auth-int');
      const ha2 = md5(`REGISTER:sip:example.com:${md5('')}`);
      const expected = md5(`${md5('alice:example.com:s3cret')}:n1:00000003:c0ffee:auth-int:${ha2}`);
      assert.equal(digestResponse({ challenge, ...base }), expected);
      assert.equal(digestResponse({ challenge, ...base, body: '' }), expected);
      assert.notEqual(digestResponse({ challenge, ...base, body: 'v=0' }), expected);
      assert.equal(credentialParams(buildAuthorization({ challenge, ...base })).get('qop'), 'auth-int');
    });

    it('prefers qop auth when auth-int is offered too', () => {
      assert.equal(onlyChallenge('Digest realm="r", nonce="n", qop="auth-int,auth"').qop, 'auth');
    });

    it('formats the nonce count as 8 hex digits and refuses counts outside 1..2^32-1', () => {
      assert.equal(formatNonceCount(1), '00000001');
      assert.equal(formatNonceCount(255), '000000ff');
      assert.equal(formatNonceCount(0xffffffff), 'ffffffff');
      assert.throws(() => formatNonceCount(0), RangeError);
      assert.throws(() => formatNonceCount(2 ** 32), RangeError);
    });

    it('escapes quotes and backslashes in quoted values of the answer', () => {
      const challenge = onlyChallenge('Digest realm="a \\"quoted\\" realm", nonce="n"');
      const value = buildAuthorization({ challenge, ...base, username: 'bob"\\' });
      assert.match(value, /username="bob\\"\\\\", realm="a \\"quoted\\" realm"/);
      assert.equal(credentialParams(value).get('username'), 'bob"\\');
    });
  });

  describe('challenge parsing', () => {
    it('reads quoted strings with escaped quotes and commas inside quotes', () => {
      const challenge = onlyChallenge('Digest realm="say \\"hi\\", please", nonce="a,b", opaque="x\\\\y"');
      assert.equal(challenge.realm, 'say "hi", please');
      assert.equal(challenge.nonce, 'a,b');
      assert.equal(challenge.opaque, 'x\\y');
      assert.equal(onlyChallenge('Digest realm="ends in \\"", nonce="n"').realm, 'ends in "');
    });

    it('accepts any case for the scheme, parameter names and algorithm, and white space around "="', () => {
      const challenge = onlyChallenge('DIGEST REALM = "r" ,NONCE= "n",  Algorithm = sha-256 , QOP="AUTH", STALE=TRUE');
      assert.deepEqual(challenge, {
        realm: 'r', nonce: 'n', opaque: undefined, algorithm: 'SHA-256', algorithmAsReceived: 'sha-256', qop: 'auth', stale: true,
      });
    });

    it('echoes the algorithm exactly as received and names MD5 when the challenge had none', () => {
      const echoed = buildAuthorization({
        challenge: onlyChallenge('Digest realm="r", nonce="n", algorithm=md5'),
        method: 'REGISTER', uri: 'sip:r', username: 'u', password: 'p', nc: 1, cnonce: 'c',
      });
      assert.match(echoed, /, algorithm=md5(,|$)/);
      const absent = buildAuthorization({
        challenge: onlyChallenge('Digest realm="r", nonce="n"'),
        method: 'REGISTER', uri: 'sip:r', username: 'u', password: 'p', nc: 1, cnonce: 'c',
      });
      assert.match(absent, /, algorithm=MD5$/);
    });

    it('finds several challenges in one header and in several headers, skipping other schemes', () => {
      const inOneHeader = parseDigestChallenges(
        'Basic realm="r", Digest realm="r", nonce="n1", algorithm=MD5, Digest realm="r", nonce="n2", algorithm=SHA-256',
      );
      assert.deepEqual(inOneHeader.map((c) => c.nonce), ['n1', 'n2']);
      const inTwoHeaders = parseDigestChallenges(['Digest realm="r", nonce="n1"', 'Bearer token68==, Digest realm="r", nonce="n2"']);
      assert.deepEqual(inTwoHeaders.map((c) => c.nonce), ['n1', 'n2']);
    });

    it('picks SHA-256 over MD5 whatever their order, and the first among equals', () => {
      const md5First = [rfc7616Challenge('MD5'), rfc7616Challenge('SHA-256')];
      assert.equal(strongestChallenge(parseDigestChallenges(md5First))?.algorithm, 'SHA-256');
      assert.equal(strongestChallenge(parseDigestChallenges(md5First.join(', ')))?.algorithm, 'SHA-256');
      const twoMd5 = parseDigestChallenges('Digest realm="a", nonce="1", Digest realm="b", nonce="2", algorithm=MD5-sess');
      assert.equal(strongestChallenge(twoMd5)?.realm, 'a');
      assert.equal(strongestChallenge([]), undefined);
    });

    it('skips challenges it cannot answer: unknown algorithm or qop, missing realm or nonce', () => {
      assert.deepEqual(parseDigestChallenges('Digest realm="r", nonce="n", algorithm=AKAv1-MD5'), []);
      assert.deepEqual(parseDigestChallenges('Digest realm="r", nonce="n", qop="auth-conf"'), []);
      assert.deepEqual(parseDigestChallenges('Digest realm="r"'), []);
      assert.deepEqual(parseDigestChallenges('Digest nonce="n"'), []);
      assert.deepEqual(parseDigestChallenges('realm="r", nonce="n"'), [], 'parameters without a scheme');
      assert.deepEqual(parseDigestChallenges(''), []);
    });

    it('keeps the first of a repeated parameter and ignores empty list items', () => {
      const challenge = onlyChallenge('Digest realm="first", , realm="second", nonce="n",');
      assert.equal(challenge.realm, 'first');
    });
  });

  describe('NonceCounter', () => {
    it('counts per nonce, and forgets the least recently used nonce beyond its capacity', () => {
      const counter = new NonceCounter(2);
      assert.deepEqual([counter.next('a'), counter.next('a'), counter.next('b'), counter.next('a')], [1, 2, 1, 3]);
      counter.next('c'); // evicts b, the least recently used
      assert.equal(counter.next('a'), 4);
      assert.equal(counter.next('b'), 1);
    });
  });

  describe('RequestAuthenticator', () => {
    const credentials = { username: 'alice', password: 's3cret' };
    const request = { method: 'REGISTER', uri: 'sip:example.com' };
    const challengeWith = (nonce: string, extra = ''): string =>
      `Digest realm="example.com", nonce="${nonce}", qop="auth", algorithm=MD5${extra}`;
    const newAuthenticator = (nonces = new NonceCounter(), maxStaleAnswers?: number): RequestAuthenticator =>
      new RequestAuthenticator(credentials, nonces, { newCnonce: () => 'cn', maxStaleAnswers });

    it('sends no credentials before a challenge', () => {
      assert.deepEqual(newAuthenticator().headers(request), []);
    });

    it('answers a 401 with an Authorization header computed for the request', () => {
      const auth = newAuthenticator();
      assert.deepEqual(auth.onChallenge(401, [challengeWith('n1')]), { answer: true });
      const [header] = auth.headers(request);
      assert.equal(header.name, 'Authorization');
      const expected = md5(`${md5('alice:example.com:s3cret')}:n1:00000001:cn:auth:${md5('REGISTER:sip:example.com')}`);
      assert.equal(credentialParams(header.value).get('response'), expected);
    });

    it('refuses a second 401 for the same request: the credentials were rejected', () => {
      const auth = newAuthenticator();
      auth.onChallenge(401, [challengeWith('n1')]);
      const verdict = auth.onChallenge(401, [challengeWith('n2')]);
      assert.equal(verdict.answer, false);
      assert.match(verdict.answer ? '' : verdict.reason, /credentials rejected/);
    });

    it('answers stale=true re-challenges with the new nonce, up to the bound', () => {
      const auth = newAuthenticator(new NonceCounter(), 2);
      auth.onChallenge(401, [challengeWith('n1')]);
      assert.deepEqual(auth.onChallenge(401, [challengeWith('n2', ', stale=true')]), { answer: true });
      assert.equal(credentialParams(auth.headers(request)[0].value).get('nonce'), 'n2');
      assert.deepEqual(auth.onChallenge(401, [challengeWith('n3', ', stale="TRUE"')]), { answer: true });
      const verdict = auth.onChallenge(401, [challengeWith('n4', ', stale=true')]);
      assert.equal(verdict.answer, false);
      assert.match(verdict.answer ? '' : verdict.reason, /stale=true more than 2 times/);
    });

    it('treats stale=false like no stale flag', () => {
      const auth = newAuthenticator();
      auth.onChallenge(401, [challengeWith('n1')]);
      assert.equal(auth.onChallenge(401, [challengeWith('n2', ', stale=false')]).answer, false);
    });

    it('answers a 407 and then a 401, sending both credential headers on the next send', () => {
      const auth = newAuthenticator();
      assert.equal(auth.onChallenge(407, ['Digest realm="proxy", nonce="p1", qop="auth"']).answer, true);
      assert.deepEqual(auth.headers(request).map((h) => h.name), ['Proxy-Authorization']);
      assert.equal(auth.onChallenge(401, [challengeWith('r1')]).answer, true);
      const headers = auth.headers(request);
      assert.deepEqual(headers.map((h) => h.name), ['Proxy-Authorization', 'Authorization']);
      assert.equal(credentialParams(headers[0].value).get('nc'), '00000002', 'second send with the proxy nonce');
      assert.equal(credentialParams(headers[1].value).get('nc'), '00000001');
      assert.equal(auth.onChallenge(407, ['Digest realm="proxy", nonce="p2"']).answer, false);
    });

    it('refuses a challenge without a Digest challenge it supports', () => {
      const verdict = newAuthenticator().onChallenge(407, ['Basic realm="x"']);
      assert.deepEqual(verdict, { answer: false, reason: 'no supported Digest challenge in Proxy-Authenticate' });
      assert.equal(newAuthenticator().onChallenge(401, []).answer, false);
    });

    it('increments nc per send and across requests that meet the same nonce, restarting at 1 for a new nonce', () => {
      const nonces = new NonceCounter();
      const first = newAuthenticator(nonces);
      first.onChallenge(401, [challengeWith('same')]);
      const ncOf = (auth: RequestAuthenticator): string | undefined => credentialParams(auth.headers(request)[0].value).get('nc');
      assert.equal(ncOf(first), '00000001');
      assert.equal(ncOf(first), '00000002');
      const refresh = newAuthenticator(nonces);
      refresh.onChallenge(401, [challengeWith('same')]);
      assert.equal(ncOf(refresh), '00000003');
      const other = newAuthenticator(nonces);
      other.onChallenge(401, [challengeWith('fresh')]);
      assert.equal(ncOf(other), '00000001');
    });

    it('keeps one cnonce per answered challenge, as -sess session keys require', () => {
      let counter = 0;
      const auth = new RequestAuthenticator(credentials, new NonceCounter(), { newCnonce: () => `cn${++counter}` });
      auth.onChallenge(401, ['Digest realm="r", nonce="n", qop="auth", algorithm=MD5-sess']);
      const cnonces = [auth.headers(request), auth.headers(request)].map(([h]) => credentialParams(h.value).get('cnonce'));
      assert.deepEqual(cnonces, ['cn1', 'cn1']);
    });

    it('generates a random 32-hex-digit cnonce by default', () => {
      const cnonceOf = (): string | undefined => {
        const auth = new RequestAuthenticator(credentials, new NonceCounter());
        auth.onChallenge(401, [challengeWith('n')]);
        return credentialParams(auth.headers(request)[0].value).get('cnonce');
      };
      const [a, b] = [cnonceOf(), cnonceOf()];
      assert.match(a ?? '', /^[0-9a-f]{32}$/);
      assert.notEqual(a, b);
    });
  });
});
