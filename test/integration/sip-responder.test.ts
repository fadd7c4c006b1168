/**
 * Requests reaching our SIP socket get a stateless answer: registrars that qualify
 * their contacts with OPTIONS must see us alive (SEMS answers them too).
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { openTransactionLayer, type TransactionLayer } from '../../src/sip/transaction-layer';
import { freePort } from '../support/ports';

function request(method: string, port: number): string {
  return [
    `${method} sip:alice@127.0.0.1:${port} SIP/2.0`,
    'Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK-qualify-1;rport',
    'From: <sip:registrar@127.0.0.1>;tag=reg1',
    'To: <sip:alice@127.0.0.1>',
    'Call-ID: qualify-call-1',
    `CSeq: 7 ${method}`,
    'Max-Forwards: 70',
    'Content-Length: 0',
    '', '',
  ].join('\r\n');
}

describe('SIP: requests to our socket', () => {
  let layer: TransactionLayer;
  let port: number;
  let peer: dgram.Socket;

  before(async () => {
    port = await freePort({ protocols: ['udp', 'tcp'] });
    layer = await openTransactionLayer({ name: 'default', ip: '127.0.0.1', port, advertisedIp: '127.0.0.1', portKey: 'sip_port' }, { userAgent: 'db-reg-agent test' });
    peer = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => peer.bind(0, '127.0.0.1', resolve));
  });
  after(async () => {
    peer.close();
    await layer.close();
  });

  /** Sends `text` and returns the first answer, or undefined after `waitMs`. */
  function exchange(text: string, waitMs = 1500): Promise<string | undefined> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        peer.off('message', onMessage);
        resolve(undefined);
      }, waitMs);
      const onMessage = (msg: Buffer): void => {
        clearTimeout(timer);
        peer.off('message', onMessage);
        resolve(msg.toString());
      };
      peer.on('message', onMessage);
      peer.send(text, port, '127.0.0.1');
    });
  }

  it('answers OPTIONS with 200, copying Via, From, Call-ID and CSeq and tagging To', async () => {
    const answer = await exchange(request('OPTIONS', port));
    assert.ok(answer, 'no answer');
    assert.match(answer, /^SIP\/2\.0 200 OK\r\n/);
    assert.match(answer, /\r\nVia: SIP\/2\.0\/UDP 127\.0\.0\.1:5999;branch=z9hG4bK-qualify-1;rport\r\n/);
    assert.match(answer, /\r\nFrom: <sip:registrar@127\.0\.0\.1>;tag=reg1\r\n/);
    assert.match(answer, /\r\nTo: <sip:alice@127\.0\.0\.1>;tag=[0-9a-f]+\r\n/);
    assert.match(answer, /\r\nCall-ID: qualify-call-1\r\n/);
    assert.match(answer, /\r\nCSeq: 7 OPTIONS\r\n/);
    assert.match(answer, /\r\nAllow: OPTIONS\r\n/);
    assert.match(answer, /\r\nServer: db-reg-agent test\r\n/);
  });

  it('answers other methods with 405 and does not answer ACK', async () => {
    const answer = await exchange(request('NOTIFY', port));
    assert.match(answer ?? '', /^SIP\/2\.0 405 Method Not Allowed\r\n/);
    assert.equal(await exchange(request('ACK', port), 500), undefined);
  });

  it('drops a request whose header holds a bare LF (it would inject a row into our answer) and goes on answering', async () => {
    const crafted = request('OPTIONS', port).replace(';rport\r\n', ';rport\nInjected: 1\r\n');
    assert.equal(await exchange(crafted, 500), undefined);
    assert.match((await exchange(request('OPTIONS', port))) ?? '', /^SIP\/2\.0 200 OK\r\n/);
  });
});
