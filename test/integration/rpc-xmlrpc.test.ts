/**
 * The XML-RPC server as provisioning scripts see it: the `xmlrpc` npm client and
 * Python's xmlrpc.client against a real server on loopback.
 */
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import xmlrpc from 'xmlrpc';
import { LogLevel, getLogLevel, setLogLevel } from '../../src/process/log';
import { RpcControl } from '../../src/rpc/builtins';
import { XmlRpcServer } from '../../src/rpc/xmlrpc-server';
import {
  captureStderr,
  makeFixture,
  methodCallXml,
  postXml,
  xmlRpcConfig,
  type Fixture,
} from '../support/rpc-fixtures';
import type { XmlRpcConfig } from '../../src/config/rpc-config';

interface Fault {
  faultCode: number;
  faultString: string;
}

function nodeCall(port: number, method: string, params: unknown[]): Promise<{ value?: unknown; fault?: Fault }> {
  const client = xmlrpc.createClient({ host: '127.0.0.1', port, path: '/RPC2' });
  return new Promise((resolve, reject) => {
    client.methodCall(method, params, (error: unknown, value: unknown) => {
      if (!error) return resolve({ value });
      const fault = error as Partial<Fault> & Error;
      if (typeof fault.faultCode === 'number') {
        return resolve({ fault: { faultCode: fault.faultCode, faultString: String(fault.faultString) } });
      }
      reject(error);
    });
  });
}

/** Python's xmlrpc.client: runs every case, reports values with their Python types, faults, and a raw reply. */
const PYTHON_CLIENT = `
import http.client, json, sys, xmlrpc.client
port = int(sys.argv[1])
proxy = xmlrpc.client.ServerProxy('http://127.0.0.1:%d/RPC2' % port)
def run(method, args):
    try:
        value = getattr(proxy, method)(*args)
    except xmlrpc.client.Fault as fault:
        return {'fault': [fault.faultCode, fault.faultString]}
    items = [type(x).__name__ for x in value] if isinstance(value, list) else None
    return {'value': value, 'type': type(value).__name__, 'items': items}
results = {label: run(method, args) for label, method, args in json.loads(sys.argv[2])}
conn = http.client.HTTPConnection('127.0.0.1', port, timeout=10)
conn.request('POST', '/RPC2', xmlrpc.client.dumps((1, 'u', 'p', 'r'), 'createRegistration'), {'Content-Type': 'text/xml'})
raw = conn.getresponse().read().decode()
print(json.dumps({'results': results, 'raw': raw}))
`;

type PythonResult = { value?: unknown; type?: string; items?: string[] | null; fault?: [number, string] };

function pythonCalls(
  port: number,
  cases: Array<[string, string, unknown[]]>,
): Promise<{ results: Record<string, PythonResult>; raw: string }> {
  return new Promise((resolve, reject) => {
    execFile('python3', ['-c', PYTHON_CLIENT, String(port), JSON.stringify(cases)], { timeout: 15_000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`python3 failed: ${err.message}\n${stderr}`));
      resolve(JSON.parse(stdout));
    });
  });
}

const CREATE_FORMS: Array<[string, unknown[]]> = [
  ['4 arguments', [1, 'alice', 'pw1', 'example.org']],
  ['5 arguments', [2, 'bob', 'pw2', 'example.org', 'sip:bob@192.0.2.1:5060']],
  ['6 arguments', [3, 'carol', 'pw3', 'example.org', '', 'carol-auth']],
  ['7 arguments', [4, 'dave', 'pw4', 'example.org', '', '', 'peering']],
];

