import assert from 'node:assert/strict';
import { SipHeaders } from '../../src/sip/message/headers';
import { MAX_MESSAGE_BYTES, parseSipMessage } from '../../src/sip/message/parse';
import { buildRegisterRequest, type RegisterRequestFields } from '../../src/sip/message/register';
import { displayName, serializeSipMessage } from '../../src/sip/message/serialize';
import { SipRequest, SipResponse, type SipMessage } from '../../src/sip/message/sip-message';

const VIA = 'SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKabc123;rport';
const DIALOG_ROWS = [
  ['Via', VIA],
  ['From', '<sip:alice@example.com>;tag=f1'],
  ['To', '<sip:alice@example.com>;tag=t1'],
  ['Call-ID', 'c1@192.0.2.10'],
  ['CSeq', '50 REGISTER'],
] as const;

const REGISTER: RegisterRequestFields = {
  requestUri: 'sip:example.com',
  aor: 'sip:alice@example.com',
  fromTag: 'f1',
  callId: 'c1@192.0.2.10',
  cseq: 50,
  contact: 'sip:alice@192.0.2.10:5060',
  expires: 7200,
};

function parseOk(text: string | Buffer): SipMessage {
  const result = parseSipMessage(text);
  if (!result.ok) assert.fail(`expected a message, got: ${result.error}`);
  return result.message;
}

function parseResponse(text: string | Buffer): SipResponse {
  const message = parseOk(text);
  assert.ok(message instanceof SipResponse, 'expected a response');
  return message;
}

function parseError(text: string | Buffer): string {
  const result = parseSipMessage(text);
  if (result.ok) assert.fail(`expected an error, got a ${result.message.type}`);
  return result.error;
}

function response(status: number, reason: string, extra: readonly (readonly [string, string])[], body = ''): SipResponse {
  return new SipResponse(status, reason, SipHeaders.of([...DIALOG_ROWS, ...extra]), body);
}

/** Every header field's elements, to compare two messages field by field. */
function fieldsOf(message: SipMessage): Record<string, string[]> {
  const fields: Record<string, string[]> = {};
  for (const [name] of message.headers) fields[name] = message.headers.getAll(name);
  return fields;
}

describe('SIP messages: building and serialising a REGISTER (RFC 3261 §10.2)', () => {
  it('writes the request line, the usual header spellings, Content-Length 0 and the empty line', () => {
    const text = serializeSipMessage(buildRegisterRequest({ ...REGISTER, userAgent: 'db-reg-agent 0.1.0' })).toString();
    assert.equal(text, [
      'REGISTER sip:example.com SIP/2.0',
      'Max-Forwards: 70',
      'From: <sip:alice@example.com>;tag=f1',
      'To: <sip:alice@example.com>',
      'Call-ID: c1@192.0.2.10',
      'CSeq: 50 REGISTER',
      'Contact: <sip:alice@192.0.2.10:5060>',
      'Expires: 7200',
      'User-Agent: db-reg-agent 0.1.0',
      'Content-Length: 0',
      '', '',
    ].join('\r\n'));
  });

  it('builds a de-REGISTER with ;expires=0 on the Contact and Expires: 0 (§10.2.2)', () => {
    const request = buildRegisterRequest({ ...REGISTER, expires: 0, contactExpires: 0 });
    assert.equal(request.headers.get('contact'), '<sip:alice@192.0.2.10:5060>;expires=0');
    assert.equal(request.headers.get('expires'), '0');
  });

  it('adds Route, credentials for a 407 and a 401, and leaves out an empty User-Agent', () => {
    const request = buildRegisterRequest({
      ...REGISTER,
      route: ['sip:proxy.example.com;lr'],
      credentials: [
        { name: 'Proxy-Authorization', value: 'Digest username="alice", realm="example.com"' },
        { name: 'Authorization', value: 'Digest username="alice", realm="registrar.example.com"' },
      ],
      userAgent: '',
    });
    assert.equal(request.headers.get('route'), '<sip:proxy.example.com;lr>');
    assert.equal(request.headers.get('proxy-authorization'), 'Digest username="alice", realm="example.com"');
    assert.equal(request.headers.get('authorization'), 'Digest username="alice", realm="registrar.example.com"');
    assert.equal(request.headers.has('user-agent'), false);
    assert.deepEqual(request.cseq, { seq: 50, method: 'REGISTER' });
  });

  it('refuses a value with CR/LF instead of letting it inject header rows', () => {
    assert.throws(() => buildRegisterRequest({ ...REGISTER, callId: 'c1\r\nContact: <sip:evil@x>' }), TypeError);
    assert.throws(() => SipHeaders.of([['Bad Name', 'x']]), TypeError);
    assert.throws(() => SipHeaders.of([['Via', 'SIP/2.0/UDP h\r\nX: y']]), TypeError);
  });

  it('joins repeated list headers but refuses a repeated header that is no list (§7.3.1)', () => {
    const headers = SipHeaders.of([['Route', '<sip:a;lr>'], ['route', '<sip:b;lr>']]);
    assert.deepEqual(headers.getAll('Route'), ['<sip:a;lr>', '<sip:b;lr>']);
    assert.throws(() => SipHeaders.of([['WWW-Authenticate', 'Digest realm="a"'], ['WWW-Authenticate', 'Digest realm="b"']]), TypeError);
  });

  it('serialises with a top Via written first, in place of any Via the message has', () => {
    const request = new SipRequest('REGISTER', 'sip:example.com', SipHeaders.of([...buildRegisterRequest(REGISTER).headers, ['Via', 'SIP/2.0/UDP old;branch=z9hG4bKold']]));
    const text = serializeSipMessage(request, VIA).toString();
    assert.deepEqual(text.split('\r\n').slice(0, 2), ['REGISTER sip:example.com SIP/2.0', `Via: ${VIA}`]);
    assert.equal(text.match(/^Via:/gm)?.length, 1);
  });

  it('spells header names the usual way', () => {
    assert.deepEqual(
      ['call-id', 'cseq', 'www-authenticate', 'max-forwards', 'x-custom-thing', 'via', 'constructor'].map(displayName),
      ['Call-ID', 'CSeq', 'WWW-Authenticate', 'Max-Forwards', 'X-Custom-Thing', 'Via', 'Constructor'],
    );
  });
});

