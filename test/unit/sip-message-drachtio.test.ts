/**
 * Why src/sip/message guards drachtio-srf's SipMessage: each test shows one shortcoming
 * of drachtio as installed and that our wrapper does not have it. Should a drachtio
 * upgrade fix one, its "drachtio ..." assertion fails and the guard can go.
 */
import assert from 'node:assert/strict';
import Srf from 'drachtio-srf';
import { DrachtioSipMessage } from '../../src/sip/message/drachtio';
import { SipHeaders } from '../../src/sip/message/headers';
import { parseSipMessage } from '../../src/sip/message/parse';
import { buildRegisterRequest } from '../../src/sip/message/register';
import { displayName, serializeSipMessage } from '../../src/sip/message/serialize';
import { SipResponse, type SipMessage } from '../../src/sip/message/sip-message';
import { parseVia } from '../../src/sip/message/via';

interface DrachtioVia {
  host: string;
  params: Record<string, string>;
}

const HEAD = 'SIP/2.0 200 OK\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: x\r\nCSeq: 1 REGISTER\r\n';

function parsed(text: string): SipResponse {
  const result = parseSipMessage(text);
  if (!result.ok) assert.fail(result.error);
  assert.ok(result.message instanceof SipResponse);
  return result.message;
}

describe('SIP messages: what drachtio-srf gets wrong and our wrapper guards', () => {
  it('uses the SipMessage class drachtio-srf exports, loaded from its own file', () => {
    assert.equal(DrachtioSipMessage, (Srf as unknown as { SipMessage: unknown }).SipMessage);
  });

  it('drachtio loses the branch of a Via with an IPv6 sent-by; parseVia keeps it', () => {
    const via = 'SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bKv6;rport';
    const message = new DrachtioSipMessage(`${HEAD}Via: ${via}\r\n\r\n`) as unknown as {
      getParsedHeader(name: 'via'): DrachtioVia[];
    };
    const [top] = message.getParsedHeader('via');
    assert.equal(top.host, '[2001');
    assert.equal(top.params.branch, undefined);

    assert.equal(parseVia(via)?.params.get('branch'), 'z9hG4bKv6');
    assert.equal(parseVia(via)?.host, '[2001:db8::1]');
  });

  it('drachtio counts Content-Length in UTF-16 code units; ours counts bytes', () => {
    const body = 'Grüße';
    const drachtio = new DrachtioSipMessage({ status: 200, reason: 'OK', headers: {}, body }).toString();
    assert.match(drachtio, /Content-Length: 5\r\n/);
    const ours = serializeSipMessage(new SipResponse(200, 'OK', SipHeaders.of([]), body)).toString();
    assert.match(ours, /Content-Length: 7\r\n/);
  });

  it('drachtio writes parsed header names in lower case; ours in the usual spelling', () => {
    const text = `${HEAD}Via: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bKx\r\nContent-Length: 0\r\n\r\n`;
    const drachtio = new DrachtioSipMessage(text).toString();
    for (const lower of ['via: ', 'from: ', 'cseq: ']) assert.ok(drachtio.includes(`\r\n${lower}`), lower);
    const ours = serializeSipMessage(parsed(text)).toString();
    for (const usual of ['Via: ', 'From: ', 'CSeq: ']) assert.ok(ours.includes(`\r\n${usual}`), usual);
  });

  it('apart from those two habits, our serialiser writes what drachtio\'s SipMessage.toString() writes', () => {
    /** drachtio's text for the same message, given the usual spellings and an ASCII body. */
    const drachtioText = (message: SipMessage): string => {
      const headers = Object.fromEntries([...message.headers].map(([name, value]) => [displayName(name), value]));
      const start = message.type === 'request' ? { method: message.method, uri: message.uri } : { status: message.status, reason: message.reason };
      return new DrachtioSipMessage({ ...start, headers, body: message.body }).toString();
    };
    const register = buildRegisterRequest({
      requestUri: 'sip:example.com', aor: 'sip:alice@example.com', fromTag: 'f1', callId: 'c1', cseq: 51,
      contact: 'sip:alice@192.0.2.10:5060', expires: 3600, route: ['sip:proxy.example.com;lr'],
      credentials: [{ name: 'Authorization', value: 'Digest username="alice", realm="example.com", nonce="n", uri="sip:example.com", response="0123"' }],
      userAgent: 'db-reg-agent',
    });
    assert.equal(serializeSipMessage(register).toString(), drachtioText(register));
    const answer = new SipResponse(200, 'OK', SipHeaders.of([['Via', 'SIP/2.0/UDP 1.2.3.4;branch=z9hG4bKx'], ['Content-Type', 'text/plain']]), 'hello\r\n');
    assert.equal(serializeSipMessage(answer).toString(), drachtioText(answer));
  });

  it('drachtio leaves folded lines folded; ours unfolds them', () => {
    const text = `${HEAD}Via: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bKx\r\nContact: <sip:a@b>;\r\n expires=60\r\n\r\n`;
    assert.equal(new DrachtioSipMessage(text).headers.contact, '<sip:a@b>;\r\n expires=60');
    assert.equal(parsed(text).headers.get('contact'), '<sip:a@b>; expires=60');
  });

  it('drachtio joins repeated rows of any header with ",", so authentication rows cannot stay apart', () => {
    const text = `${HEAD}Via: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bKx\r\n`
      + 'WWW-Authenticate: Digest realm="r", nonce="1", algorithm=MD5\r\n'
      + 'WWW-Authenticate: Digest realm="r", nonce="2", algorithm=SHA-256\r\n\r\n';
    const joined = 'Digest realm="r", nonce="1", algorithm=MD5,Digest realm="r", nonce="2", algorithm=SHA-256';
    assert.equal(new DrachtioSipMessage(text).headers['www-authenticate'], joined);
    assert.equal(parsed(text).headers.get('www-authenticate'), joined);
    // Building one is refused rather than written as a combined row (§7.3.1).
    assert.throws(() => SipHeaders.of([['WWW-Authenticate', 'Digest a=1'], ['WWW-Authenticate', 'Digest b=2']]), TypeError);
  });

  it('drachtio throws on garbage, takes an empty string for a message and any number of status digits', () => {
    assert.throws(() => new DrachtioSipMessage('garbage'), /failed to parse sip message/);
    assert.equal(new DrachtioSipMessage('').status, undefined);
    assert.equal(new DrachtioSipMessage('SIP/2.0 99999 Odd\r\n\r\n').status, 99999);

    assert.equal(parseSipMessage('garbage').ok, false);
    assert.equal(parseSipMessage('').ok, false);
    assert.equal(parseSipMessage(`${HEAD.replace('200', '99999')}Via: SIP/2.0/UDP h;branch=z9hG4bKx\r\n\r\n`).ok, false);
  });
});
