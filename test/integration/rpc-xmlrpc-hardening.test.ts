/**
 * The XML-RPC server against clients that misbehave: oversized bodies, slow or idle
 * connections, malformed XML, crowds, and peers outside allowed_clients.
 */
import { strict as assert } from 'node:assert';
import { connect, type Socket } from 'node:net';
import { ConfigFile } from '../../src/config/reader';
import { parseXmlRpcConfig, type XmlRpcConfig } from '../../src/config/rpc-config';
import { LogLevel, getLogLevel, setLogLevel } from '../../src/process/log';
import { RpcControl } from '../../src/rpc/builtins';
import { XmlRpcServer } from '../../src/rpc/xmlrpc-server';
import { closedWithin, makeFixture, methodCallXml, postXml, xmlRpcConfig } from '../support/rpc-fixtures';

const VALID_CALL = methodCallXml('di', ['db_reg_agent', 'createRegistration', '<int>1</int>', 'u', 'p', 'r']);
const OK_REPLY = /<value><int>200<\/int><\/value><value><string>OK<\/string><\/value>/;

function openSocket(port: number, host = '127.0.0.1'): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, host, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Collects what the server sends until it closes the connection. */
function collect(socket: Socket): { text: () => string } {
  let text = '';
  socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
  socket.on('error', () => undefined);
  return { text: () => text };
}