describe('SIP messages: round trips through serialise and parse', () => {
  function roundTrip(message: SipMessage): SipMessage {
    return parseOk(serializeSipMessage(message));
  }

  it('keeps a REGISTER intact', () => {
    const built = buildRegisterRequest({ ...REGISTER, route: ['sip:p1;lr', 'sip:p2;lr'] });
    const request = new SipRequest('REGISTER', built.uri, SipHeaders.of([['Via', VIA], ...built.headers]));
    const parsed = roundTrip(request);
    assert.ok(parsed instanceof SipRequest);
    assert.equal(parsed.method, 'REGISTER');
    assert.equal(parsed.uri, 'sip:example.com');
    assert.deepEqual(parsed.cseq, { seq: 50, method: 'REGISTER' });
    assert.deepEqual(fieldsOf(parsed), { ...fieldsOf(request), 'content-length': ['0'] });
  });

  it('keeps a 200 with several Contacts, one with a quoted comma in its display name', () => {
    const ok = response(200, 'OK', [
      ['Contact', '"Alice, home" <sip:alice@192.0.2.10:5060>;expires=60'],
      ['Contact', '<sip:alice@198.51.100.7:5060;transport=tcp>;expires=3600;q=0.5'],
      ['Expires', '3600'],
    ]);
    const parsed = roundTrip(ok);
    assert.ok(parsed instanceof SipResponse);
    assert.equal(parsed.status, 200);
    assert.equal(parsed.reason, 'OK');
    assert.deepEqual(parsed.headers.getAll('contact'), [
      '"Alice, home" <sip:alice@192.0.2.10:5060>;expires=60',
      '<sip:alice@198.51.100.7:5060;transport=tcp>;expires=3600;q=0.5',
    ]);
    assert.deepEqual(fieldsOf(parsed), { ...fieldsOf(ok), 'content-length': ['0'] });
  });

  it('keeps a 401 challenge with commas inside quoted strings', () => {
    const challenge = 'Digest realm="example.com", nonce="a,b,c", qop="auth,auth-int", algorithm=SHA-256';
    const parsed = roundTrip(response(401, 'Unauthorized', [['WWW-Authenticate', challenge]]));
    assert.ok(parsed instanceof SipResponse);
    assert.equal(parsed.status, 401);
    assert.equal(parsed.reason, 'Unauthorized');
    assert.deepEqual(parsed.headers.getAll('www-authenticate'), [challenge]);
  });

  it('keeps a 423 with Min-Expires', () => {
    const parsed = roundTrip(response(423, 'Interval Too Brief', [['Min-Expires', '1800']]));
    assert.ok(parsed instanceof SipResponse);
    assert.equal(parsed.status, 423);
    assert.equal(parsed.reason, 'Interval Too Brief');
    assert.equal(parsed.headers.get('Min-Expires'), '1800');
  });

  it('counts Content-Length in bytes and gets the same UTF-8 body back (§20.14)', () => {
    const body = 'Grüße, 日本';
    const wire = serializeSipMessage(response(200, 'OK', [['Content-Type', 'text/plain']], body));
    assert.match(wire.toString('utf8'), new RegExp(`\r\nContent-Length: ${Buffer.byteLength(body)}\r\n`));
    assert.equal(Buffer.byteLength(body), 15);
    assert.equal(parseOk(wire).body, body);
  });
});