/** Every fault xmlrpc2di sends, as [method, params, code, string]. */
const FAULTS: Array<[string, unknown[], number, string]> = [
  ['di', ['db_reg_agent'], 400, 'need at least factory name and function name to call'],
  ['di', ['no_such_factory', 'createRegistration'], 500, 'could not get factory'],
  ['di', ['db_reg_agent', 'frobnicate'], 504, 'Exception: AmDynInvoke::NotImplemented: frobnicate'],
  ['di', ['db_reg_agent', 'createRegistration', 1, 'u', 'p'], 300, 'Exception: AmArg out of bounds - parameter number mismatch.'],
  ['di', ['db_reg_agent', 'createRegistration', 1, 'u', 'p', 'r', 's', 'a', 't', 'x'], 300,
    'Exception: AmArg out of bounds - parameter number mismatch.'],
  ['di', ['db_reg_agent', 'createRegistration', 'one', 'u', 'p', 'r'], 300, 'Exception: Type mismatch in arguments.'],
  ['removeRegistration', [], 300, 'Exception: AmArg out of bounds - parameter number mismatch.'],
  ['removeRegistration', [1, 'trunk'], 300, 'Exception: Type mismatch in arguments.'],
  ['di', ['testbed', 'explode'], 500, 'Exception: boom'],
  ['frobnicate', [], -1, 'frobnicate: unknown method name'],
];

const BUILTIN_RESULTS: Array<[string, unknown[], unknown]> = [
  ['calls', [], 0],
  ['get_callsavg', [], 0],
  ['get_callsmax', [], 0],
  ['get_cpsavg', [], 0],
  ['get_cpsmax', [], 0],
  ['get_cpslimit', [], '0 0'],
  ['set_cpslimit', [10], '200 OK'],
  ['get_shutdownmode', [], false],
  ['set_shutdownmode', [false], '200 OK'],
  ['set_loglevel', [0], '200 OK'],
  ['get_loglevel', [], 0],
];

