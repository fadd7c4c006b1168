import assert from 'node:assert/strict';
import { readContentLength, StreamFramer } from '../../src/sip/transport/stream-framer';

const HEAD = 'SIP/2.0 200 OK\r\nVia: SIP/2.0/TCP h;branch=z9hG4bKa\r\nCSeq: 1 REGISTER\r\n';
const EMPTY = `${HEAD}Content-Length: 0\r\n\r\n`;
const WITH_BODY = `${HEAD}Content-Length: 5\r\n\r\nhello`;

function strings(buffers: Buffer[]): string[] {
  return buffers.map((b) => b.toString());
}

describe('SIP messages: framing a TCP/TLS stream by Content-Length (RFC 3261 §18.3)', () => {
  it('cuts several messages out of one chunk', () => {
    const framed = new StreamFramer().push(Buffer.from(EMPTY + WITH_BODY + EMPTY));
    assert.deepEqual(strings(framed.messages), [EMPTY, WITH_BODY, EMPTY]);
    assert.equal(framed.error, undefined);
  });

  it('reassembles a message fed one byte at a time', () => {
    const framer = new StreamFramer();
    const out: Buffer[] = [];
    for (const byte of Buffer.from(WITH_BODY + EMPTY)) out.push(...framer.push(Buffer.from([byte])).messages);
    assert.deepEqual(strings(out), [WITH_BODY, EMPTY]);
  });

  it('waits for the whole body, the terminator split across chunks included', () => {
    const framer = new StreamFramer();
    const cut = WITH_BODY.indexOf('\r\n\r\n') + 2;
    assert.deepEqual(framer.push(Buffer.from(WITH_BODY.slice(0, cut))).messages, []);
    assert.deepEqual(framer.push(Buffer.from(WITH_BODY.slice(cut, -2))).messages, []);
    assert.deepEqual(strings(framer.push(Buffer.from(WITH_BODY.slice(-2))).messages), [WITH_BODY]);
  });

  it('skips CRLF keep-alives between messages (§7.5, RFC 5626)', () => {
    const framed = new StreamFramer().push(Buffer.from(`\r\n\r\n${EMPTY}\r\n${EMPTY}\r\n\r\n`));
    assert.deepEqual(strings(framed.messages), [EMPTY, EMPTY]);
  });

  it('reads the compact form l: and takes a missing Content-Length as 0', () => {
    assert.equal(readContentLength(`${HEAD}l: 12`), 12);
    assert.equal(readContentLength(`${HEAD}CONTENT-LENGTH :  7 `), 7);
    assert.equal(readContentLength(HEAD), 0);
    assert.equal(readContentLength(`${HEAD}X-Content-Length: 9`), 0);
    assert.equal(readContentLength(`${HEAD}Content-Length: -1`), undefined);
  });

  it('reports an error for a header section that never ends within the limit', () => {
    const framer = new StreamFramer(1000);
    assert.equal(framer.push(Buffer.from(`${HEAD}X-Big: ${'a'.repeat(500)}`)).error, undefined);
    assert.match(framer.push(Buffer.from('a'.repeat(600))).error ?? '', /no end of header section within 1000 bytes/);
  });

  it('reports an error for a Content-Length beyond the limit or malformed, after the good messages', () => {
    const tooBig = new StreamFramer(1000).push(Buffer.from(`${EMPTY}${HEAD}Content-Length: 5000\r\n\r\n`));
    assert.deepEqual(strings(tooBig.messages), [EMPTY]);
    assert.match(tooBig.error ?? '', /exceeds the 1000-byte limit/);
    assert.match(new StreamFramer().push(Buffer.from(`${HEAD}Content-Length: x\r\n\r\n`)).error ?? '', /malformed Content-Length/);
  });
});