describe('SIP messages: parsing what peers send', () => {
  const OK_HEAD = ['SIP/2.0 200 OK', ...DIALOG_ROWS.map(([n, v]) => `${n}: ${v}`)];

  it('expands compact header names (§7.3.3)', () => {
    const message = parseResponse([
      'SIP/2.0 200 OK', `v: ${VIA}`, 'f: <sip:alice@example.com>;tag=f1', 't: <sip:alice@example.com>;tag=t1',
      'i: c1@192.0.2.10', 'CSeq: 50 REGISTER', 'm: <sip:alice@192.0.2.10>;expires=60, <sip:bob@192.0.2.11>', 'l: 0', '', '',
    ].join('\r\n'));
    assert.equal(message.headers.get('Via'), VIA);
    assert.equal(message.headers.get('Call-ID'), 'c1@192.0.2.10');
    assert.deepEqual(message.headers.getAll('Contact'), ['<sip:alice@192.0.2.10>;expires=60', '<sip:bob@192.0.2.11>']);
  });

  it('unfolds folded header lines (§7.3.1)', () => {
    const message = parseResponse([
      ...OK_HEAD, 'Contact: <sip:alice@192.0.2.10>;\r\n   expires=60', 'Subject: one\r\n\ttwo', 'Content-Length: 0', '', '',
    ].join('\r\n'));
    assert.equal(message.headers.get('contact'), '<sip:alice@192.0.2.10>; expires=60');
    assert.equal(message.headers.get('subject'), 'one two');
  });

  it('finds header names in any case', () => {
    const message = parseResponse([
      'SIP/2.0 200 OK', `VIA: ${VIA}`, 'fRoM: <sip:a@b>;tag=1', 'TO: <sip:a@b>', 'call-id: x', 'cseq: 7 REGISTER',
      'X-Custom: one', 'x-custom: two', 'CONTENT-LENGTH: 0', '', '',
    ].join('\r\n'));
    assert.equal(message.headers.get('Via'), VIA);
    assert.deepEqual(message.cseq, { seq: 7, method: 'REGISTER' });
    assert.equal(message.headers.get('X-CUSTOM'), 'one,two');
  });

  it('keeps several Via and Contact rows in order', () => {
    const message = parseResponse([
      'SIP/2.0 200 OK', `Via: ${VIA}`, 'Via: SIP/2.0/UDP 198.51.100.1;branch=z9hG4bKproxy', ...OK_HEAD.slice(2),
      'Contact: <sip:a@1.1.1.1>', 'Contact: <sip:b@2.2.2.2>, <sip:c@3.3.3.3>', '', '',
    ].join('\r\n'));
    assert.deepEqual(message.headers.getAll('via'), [VIA, 'SIP/2.0/UDP 198.51.100.1;branch=z9hG4bKproxy']);
    assert.deepEqual(message.headers.getAll('contact'), ['<sip:a@1.1.1.1>', '<sip:b@2.2.2.2>', '<sip:c@3.3.3.3>']);
  });

  it('skips CRLFs before the start line (§7.5)', () => {
    assert.equal(parseResponse(['', '', ...OK_HEAD, '', ''].join('\r\n')).status, 200);
  });

  it('cuts a datagram body at Content-Length and takes the rest without one (§18.3)', () => {
    const head = OK_HEAD.join('\r\n');
    assert.equal(parseOk(`${head}\r\nContent-Length: 3\r\n\r\nabcdef`).body, 'abc');
    assert.equal(parseOk(`${head}\r\n\r\nabcdef`).body, 'abcdef');
  });

  it('accepts a message of exactly the size limit and refuses one byte more, before parsing', () => {
    const head = `${OK_HEAD.join('\r\n')}\r\nX-Padding: `;
    const tail = '\r\nContent-Length: 0\r\n\r\n';
    const exact = head + 'p'.repeat(MAX_MESSAGE_BYTES - head.length - tail.length) + tail;
    assert.equal(Buffer.byteLength(exact), MAX_MESSAGE_BYTES);
    assert.equal(parseResponse(exact).status, 200);
    assert.match(parseError(exact.replace('X-Padding: ', 'X-Padding: p')), /65537 bytes exceed the 65536-byte limit/);
    assert.match(parseError(`${head}${'p'.repeat(100_000)}${tail}`), /exceed/);
  });

  const garbage: Array<[string, string | Buffer, RegExp]> = [
    ['an empty datagram', '', /empty/],
    ['a keep-alive', '\r\n\r\n', /empty/],
    ['plain text', 'hello world', /no empty line/],
    ['binary noise', Buffer.from([0xff, 0xfe, 0x00, 0x01, 0x0d, 0x0a, 0x0d, 0x0a]), /malformed/],
    ['LF-only line ends', OK_HEAD.join('\n') + '\n\n', /no empty line/],
    ['a header line without colon', `${OK_HEAD.join('\r\n')}\r\nno colon here\r\n\r\n`, /malformed/],
    ['a 5-digit status code', `${OK_HEAD.join('\r\n').replace('200', '20000')}\r\n\r\n`, /malformed start line/],
    ['a 2-digit status code', `${OK_HEAD.join('\r\n').replace('200', '20')}\r\n\r\n`, /malformed start line/],
    ['SIP/3.0', `${OK_HEAD.join('\r\n').replace('SIP/2.0 200', 'SIP/3.0 200')}\r\n\r\n`, /not SIP\/2\.0/],
    ['a response without Via', `${OK_HEAD.filter((l) => !l.startsWith('Via')).join('\r\n')}\r\n\r\n`, /no via header/],
    ['a malformed CSeq', `${OK_HEAD.join('\r\n').replace('50 REGISTER', 'fifty REGISTER')}\r\n\r\n`, /malformed CSeq/],
    ['a negative Content-Length', `${OK_HEAD.join('\r\n')}\r\nContent-Length: -1\r\n\r\n`, /malformed Content-Length/],
    ['a body shorter than Content-Length', `${OK_HEAD.join('\r\n')}\r\nContent-Length: 10\r\n\r\nabc`, /truncated/],
    ['a bare LF inside a header value', `${OK_HEAD.join('\r\n').replace(';rport', ';rport\nInjected: 1')}\r\n\r\n`, /via header holds a bare CR, LF or NUL/],
    ['a bare CR inside a header value', `${OK_HEAD.join('\r\n')}\r\nServer: x\ry\r\n\r\n`, /server header holds a bare CR, LF or NUL/],
    ['a NUL inside a header value', `${OK_HEAD.join('\r\n')}\r\nServer: x\0y\r\n\r\n`, /server header holds a bare CR, LF or NUL/],
  ];
  for (const [what, input, error] of garbage) {
    it(`returns an error, not an exception, for ${what}`, () => {
      assert.match(parseError(input), error);
    });
  }

  it('never throws on 5000 random mutations of a valid response', () => {
    const valid = Buffer.from(`${OK_HEAD.join('\r\n')}\r\nContact: <sip:a@[::1]:5060>;expires=60\r\nContent-Length: 2\r\n\r\nhi`);
    let seed = 12345;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    let parsedOk = 0;
    for (let i = 0; i < 5000; i++) {
      const mutated = Buffer.from(valid);
      for (let j = 0, flips = 1 + random(8); j < flips; j++) mutated[random(mutated.length)] = random(256);
      const cut = random(4) === 0 ? mutated.subarray(0, random(mutated.length)) : mutated;
      const result = parseSipMessage(cut);
      if (result.ok) parsedOk++;
    }
    // Some mutations leave a valid message, most do not; neither may throw.
    assert.ok(parsedOk > 0 && parsedOk < 5000, `parsed ${parsedOk} of 5000`);
  });
});
