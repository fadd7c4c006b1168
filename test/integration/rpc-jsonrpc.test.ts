/**
 * The JSON-RPC server over real TCP on loopback, driven by a raw client that writes
 * netstrings: success, each error, pipelining, malformed frames, deadlines,
 * allowed_clients, and shutdown.
 */
import { strict as assert } from 'node:assert';
import type { JsonRpcConfig } from '../../src/config/rpc-config';
import { LogLevel, getLogLevel, setLogLevel } from '../../src/process/log';
import { JsonRpcServer } from '../../src/rpc/jsonrpc-server';
import {
  NetstringClient,
  captureStderr,
  closedWithin,
  jsonRpcConfig,
  makeFixture,
  netstring,
  type Fixture,
} from '../support/rpc-fixtures';

const request = (method: string, params: unknown[] | undefined, id: unknown): Record<string, unknown> => ({
  jsonrpc: '2.0', method, ...(params === undefined ? {} : { params }), id,
});
const ok = (result: unknown, id: unknown): unknown => ({ jsonrpc: '2.0', result, id });
const err = (code: number, message: string, data: string, id: unknown): unknown => ({
  jsonrpc: '2.0', error: { code, message, data }, id,
});

describe('rpc JSON-RPC server (integration)', () => {
  let fixture: Fixture;
  let server: JsonRpcServer;
  let port: number;
  let savedLevel: LogLevel;
  const clients: NetstringClient[] = [];

  async function startServer(overrides: Partial<JsonRpcConfig> = {}): Promise<void> {
    fixture = makeFixture();
    server = new JsonRpcServer(jsonRpcConfig(overrides), fixture.registry);
    await server.start();
    port = server.address().port;
  }
  async function open(host?: string): Promise<NetstringClient> {
    const client = await NetstringClient.open(port, host);
    clients.push(client);
    return client;
  }

  beforeEach(async () => {
    savedLevel = getLogLevel();
    setLogLevel(LogLevel.Error);
    await startServer();
  });
  afterEach(async () => {
    clients.splice(0).forEach((c) => c.close());
    await server.stop(100);
    setLogLevel(savedLevel);
  });

  it('creates registrations with 4 to 7 parameters and echoes string and number ids', async () => {
    const client = await open();
    const forms = [
      [1, 'alice', 'pw', 'example.org'],
      [2, 'bob', 'pw', 'example.org', 'sip:bob@192.0.2.1'],
      [3, 'carol', 'pw', 'example.org', '', 'carol-auth'],
      [4, 'dave', 'pw', 'example.org', '', '', 'peering'],
      [5, 'erin', 'pw', 'example.org', '', '', 'undefined'],
    ];
    for (const [i, params] of forms.entries()) {
      const id = i % 2 ? `id-${i}` : i;
      assert.deepEqual(await client.call(request('db_reg_agent.createRegistration', params, id)), ok([200, 'OK'], id));
    }
    assert.deepEqual(fixture.agent.calls.map((c) => c.args), forms);
  });

  it('answers core.calls, core.get_loglevel and core.set_loglevel like SEMS', async () => {
    const client = await open();
    assert.deepEqual(await client.call(request('core.calls', undefined, 1)), ok([0], 1));
    assert.deepEqual(await client.call(request('core.set_loglevel', [1], 2)), ok(null, 2));
    assert.equal(getLogLevel(), LogLevel.Warn);
    assert.deepEqual(await client.call(request('core.get_loglevel', [], 3)), ok([1], 3));
  });

  it('answers each error code', async () => {
    const client = await open();
    const cases: Array<[unknown, unknown]> = [
      [request('createRegistration', [], 1), err(-32601, 'Method not found', 'use module.method as rpc method name', 1)],
      [request('nope.createRegistration', [], 2), err(-32601, 'Method not found', 'module not loaded', 2)],
      [request('db_reg_agent.frob', [], 3), err(-32601, 'Method not found', 'function unknown in module', 3)],
      [request('db_reg_agent.createRegistration', [1, 'u'], 4), err(-32602, 'Invalid params', 'out of bounds in function call', 4)],
      [request('db_reg_agent.createRegistration', ['1', 'u', 'p', 'r'], 5),
        err(-32602, 'Invalid params', 'parameters type mismatch in function call', 5)],
      [{ jsonrpc: '2.0', method: 'db_reg_agent.refreshRegistration', params: { id: 1 }, id: 6 },
        err(-32602, 'Invalid params', 'parameters type mismatch in function call', 6)],
      [request('db_reg_agent.removeRegistration', [1, 'trunk'], 8),
        err(-32602, 'Invalid params', 'parameters type mismatch in function call', 8)],
      [request('db_reg_agent.refreshRegistration', [2 ** 31], 10),
        err(-32602, 'Invalid params', 'parameters type mismatch in function call', 10)],
      [request('db_reg_agent.removeRegistration', undefined, 11),
        err(-32602, 'Invalid params', 'parameters type mismatch in function call', 11)],
      [request('testbed.explode', [], 7), err(-32000, 'Server error', 'unexpected Exception', 7)],
      ['{"jsonrpc":"2.0",', err(-32700, 'Parse error', 'invalid JSON at position 17', null)],
      [{ jsonrpc: '1.0', method: 'core.calls', id: 9 }, err(-32600, 'Invalid Request', 'only JSON-RPC 2.0 is supported', 9)],
    ];
    await captureStderr(async () => {
      for (const [req, expected] of cases) assert.deepEqual(await client.call(req), expected, JSON.stringify(req));
    });
    assert.equal(fixture.agent.calls.length, 0);
  });

  it('answers pipelined requests in order, all on one connection, including slow ones', async () => {
    const client = await open();
    const batch = Array.from({ length: 20 }, (_, i) =>
      i === 3 ? request('testbed.hold', [], i) : request('db_reg_agent.refreshRegistration', [i], i),
    );
    client.send(batch.map(netstring).join(''));
    while (fixture.testbed.heldCount === 0) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(client.replies.length, 3, 'requests after the slow one wait for it');
    fixture.testbed.release();
    const replies = await client.waitForReplies(20);
    assert.deepEqual(replies.map((r) => (r as { id: number }).id), batch.map((_, i) => i));
    assert.deepEqual((replies[3] as { result: unknown }).result, 'released');
    assert.deepEqual(await client.call(request('core.calls', undefined, 'again')), ok([0], 'again'), 'still usable');
  });

  it('executes notifications without answering them', async () => {
    const client = await open();
    client.send(netstring({ jsonrpc: '2.0', method: 'db_reg_agent.removeRegistration', params: [8] }));
    assert.deepEqual(await client.call(request('core.calls', undefined, 1)), ok([0], 1));
    assert.equal(client.replies.length, 1);
    assert.deepEqual(fixture.agent.calls, [{ fn: 'removeRegistration', args: [8] }]);
  });

  it('answers requests split across many small writes', async () => {
    const client = await open();
    const wire = netstring(request('db_reg_agent.createRegistration', [1, 'u', 'p', 'r'], 'split'));
    for (let i = 0; i < wire.length; i += 7) {
      client.send(wire.slice(i, i + 7));
      await new Promise((r) => setImmediate(r));
    }
    assert.deepEqual(await client.waitForReplies(1), [ok([200, 'OK'], 'split')]);
  });

  describe('malformed frames', () => {
    const cases: Array<[string, string]> = [
      ['bare JSON', '{"jsonrpc":"2.0","method":"core.calls","id":1}'],
      ['a non-digit length', '1a:{},'],
      ['a missing comma', '2:{}x'],
      ['a length above max_body_bytes', `${64 * 1024 + 1}:`],
    ];
    for (const [name, wire] of cases) {
      it(`answers ${name} with -32700 after earlier replies, closes, and a new connection works`, async () => {
        const client = await open();
        await captureStderr(async () => {
          client.send(netstring(request('core.calls', undefined, 'before')) + wire);
          await closedWithin(client.socket, 3000);
        });
        assert.deepEqual(client.replies[0], ok([0], 'before'));
        assert.equal(client.replies.length, 2);
        assert.deepEqual((client.replies[1] as { error: { code: number } }).error.code, -32700);
        const next = await open();
        assert.deepEqual(await next.call(request('core.calls', undefined, 'after')), ok([0], 'after'));
      });
    }
  });

  it('answers a request whose client shuts down its sending side right after it', async () => {
    const client = await open();
    client.socket.end(netstring(request('db_reg_agent.refreshRegistration', [1], 'last')));
    await closedWithin(client.socket, 3000);
    assert.deepEqual(client.replies, [ok([200, 'OK'], 'last')]);
  });

  describe('deadlines (server_timeout)', () => {
    it('disconnects an idle client', async () => {
      await server.stop(100);
      await startServer({ serverTimeoutMs: 300 });
      const client = await open();
      assert.deepEqual(await client.call(request('core.calls', undefined, 1)), ok([0], 1));
      await closedWithin(client.socket, 3000);
    });

    it('disconnects a client that takes too long to complete a frame, even if it keeps sending', async () => {
      await server.stop(100);
      await startServer({ serverTimeoutMs: 300 });
      const client = await open();
      const wire = netstring(request('core.calls', undefined, 1));
      for (let i = 0; i < wire.length - 1 && !client.socket.destroyed; i++) {
        client.send(wire[i] as string);
        await new Promise((r) => setTimeout(r, 40));
      }
      assert.ok(client.socket.destroyed || client.socket.readableEnded, 'closed before the frame was complete');
      assert.equal(client.replies.length, 0);
    });

    it('does not cut a client off while its call takes longer than the timeout', async () => {
      await server.stop(100);
      await startServer({ serverTimeoutMs: 200 });
      const client = await open();
      client.send(netstring(request('testbed.hold', [], 'slow')));
      await new Promise((r) => setTimeout(r, 600));
      fixture.testbed.release();
      assert.deepEqual(await client.waitForReplies(1), [ok('released', 'slow')]);
    });
  });

  describe('allowed_clients', () => {
    it('closes connections from peers outside the list without reading them', async () => {
      await server.stop(100);
      await startServer({ allowedClients: ['192.0.2.0/24'] });
      const client = await open();
      client.send(netstring(request('db_reg_agent.refreshRegistration', [1], 1)));
      await closedWithin(client.socket, 3000);
      assert.equal(client.replies.length, 0);
      assert.equal(fixture.agent.calls.length, 0);
    });

    it('serves IPv4 peers of a dual-stack listener through an IPv4 rule', async () => {
      await server.stop(100);
      await startServer({ listen: '::', allowedClients: ['127.0.0.1'] });
      const client = await open('127.0.0.1');
      assert.deepEqual(await client.call(request('core.calls', undefined, 1)), ok([0], 1));
      const v6 = await open('::1');
      await closedWithin(v6.socket, 3000);
    });
  });

  it('stops accepting at stop() but answers what it has received', async () => {
    const client = await open();
    client.send(netstring(request('testbed.hold', [], 'inflight')));
    while (fixture.testbed.heldCount === 0) await new Promise((r) => setTimeout(r, 5));
    const stopped = server.stop(5000);
    await assert.rejects(NetstringClient.open(port), /ECONNREFUSED/);
    fixture.testbed.release();
    assert.deepEqual(await client.waitForReplies(1), [ok('released', 'inflight')]);
    client.close();
    await stopped;
  });
});