describe('rpc XML-RPC server hardening (integration)', () => {
  const servers: XmlRpcServer[] = [];
  let savedLevel: LogLevel;

  async function start(overrides: Partial<XmlRpcConfig>): Promise<number> {
    const server = new XmlRpcServer(xmlRpcConfig(overrides), makeFixture().registry, new RpcControl());
    await server.start();
    servers.push(server);
    return server.address().port;
  }

  beforeEach(() => {
    savedLevel = getLogLevel();
    setLogLevel(LogLevel.Error);
  });
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.stop(100)));
    setLogLevel(savedLevel);
  });

  describe('request body limit', () => {
    it('answers 413 to a declared Content-Length above the limit without waiting for the body', async () => {
      const port = await start({ maxBodyBytes: 1000 });
      const socket = await openSocket(port);
      const reply = collect(socket);
      socket.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\nContent-Length: 10000000\r\n\r\n<methodCall>');
      await closedWithin(socket, 3000);
      assert.match(reply.text(), /^HTTP\/1\.1 413 /);
    });

    it('stops a chunked body as soon as it exceeds the limit', async () => {
      const port = await start({ maxBodyBytes: 1000 });
      const socket = await openSocket(port);
      const reply = collect(socket);
      socket.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\nTransfer-Encoding: chunked\r\n\r\n');
      const chunk = `100\r\n${'x'.repeat(256)}\r\n`;
      let sent = 0;
      for (let i = 0; i < 200 && !socket.destroyed && reply.text() === ''; i++) {
        socket.write(chunk);
        sent += 256;
        await new Promise((r) => setTimeout(r, 2));
      }
      await closedWithin(socket, 3000);
      assert.match(reply.text(), /^HTTP\/1\.1 413 /);
      assert.ok(sent < 20 * 1000, `server read ${sent} bytes before refusing`);
    });

    it('accepts a body just under the limit', async () => {
      const port = await start({ maxBodyBytes: VALID_CALL.length });
      const reply = await postXml(port, VALID_CALL);
      assert.equal(reply.status, 200);
      assert.match(reply.body, OK_REPLY);
    });
  });

  describe('slow and idle clients (server_timeout)', () => {
    it('closes a connection whose request does not complete within server_timeout', async () => {
      const port = await start({ serverTimeoutMs: 300 });
      const socket = await openSocket(port);
      collect(socket);
      socket.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n<methodCall>');
      const started = Date.now();
      await closedWithin(socket, 3000);
      assert.ok(Date.now() - started >= 250, 'not before the timeout');
    });

    it('closes a connection that sends headers a byte at a time (slow loris)', async () => {
      const port = await start({ serverTimeoutMs: 300 });
      const socket = await openSocket(port);
      collect(socket);
      const header = 'POST / HTTP/1.1\r\nHost: example\r\nX-Padding: ' + 'a'.repeat(200);
      for (let i = 0; i < header.length && !socket.destroyed; i++) {
        socket.write(header[i] as string);
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.ok(socket.destroyed, 'closed before the header was complete');
    });

    it('closes an idle connection that never sends anything', async () => {
      const port = await start({ serverTimeoutMs: 300 });
      const socket = await openSocket(port);
      collect(socket);
      await closedWithin(socket, 3000);
    });

    it('answers, with the default server_timeout, a client that sends its request 0.8 s after connecting', async () => {
      const port = await start({ serverTimeoutMs: parseXmlRpcConfig(ConfigFile.parse('')).serverTimeoutMs });
      const socket = await openSocket(port);
      const reply = collect(socket);
      await new Promise((r) => setTimeout(r, 800));
      socket.write(`POST /RPC2 HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\nConnection: close\r\nContent-Length: ${Buffer.byteLength(VALID_CALL)}\r\n\r\n${VALID_CALL}`);
      await closedWithin(socket, 3000);
      assert.match(reply.text(), /^HTTP\/1\.1 200 /);
      assert.match(reply.text(), OK_REPLY);
    });

    it('keeps answering while slow clients hold connections', async () => {
      const port = await start({ serverTimeoutMs: 2000 });
      const stalled = await Promise.all(Array.from({ length: 50 }, () => openSocket(port)));
      stalled.forEach((s) => {
        collect(s);
        s.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n<method');
      });
      const reply = await postXml(port, VALID_CALL);
      assert.match(reply.body, OK_REPLY);
      stalled.forEach((s) => s.destroy());
    });
  });

  it('answers many concurrent connections', async () => {
    const port = await start({});
    const replies = await Promise.all(Array.from({ length: 200 }, () => postXml(port, VALID_CALL)));
    assert.equal(replies.filter((r) => r.status === 200 && OK_REPLY.test(r.body)).length, 200);
  });

  it('answers malformed XML with a fault and keeps serving', async () => {
    const port = await start({});
    for (const body of ['<methodCall><methodName>di</methodName><params><param>', '\u0000\u00ff garbage', '']) {
      const reply = await postXml(port, body);
      assert.equal(reply.status, 200, body);
      assert.match(reply.body, /<name>faultCode<\/name><value><int>-1<\/int><\/value>/, body);
    }
    assert.match((await postXml(port, VALID_CALL)).body, OK_REPLY);
  });

  describe('allowed_clients', () => {
    it('closes connections from peers outside the list', async () => {
      const port = await start({ allowedClients: ['10.0.0.0/8', '2001:db8::/32'] });
      await assert.rejects(postXml(port, VALID_CALL), /ECONNRESET|socket hang up/);
    });

    it('serves peers inside the list', async () => {
      const port = await start({ allowedClients: ['10.0.0.0/8', '127.0.0.1/32'] });
      assert.match((await postXml(port, VALID_CALL)).body, OK_REPLY);
    });

    it('matches IPv4 rules for IPv4 clients of a dual-stack listener, and IPv6 rules for IPv6 ones', async () => {
      const port = await start({ listen: '::', allowedClients: ['127.0.0.0/8'] });
      assert.match((await postXml(port, VALID_CALL, { host: '127.0.0.1' })).body, OK_REPLY);
      await assert.rejects(postXml(port, VALID_CALL, { host: '::1' }), /ECONNRESET|socket hang up/);

      const port6 = await start({ listen: '::', allowedClients: ['::1/128'] });
      assert.match((await postXml(port6, VALID_CALL, { host: '::1' })).body, OK_REPLY);
      await assert.rejects(postXml(port6, VALID_CALL, { host: '127.0.0.1' }), /ECONNRESET|socket hang up/);
    });
  });
});
