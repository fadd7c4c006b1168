import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  DigestSession,
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
      // The quoting is the header's: the digest is computed over the user name itself.
      const expected = md5(`${md5('bob"\\:a "quoted" realm:s3cret')}:n:${md5('REGISTER:sip:example.com')}`);
      assert.equal(credentialParams(value).get('response'), expected);
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

  describe('DigestSession and RequestAuthenticator', () => {
    const credentials = { username: 'alice', password: 's3cret' };
    const request = { method: 'REGISTER', uri: 'sip:example.com' };
    const challengeWith = (nonce: string, extra = ''): string =>
      `Digest realm="example.com", nonce="${nonce}", qop="auth", algorithm=MD5${extra}`;
    /** A session whose cnonces are cn1, cn2, ... */
    const newSession = (): DigestSession => {
      let count = 0;
      return new DigestSession(credentials, () => `cn${++count}`);
    };
    const paramsOf = (header: { value: string } | undefined): Map<string, string> => credentialParams(header?.value ?? 'Digest ');
    /** The nonce, nc and cnonce of the only credential header of the next send. */
    const sendOnce = (auth: RequestAuthenticator): string[] => {
      const headers = auth.headers(request);
      assert.equal(headers.length, 1, `one credential header: ${JSON.stringify(headers)}`);
      const params = paramsOf(headers[0]);
      return ['nonce', 'nc', 'cnonce'].map((name) => params.get(name) ?? '-');
    };

    it('sends no credentials before a challenge', () => {
      assert.deepEqual(new RequestAuthenticator(newSession()).headers(request), []);
    });

    it('answers a 401 with an Authorization header computed for the request', () => {
      const auth = new RequestAuthenticator(newSession());
      assert.deepEqual(auth.onChallenge(401, [challengeWith('n1')]), { answer: true });
      const [header] = auth.headers(request);
      assert.equal(header?.name, 'Authorization');
      const expected = md5(`${md5('alice:example.com:s3cret')}:n1:00000001:cn1:auth:${md5('REGISTER:sip:example.com')}`);
      assert.equal(paramsOf(header).get('response'), expected);
    });

    it('later requests of the session send the credentials up front: nc counts up, a fresh cnonce each time', () => {
      const session = newSession();
      const first = new RequestAuthenticator(session);
      first.onChallenge(401, [challengeWith('n1')]);
      assert.deepEqual(sendOnce(first), ['n1', '00000001', 'cn1']);
      assert.deepEqual(sendOnce(new RequestAuthenticator(session)), ['n1', '00000002', 'cn2'], 'refresh');
      assert.deepEqual(sendOnce(new RequestAuthenticator(session)), ['n1', '00000003', 'cn3'], 'de-REGISTER');
    });

    it('keeps one cnonce per nonce for -sess algorithms, whose A1 hashes it in', () => {
      const session = newSession();
      new RequestAuthenticator(session).onChallenge(401, ['Digest realm="r", nonce="n", qop="auth", algorithm=MD5-sess']);
      const sends = [sendOnce(new RequestAuthenticator(session)), sendOnce(new RequestAuthenticator(session))];
      assert.deepEqual(sends, [['n', '00000001', 'cn1'], ['n', '00000002', 'cn1']]);
    });

    it('a 401 answering credentials sent up front is a fresh challenge: answered once, with the new nonce from nc 1', () => {
      const session = newSession();
      new RequestAuthenticator(session).onChallenge(401, [challengeWith('old')]);
      const refresh = new RequestAuthenticator(session);
      assert.deepEqual(sendOnce(refresh), ['old', '00000001', 'cn1']);
      assert.deepEqual(refresh.onChallenge(401, [challengeWith('new')]), { answer: true }, 'the nonce had expired');
      assert.deepEqual(sendOnce(refresh), ['new', '00000001', 'cn2']);
      const verdict = refresh.onChallenge(401, [challengeWith('newer')]);
      assert.deepEqual(verdict, { answer: false, reason: '401 after sending credentials: credentials rejected' });
    });

    it('refuses a second 401 for the same request, and the session sends nothing up front any more', () => {
      const session = newSession();
      const auth = new RequestAuthenticator(session);
      auth.onChallenge(401, [challengeWith('n1')]);
      assert.equal(auth.onChallenge(401, [challengeWith('n2')]).answer, false);
      assert.deepEqual(new RequestAuthenticator(session).headers(request), []);
    });

    it('answers stale=true re-challenges with the new nonce, up to the bound; beyond it the challenge is forgotten', () => {
      const session = newSession();
      const auth = new RequestAuthenticator(session, { maxStaleAnswers: 2 });
      auth.onChallenge(401, [challengeWith('n1')]);
      assert.deepEqual(auth.onChallenge(401, [challengeWith('n2', ', stale=true')]), { answer: true });
      assert.equal(paramsOf(auth.headers(request)[0]).get('nonce'), 'n2');
      assert.deepEqual(auth.onChallenge(401, [challengeWith('n3', ', stale="TRUE"')]), { answer: true });
      const verdict = auth.onChallenge(401, [challengeWith('n4', ', stale=true')]);
      assert.deepEqual(verdict, { answer: false, reason: 'WWW-Authenticate stale=true more than 2 times' });
      assert.deepEqual(new RequestAuthenticator(session).headers(request), []);
    });

    it('treats stale=false like no stale flag', () => {
      const auth = new RequestAuthenticator(newSession());
      auth.onChallenge(401, [challengeWith('n1')]);
      assert.equal(auth.onChallenge(401, [challengeWith('n2', ', stale=false')]).answer, false);
    });

    it('answers a challenge of the next RFC 3263 target afresh: another server, its own nonce', () => {
      const auth = new RequestAuthenticator(newSession());
      auth.onChallenge(401, [challengeWith('server-a')]);
      auth.nextTarget();
      assert.deepEqual(auth.onChallenge(401, [challengeWith('server-b')]), { answer: true });
      assert.deepEqual(sendOnce(auth), ['server-b', '00000001', 'cn1']);
      assert.equal(auth.onChallenge(401, [challengeWith('server-b2')]).answer, false, 'a second one from the same server');
    });

    it('answers a 407 and then a 401, sending both credential headers on the next send, each with its own nc', () => {
      const session = newSession();
      const auth = new RequestAuthenticator(session);
      assert.equal(auth.onChallenge(407, ['Digest realm="proxy", nonce="p1", qop="auth"']).answer, true);
      assert.deepEqual(auth.headers(request).map((h) => h.name), ['Proxy-Authorization']);
      assert.equal(auth.onChallenge(401, [challengeWith('r1')]).answer, true);
      const headers = auth.headers(request);
      assert.deepEqual(headers.map((h) => h.name), ['Proxy-Authorization', 'Authorization']);
      assert.equal(paramsOf(headers[0]).get('nc'), '00000002', 'second send with the proxy nonce');
      assert.equal(paramsOf(headers[1]).get('nc'), '00000001');
      assert.equal(auth.onChallenge(407, ['Digest realm="proxy", nonce="p2"']).answer, false);
      assert.deepEqual(new RequestAuthenticator(session).headers(request).map((h) => h.name), ['Authorization'],
        'the rejected proxy challenge is forgotten, the registrar\'s kept');
    });

    it('carries the count on when a new challenge brings the nonce already held', () => {
      const session = newSession();
      new RequestAuthenticator(session).onChallenge(401, [challengeWith('same')]);
      sendOnce(new RequestAuthenticator(session));
      const again = new RequestAuthenticator(session);
      sendOnce(again);
      again.onChallenge(401, [challengeWith('same')]);
      assert.deepEqual(sendOnce(again), ['same', '00000003', 'cn3']);
    });

    it('refuses a reply without a Digest challenge it supports, forgetting what it held of that kind', () => {
      const session = newSession();
      new RequestAuthenticator(session).onChallenge(401, [challengeWith('n1')]);
      const verdict = new RequestAuthenticator(session).onChallenge(401, ['Basic realm="x"']);
      assert.deepEqual(verdict, { answer: false, reason: 'no supported Digest challenge in WWW-Authenticate' });
      assert.deepEqual(new RequestAuthenticator(session).headers(request), []);
      assert.equal(new RequestAuthenticator(newSession()).onChallenge(407, []).answer, false);
    });

    it('is for one user name and password', () => {
      const session = newSession();
      assert.equal(session.isFor('alice', 's3cret'), true);
      assert.equal(session.isFor('alice', 'other'), false);
      assert.equal(session.isFor('bob', 's3cret'), false);
    });

    it('generates a random 32-hex-digit cnonce by default, a new one per send', () => {
      const session = new DigestSession(credentials);
      new RequestAuthenticator(session).onChallenge(401, [challengeWith('n')]);
      const [a, b] = [0, 1].map(() => paramsOf(session.headers(request)[0]).get('cnonce'));
      assert.match(a ?? '', /^[0-9a-f]{32}$/);
      assert.notEqual(a, b);
    });
  });
});
