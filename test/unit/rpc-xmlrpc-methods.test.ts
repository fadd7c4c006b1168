import { strict as assert } from 'node:assert';
import { DiDouble } from '../../src/core/di';
import { LogLevel, getLogLevel, logger, setLogLevel } from '../../src/process/log';
import { RpcControl } from '../../src/rpc/builtins';
import { XmlRpcMethods, type XmlRpcMethodOptions, type XmlRpcOutcome } from '../../src/rpc/xmlrpc-methods';
import { captureStderr, makeFixture, type Fixture } from '../support/rpc-fixtures';

const BUILTINS = [
  'calls', 'get_loglevel', 'set_loglevel', 'get_shutdownmode', 'set_shutdownmode', 'get_callsavg',
  'get_callsmax', 'get_cpsavg', 'get_cpsmax', 'get_cpslimit', 'set_cpslimit',
];

function fault(outcome: XmlRpcOutcome): [number, string] {
  assert.ok('fault' in outcome, `expected a fault, got ${JSON.stringify(outcome)}`);
  return [outcome.fault.faultCode, outcome.fault.faultString];
}

function value(outcome: XmlRpcOutcome): unknown {
  assert.ok('value' in outcome, `expected a value, got ${JSON.stringify(outcome)}`);
  return outcome.value;
}

