import { strict as assert } from 'node:assert';
import { LogLevel, getLogLevel, logger, setLogLevel } from '../../src/process/log';
import { JsonRpcDispatcher } from '../../src/rpc/jsonrpc-dispatcher';
import { captureStderr, makeFixture, type Fixture } from '../support/rpc-fixtures';

describe('rpc JSON-RPC dispatcher', () => {
  let fixture: Fixture;
  let dispatcher: JsonRpcDispatcher;
  let savedLevel: LogLevel;

  const handle = async (message: unknown): Promise<unknown> => {
    const text = typeof message === 'string' ? message : JSON.stringify(message);
    const reply = await dispatcher.handleMessage(text);
    return reply === undefined ? undefined : JSON.parse(reply);
  };
  const request = (method: string, params?: unknown, id: unknown = 1): Record<string, unknown> => ({
    jsonrpc: '2.0', method, ...(params === undefined ? {} : { params }), id,
  });
  const error = (code: number, message: string, data: string, id: unknown = 1): unknown => ({
    jsonrpc: '2.0', error: { code, message, data }, id,
  });

  beforeEach(() => {
    fixture = makeFixture();
    dispatcher = new JsonRpcDispatcher(fixture.registry, logger('test'));
    savedLevel = getLogLevel();
    setLogLevel(LogLevel.Error);
  });
  afterEach(() => setLogLevel(savedLevel));

  it('runs <module>.<function> with the params array and echoes the id', async () => {
    assert.deepEqual(await handle(request('db_reg_agent.createRegistration', [1, 'u', 'p', 'r'], 'abc')), {
      jsonrpc: '2.0', result: [200, 'OK'], id: 'abc',
    });
    assert.deepEqual(await handle(request('db_reg_agent.removeRegistration', [1], 7)), { jsonrpc: '2.0', result: [200, 'OK'], id: 7 });
    assert.deepEqual(await handle(request('db_reg_agent._list', undefined, null)), {
      jsonrpc: '2.0', result: fixture.agent.functions(), id: null,
    });
    assert.deepEqual(fixture.agent.calls.map((c) => c.fn), ['createRegistration', 'removeRegistration']);
  });

  it('executes notifications without answering them, even when they fail', async () => {
    assert.equal(await handle({ jsonrpc: '2.0', method: 'db_reg_agent.refreshRegistration', params: [5] }), undefined);
    assert.equal(await handle({ jsonrpc: '2.0', method: 'nodot' }), undefined);
    assert.deepEqual(fixture.agent.calls, [{ fn: 'refreshRegistration', args: [5] }]);
  });

  it('answers each error with SEMS code, message and data', async () => {
    const cases: Array<[Record<string, unknown>, unknown]> = [
      [request('nodot'), error(-32601, 'Method not found', 'use module.method as rpc method name')],
      [request('nope.f'), error(-32601, 'Method not found', 'module not loaded')],
      [request('db_reg_agent.frob', []), error(-32601, 'Method not found', 'function unknown in module')],
      [request('db_reg_agent.createRegistration', [1]), error(-32602, 'Invalid params', 'out of bounds in function call')],
      [request('db_reg_agent.createRegistration', ['x', 'u', 'p', 'r']),
        error(-32602, 'Invalid params', 'parameters type mismatch in function call')],
      [request('db_reg_agent.createRegistration', { id: 1 }),
        error(-32602, 'Invalid params', 'parameters type mismatch in function call')],
      [request('testbed.explode', []), error(-32000, 'Server error', 'unexpected Exception')],
      [request('core.nope'), error(-32601, 'Method not found', 'function unknown in core')],
      [request('core.set_loglevel', []), error(-32602, 'Invalid params', 'out of bounds in function call')],
      [request('core.set_loglevel', ['3']), error(-32602, 'Invalid params', 'parameters type mismatch in function call')],
      // Absent or null params are SEMS's undefined AmArg, not an empty array.
      [request('db_reg_agent.refreshRegistration'), error(-32602, 'Invalid params', 'parameters type mismatch in function call')],
      [request('db_reg_agent.createRegistration', null), error(-32602, 'Invalid params', 'parameters type mismatch in function call')],
      [request('core.set_loglevel'), error(-32602, 'Invalid params', 'parameters type mismatch in function call')],
    ];
    await captureStderr(async () => {
      for (const [req, expected] of cases) assert.deepEqual(await handle(req), expected, JSON.stringify(req));
    });
  });

  it('answers malformed messages with -32700 / -32600', async () => {
    assert.deepEqual(await handle('{"jsonrpc": "2.0", "method": '), error(-32700, 'Parse error', 'invalid JSON', null));
    assert.deepEqual(await handle('[1,'), error(-32700, 'Parse error', 'invalid JSON', null));
    assert.deepEqual(await handle('"text"'), error(-32600, 'Invalid Request', 'not a JSON-RPC object', null));
    assert.deepEqual(await handle({ method: 'core.calls', id: 4 }),
      error(-32600, 'Invalid Request', 'only JSON-RPC 2.0 is supported', 4));
    assert.deepEqual(await handle({ jsonrpc: '2.0', method: 5, id: 4 }), error(-32600, 'Invalid Request', 'method must be a string', 4));
    assert.deepEqual(await handle({ jsonrpc: '2.0', method: 'core.calls', id: { x: 1 } }),
      error(-32600, 'Invalid Request', 'invalid id', null));
    assert.deepEqual(await handle('[]'), error(-32600, 'Invalid Request', 'empty batch', null));
  });

  it('does not quote the message in a parse error (it may hold a password)', async () => {
    const reply = JSON.stringify(await handle('{"params":[1,"u","hunter2" x]}'));
    assert.ok(!reply.includes('hunter2'), reply);
  });

  it('ignores responses sent to it', async () => {
    assert.equal(await handle({ jsonrpc: '2.0', result: 1, id: 3 }), undefined);
    assert.equal(await handle({ jsonrpc: '2.0', error: { code: 1 }, id: 3 }), undefined);
  });

  it('answers a batch with an array, leaving out notifications', async () => {
    const reply = await handle([
      request('core.calls', undefined, 1),
      { jsonrpc: '2.0', method: 'db_reg_agent.refreshRegistration', params: [9] },
      request('nodot', undefined, 2),
    ]);
    assert.deepEqual(reply, [
      { jsonrpc: '2.0', result: [0], id: 1 },
      error(-32601, 'Method not found', 'use module.method as rpc method name', 2),
    ]);
    assert.equal(await handle([{ jsonrpc: '2.0', method: 'core.calls' }]), undefined);
  });

  it('has the core methods of SEMS: calls → [0], get_loglevel → [level], set_loglevel → null', async () => {
    assert.deepEqual(await handle(request('core.calls')), { jsonrpc: '2.0', result: [0], id: 1 });
    const log = await captureStderr(async () => {
      assert.deepEqual(await handle(request('core.set_loglevel', [2])), { jsonrpc: '2.0', result: null, id: 1 });
    });
    assert.match(log, /log level set to 2/);
    assert.equal(getLogLevel(), LogLevel.Info);
    assert.deepEqual(await handle(request('core.get_loglevel')), { jsonrpc: '2.0', result: [2], id: 1 });
  });

  it('awaits a result that is a Promise', async () => {
    const pending = handle(request('testbed.hold', []));
    await new Promise((r) => setImmediate(r));
    assert.equal(fixture.testbed.heldCount, 1);
    fixture.testbed.release();
    assert.deepEqual(await pending, { jsonrpc: '2.0', result: 'released', id: 1 });
  });

  it('answers a result JSON cannot carry with -32000 instead of nothing', async () => {
    fixture.registry.register('odd', { functions: () => ['big'], invoke: () => BigInt(1) as unknown as null });
    assert.deepEqual(await handle(request('odd.big', [])), error(-32000, 'Server error', 'unexpected Exception'));
  });
});