describe('rpc XML-RPC server (integration)', () => {
  let fixture: Fixture;
  let server: XmlRpcServer;
  let port: number;
  let savedLevel: LogLevel;

  async function startServer(overrides: Partial<XmlRpcConfig> = {}): Promise<void> {
    fixture = makeFixture();
    server = new XmlRpcServer(xmlRpcConfig(overrides), fixture.registry, new RpcControl());
    await server.start();
    port = server.address().port;
  }

  beforeEach(async () => {
    savedLevel = getLogLevel();
    setLogLevel(LogLevel.Error);
    await startServer();
  });
  afterEach(async () => {
    await server.stop(100);
    setLogLevel(savedLevel);
  });

  describe('with the xmlrpc npm client', () => {
    for (const [form, args] of CREATE_FORMS) {
      it(`di('db_reg_agent', 'createRegistration', …) with ${form}`, async () => {
        assert.deepEqual(await nodeCall(port, 'di', ['db_reg_agent', 'createRegistration', ...args]), { value: [200, 'OK'] });
        assert.deepEqual(fixture.agent.calls, [{ fn: 'createRegistration', args }]);
      });
    }

    it('calls the direct exports by plain and by interface-qualified name', async () => {
      const calls: Array<[string, unknown[]]> = [
        ['createRegistration', [1, 'u', 'p', 'r']],
        ['db_reg_agent.createRegistration', [2, 'u', 'p', 'r']],
        ['updateRegistration', [1, 'u', 'p2', 'r']],
        ['db_reg_agent.updateRegistration', [1, 'u', 'p2', 'r', 'sip:x@y', 'au', 'subscriber']],
        ['refreshRegistration', [1]],
        ['db_reg_agent.refreshRegistration', [1, 'subscriber']],
        ['removeRegistration', [2, 'subscriber']],
        ['db_reg_agent.removeRegistration', [1]],
        ['createRegistration', [3, 'u', 'p', 'r', '', '', 'undefined']],
        ['refreshRegistration', [3, 'undefined']],
      ];
      for (const [method, params] of calls) {
        assert.deepEqual(await nodeCall(port, method, params), { value: [200, 'OK'] }, method);
      }
      assert.deepEqual(fixture.agent.calls.map((c) => c.fn), calls.map(([m]) => m.replace('db_reg_agent.', '')));
    });

    it("lists the interface's functions through di(…, '_list')", async () => {
      assert.deepEqual(await nodeCall(port, 'di', ['db_reg_agent', '_list']), {
        value: ['createRegistration', 'updateRegistration', 'refreshRegistration', 'removeRegistration'],
      });
    });

    it('answers every built-in with its SEMS shape; set_loglevel changes the log level', async () => {
      setLogLevel(LogLevel.Debug);
      await captureStderr(async () => {
        for (const [method, params, expected] of BUILTIN_RESULTS) {
          assert.deepEqual(await nodeCall(port, method, params), { value: expected }, method);
        }
      });
      assert.equal(getLogLevel(), LogLevel.Error);
      assert.deepEqual(await nodeCall(port, 'get_cpslimit', []), { value: '10 10' });
    });

    it('sends every fault with the exact code and string', async () => {
      await captureStderr(async () => {
        for (const [method, params, faultCode, faultString] of FAULTS) {
          assert.deepEqual(await nodeCall(port, method, params), { fault: { faultCode, faultString } }, method);
        }
      });
      assert.equal(fixture.agent.calls.length, 0);
    });

    it('refuses an id outside the C int range as a type mismatch (Python will not send one)', async () => {
      for (const id of [2 ** 31, -(2 ** 31) - 1]) {
        assert.deepEqual(await nodeCall(port, 'refreshRegistration', [id]), {
          fault: { faultCode: 300, faultString: 'Exception: Type mismatch in arguments.' },
        }, String(id));
      }
      assert.equal(fixture.agent.calls.length, 0);
    });

    it('refuses a <double> id, even a whole one, as a type mismatch (SEMS: an AmArg Double)', async () => {
      for (const call of [
        methodCallXml('di', ['db_reg_agent', 'createRegistration', '<double>110.0</double>', 'u', 'p', 'r']),
        methodCallXml('refreshRegistration', ['<double>110</double>']),
      ]) {
        const reply = await postXml(port, call);
        assert.match(reply.body, /<name>faultCode<\/name><value><int>300<\/int><\/value>/, call);
        assert.match(reply.body, /<name>faultString<\/name><value><string>Exception: Type mismatch in arguments.<\/string>/, call);
      }
      assert.equal(fixture.agent.calls.length, 0);
    });

    it('has no di method with export_di=no, but keeps the direct exports', async () => {
      await server.stop(100);
      await startServer({ exportDi: false });
      assert.deepEqual(await nodeCall(port, 'di', ['db_reg_agent', 'createRegistration', 1, 'u', 'p', 'r']), {
        fault: { faultCode: -1, faultString: 'di: unknown method name' },
      });
      assert.deepEqual(await nodeCall(port, 'createRegistration', [1, 'u', 'p', 'r']), { value: [200, 'OK'] });
    });

    it('exports nothing directly without direct_export', async () => {
      await server.stop(100);
      await startServer({ directExport: [] });
      assert.deepEqual(await nodeCall(port, 'createRegistration', [1, 'u', 'p', 'r']), {
        fault: { faultCode: -1, faultString: 'createRegistration: unknown method name' },
      });
    });
  });

  describe("with Python's xmlrpc.client", () => {
    it('creates registrations with 4-7 arguments, calls direct exports and built-ins, gets ints and lists', async () => {
      const cases: Array<[string, string, unknown[]]> = [
        ...CREATE_FORMS.map(([form, args]): [string, string, unknown[]] => [form, 'di', ['db_reg_agent', 'createRegistration', ...args]]),
        ['direct', 'createRegistration', [5, 'erin', 'pw', 'example.org']],
        ['qualified', 'db_reg_agent.removeRegistration', [5]],
        ['list', 'di', ['db_reg_agent', '_list']],
        ...BUILTIN_RESULTS.map(([method, params]): [string, string, unknown[]] => [method, method, params]),
        ['shapes', 'di', ['testbed', 'shapes']],
      ];
      const { results, raw } = await pythonCalls(port, cases);
      for (const [form] of CREATE_FORMS) {
        assert.deepEqual(results[form], { value: [200, 'OK'], type: 'list', items: ['int', 'str'] }, form);
      }
      assert.deepEqual(results.direct, { value: [200, 'OK'], type: 'list', items: ['int', 'str'] });
      assert.deepEqual(results.qualified?.value, [200, 'OK']);
      assert.deepEqual(results.list?.value, fixture.agent.functions());
      for (const [method, , expected] of BUILTIN_RESULTS) {
        assert.deepEqual(results[method]?.value, expected, method);
      }
      assert.equal(results.calls?.type, 'int');
      assert.equal(results.get_loglevel?.type, 'int');
      assert.equal(results.get_shutdownmode?.type, 'bool');
      assert.equal(results.get_cpslimit?.type, 'str');
      assert.deepEqual(results.shapes?.value, {
        int: 42, negative: -7, double: 1.5, text: 'a<b&c', flag: true, list: [1, 'two', [3]], nil: 0,
      });
      assert.deepEqual(fixture.agent.calls.map((c) => c.args[0]), [1, 2, 3, 4, 5, 5, 1]);
      assert.match(raw, /<array><data><value><int>200<\/int><\/value><value><string>OK<\/string><\/value><\/data><\/array>/);
    });

    it('sees every fault with the exact code and string', async () => {
      const cases = FAULTS.map(([method, params], i): [string, string, unknown[]] => [String(i), method, params]);
      const { results } = await captureStderrResult(() => pythonCalls(port, cases));
      FAULTS.forEach(([method, , code, text], i) => {
        assert.deepEqual(results[String(i)], { fault: [code, text] }, method);
      });
    });
  });

  it('logs parameters and results with debug_server_params/result, never the password', async () => {
    await server.stop(100);
    await startServer({ debugServerParams: true, debugServerResult: true });
    setLogLevel(LogLevel.Debug);
    const log = await captureStderr(async () => {
      await nodeCall(port, 'di', ['db_reg_agent', 'createRegistration', 1, 'alice', 'S3cr3t-pw', 'example.org']);
      await nodeCall(port, 'updateRegistration', [1, 'alice', 'N3w-pw', 'example.org', '', 'alice', 'subscriber']);
      await nodeCall(port, 'di', ['db_reg_agent', 'createRegistration', 'bad-id', 'alice', 'S3cr3t-pw', 'example.org']);
    });
    assert.match(log, /params: <\[1,"alice","\*+","example\.org"\]>/);
    assert.match(log, /result: <\[200,"OK"\]>/);
    assert.ok(!log.includes('S3cr3t-pw') && !log.includes('N3w-pw'), log);
  });

  it('does not log parameters without debug_server_params', async () => {
    setLogLevel(LogLevel.Debug);
    const log = await captureStderr(async () => {
      await nodeCall(port, 'createRegistration', [1, 'alice', 'pw', 'example.org']);
    });
    assert.match(log, /factory 'db_reg_agent' function 'createRegistration'/);
    assert.ok(!log.includes('params:') && !log.includes('alice'), log);
  });

  it('answers a raw request with int and array markup, over any path', async () => {
    const reply = await postXml(port, methodCallXml('di', ['db_reg_agent', '_list']), {});
    assert.equal(reply.status, 200);
    assert.equal(reply.headers['content-type'], 'text/xml');
    assert.match(reply.body, /<array><data>(<value><string>\w+<\/string><\/value>){4}<\/data><\/array>/);
  });

  it('stops accepting at stop() but lets a call in progress answer', async () => {
    const pending = nodeCall(port, 'di', ['testbed', 'hold']);
    while (fixture.testbed.heldCount === 0) await new Promise((r) => setTimeout(r, 5));
    const stopped = server.stop(5000);
    await assert.rejects(postXml(port, methodCallXml('calls')), /ECONNREFUSED/);
    fixture.testbed.release();
    assert.deepEqual(await pending, { value: 'released' });
    await stopped;
  });
});

async function captureStderrResult<T>(fn: () => Promise<T>): Promise<T> {
  let result!: T;
  await captureStderr(async () => {
    result = await fn();
  });
  return result;
}