describe('rpc XML-RPC method table', () => {
  let fixture: Fixture;
  let savedLevel: LogLevel;
  const options = (o: Partial<XmlRpcMethodOptions> = {}): XmlRpcMethodOptions => ({
    exportDi: true,
    directExport: ['db_reg_agent'],
    debugServerParams: false,
    debugServerResult: false,
    ...o,
  });
  const make = (o: Partial<XmlRpcMethodOptions> = {}, control = new RpcControl()): XmlRpcMethods =>
    new XmlRpcMethods(fixture.registry, control, options(o), logger('test'));

  beforeEach(() => {
    fixture = makeFixture();
    savedLevel = getLogLevel();
    setLogLevel(LogLevel.Error);
  });
  afterEach(() => setLogLevel(savedLevel));

  it('has the built-ins, di, and each direct-export function as fn and iface.fn', () => {
    const names = make().names();
    for (const name of [...BUILTINS, 'di', 'createRegistration', 'db_reg_agent.createRegistration',
      'removeRegistration', 'db_reg_agent.removeRegistration']) {
      assert.ok(names.includes(name), name);
    }
    assert.ok(!names.includes('_list'), '_list is not among the functions');
  });

  it('has no di method with export_di=no', async () => {
    const methods = make({ exportDi: false });
    assert.ok(!methods.names().includes('di'));
    assert.deepEqual(fault(await methods.execute('di', ['db_reg_agent', '_list'])), [-1, 'di: unknown method name']);
  });

  it('exports a clashing name only as iface.fn, and skips an interface that does not exist', async () => {
    let methods!: XmlRpcMethods;
    const log = await captureStderr(async () => {
      methods = make({ directExport: ['testbed', 'missing_iface'] });
    });
    assert.equal(value(await methods.execute('calls', [])), 0, 'calls stays the built-in');
    assert.equal(value(await methods.execute('testbed.calls', [])), 'testbed calls');
    assert.match(log, /name conflict for method 'calls' from interface 'testbed'/);
    assert.match(log, /DI interface 'missing_iface' could not be found/);
  });

  it('calls di(factory, function, args...) and direct exports into the interface', async () => {
    const methods = make();
    assert.deepEqual(value(await methods.execute('di', ['db_reg_agent', 'createRegistration', 1, 'u', 'p', 'r'])), [200, 'OK']);
    assert.deepEqual(value(await methods.execute('createRegistration', [2, 'u', 'p', 'r', 'sip:c@h'])), [200, 'OK']);
    assert.deepEqual(value(await methods.execute('db_reg_agent.refreshRegistration', [3])), [200, 'OK']);
    assert.deepEqual(fixture.agent.calls.map((c) => [c.fn, c.args]), [
      ['createRegistration', [1, 'u', 'p', 'r']],
      ['createRegistration', [2, 'u', 'p', 'r', 'sip:c@h']],
      ['refreshRegistration', [3]],
    ]);
    assert.deepEqual(value(await methods.execute('di', ['db_reg_agent', '_list'])), fixture.agent.functions());
  });

  it('answers every DI failure with the fault SEMS sends', async () => {
    const methods = make();
    const cases: Array<[string, unknown[], number, string]> = [
      ['di', [], 400, 'need at least factory name and function name to call'],
      ['di', ['db_reg_agent'], 400, 'need at least factory name and function name to call'],
      ['di', ['nope', 'f'], 500, 'could not get factory'],
      ['di', ['db_reg_agent', 'frob'], 504, 'Exception: AmDynInvoke::NotImplemented: frob'],
      ['di', ['db_reg_agent', 'createRegistration', 1, 'u', 'p'], 300,
        'Exception: AmArg out of bounds - parameter number mismatch.'],
      ['di', ['db_reg_agent', 'createRegistration', 'one', 'u', 'p', 'r'], 300, 'Exception: Type mismatch in arguments.'],
      ['createRegistration', [1], 300, 'Exception: AmArg out of bounds - parameter number mismatch.'],
      ['di', [1, 'f'], -1, 'type error'],
      ['di', ['db_reg_agent', 'createRegistration', new Date(0), 'u', 'p', 'r'], 400, 'unsupported parameter type'],
      ['di', ['testbed', 'explode'], 500, 'Exception: boom'],
      ['di', ['testbed', 'throwString'], 500, 'Exception: plain string'],
      ['di', ['testbed', 'throwNumber'], 500, 'Exception occured.'],
      ['no_such_method', [], -1, 'no_such_method: unknown method name'],
    ];
    await captureStderr(async () => {
      for (const [method, params, code, text] of cases) {
        assert.deepEqual(fault(await methods.execute(method, params)), [code, text], `${method}(${params.join(', ')})`);
      }
    });
    assert.equal(fixture.agent.calls.length, 0, 'no failed call reached the engine');
  });

  it('maps results: empty result → int 0, structs, nested arrays', async () => {
    const methods = make();
    assert.equal(value(await methods.execute('di', ['testbed', 'nothing'])), 0);
    assert.deepEqual(value(await methods.execute('di', ['testbed', 'shapes'])), {
      int: 42, negative: -7, double: 1.5, text: 'a<b&c', flag: true, list: [1, 'two', [3]], nil: 0,
    });
    let nan!: XmlRpcOutcome;
    const log = await captureStderr(async () => {
      nan = await methods.execute('di', ['testbed', 'nan']);
    });
    assert.match(fault(nan)[1], /^Exception: result NaN/);
    assert.match(log, /ERROR: \[test\] di: Error: result NaN/, 'an engine result that cannot be sent is an error');
  });

  it('runs the built-ins with SEMS result shapes, and set_loglevel really changes the level', async () => {
    const control = new RpcControl();
    const methods = make({}, control);
    for (const name of ['calls', 'get_callsavg', 'get_callsmax', 'get_cpsavg', 'get_cpsmax']) {
      assert.equal(value(await methods.execute(name, [])), 0, name);
    }
    assert.equal(value(await methods.execute('set_loglevel', [1])), '200 OK');
    assert.equal(getLogLevel(), LogLevel.Warn);
    assert.equal(value(await methods.execute('get_loglevel', [])), 1);
    assert.equal(value(await methods.execute('get_shutdownmode', [])), false);
    assert.equal(value(await methods.execute('set_shutdownmode', [true])), '200 OK');
    assert.equal(value(await methods.execute('get_shutdownmode', [])), true);
    assert.equal(control.shutdownMode, true);
    assert.equal(value(await methods.execute('get_cpslimit', [])), '0 0');
    assert.equal(value(await methods.execute('set_cpslimit', [25])), '200 OK');
    assert.equal(value(await methods.execute('get_cpslimit', [])), '25 25');
    for (const [name, params] of [['set_loglevel', ['3']], ['set_loglevel', []], ['set_shutdownmode', [1]],
      ['set_cpslimit', [-1]], ['set_cpslimit', [1.5]], ['set_loglevel', [new DiDouble(1)]]] as Array<[string, unknown[]]>) {
      assert.deepEqual(fault(await methods.execute(name, params)), [-1, 'type error'], `${name}(${params.join()})`);
    }
    assert.equal(getLogLevel(), LogLevel.Warn, 'a refused set_loglevel changes nothing');
  });

  it('runs system.multicall: a result array per entry, faults in place', async () => {
    const methods = make();
    const results = value(
      await methods.execute('system.multicall', [[
        { methodName: 'calls', params: [] },
        { methodName: 'createRegistration', params: [1, 'u', 'p', 'r'] },
        { methodName: 'di', params: ['nope', 'f'] },
        { methodName: 'missing', params: [] },
        { params: [] },
        { methodName: 'system.multicall', params: [[]] },
      ]]),
    );
    assert.deepEqual(results, [
      [0],
      [[200, 'OK']],
      { faultCode: 500, faultString: 'could not get factory' },
      { faultCode: -1, faultString: 'missing: unknown method name' },
      { faultCode: -1, faultString: 'system.multicall: Invalid argument (expected a struct with members methodName and params)' },
      { faultCode: -1, faultString: 'system.multicall: nested system.multicall is not allowed' },
    ]);
    assert.deepEqual(fault(await methods.execute('system.multicall', ['x'])), [
      -1, 'system.multicall: Invalid argument (expected an array)',
    ]);
  });
});
