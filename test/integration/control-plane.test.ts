/**
 * The control plane's own thread (control-plane.ts, control-plane-thread.ts), with a
 * recording engine on this thread: calls that only queue work are answered even while
 * this thread is blocked; questions are answered by this thread; the process's log
 * level is shared; a bound port fails the start; a dead thread is replaced.
 */
import { strict as assert } from 'node:assert';
import { createServer } from 'node:net';
import type { AccountData, AccountType } from '../../src/agent/account';
import type { RegistrationControl } from '../../src/agent/di-interface';
import { CONTROL_PLANE_YOUNG_GENERATION_MB, ControlPlane } from '../../src/control-plane/control-plane';
import { LogLevel, getLogLevel, logThrough, logToStderr, setLogLevel } from '../../src/process/log';
import { freePort } from '../support/ports';
import { startPythonScript } from '../support/python-script';
import { NetstringClient, jsonRpcConfig, methodCallXml, postXml, xmlRpcConfig } from '../support/rpc-fixtures';

class RecordingEngine implements RegistrationControl {
  readonly calls: unknown[][] = [];
  create(type: AccountType, id: number, data: AccountData): void {
    this.calls.push(['create', type, id, data.user]);
  }
  update(type: AccountType, id: number): void {
    this.calls.push(['update', type, id]);
  }
  refresh(type: AccountType, id: number): void {
    this.calls.push(['refresh', type, id]);
  }
  remove(type: AccountType, id: number): void {
    this.calls.push(['remove', type, id]);
  }
  describe(type: AccountType, id: number): Record<string, string | number> | undefined {
    return id === 7 ? { id, type, status: 2 } : undefined;
  }
  statistics(): Record<string, number> {
    return { registrations: this.calls.length };
  }
}

/** Blocks this thread (the engine's, here) for `ms`. */
function busyFor(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    // spinning on purpose
  }
}

/** A Python xmlrpc.client that calls createRegistration when told "go" and prints how long it took. */
function pythonCaller(port: number): { ready: Promise<void>; go: () => void; result: Promise<string> } {
  const script = startPythonScript([
    'import sys, time, xmlrpc.client',
    `p = xmlrpc.client.ServerProxy("http://127.0.0.1:${port}/")`,
    'print("READY", flush=True)',
    'sys.stdin.readline()',
    't = time.monotonic()',
    'r = p.createRegistration(41, "alice", "secret", "example.org")',
    'print(r, round((time.monotonic() - t) * 1000), flush=True)',
  ], { stdin: true });
  const result = new Promise<string>((resolve) => script.child.on('exit', () => resolve(script.output().trim())));
  return { ready: script.ready, go: () => script.child.stdin?.write('go\n'), result };
}

describe('control plane thread (integration)', function () {
  this.timeout(20_000);
  let plane: ControlPlane | undefined;
  let savedLevel: LogLevel;
  beforeEach(() => {
    savedLevel = getLogLevel();
    setLogLevel(LogLevel.Error);
  });
  afterEach(async () => {
    await plane?.stop(500);
    plane = undefined;
    setLogLevel(savedLevel);
    logToStderr();
  });

  async function startPlane(engine: RegistrationControl): Promise<{ xmlPort: number; jsonPort: number }> {
    const xmlPort = await freePort({ protocols: ['tcp'] });
    const jsonPort = await freePort({ protocols: ['tcp'] });
    plane = new ControlPlane({ xmlrpc: xmlRpcConfig({ port: xmlPort }), jsonrpc: jsonRpcConfig({ port: jsonPort }) }, engine);
    await plane.start();
    plane.open();
    return { xmlPort, jsonPort };
  }

  it('before open() (the accounts still loading) calls wait, queueing ones too; then they reach the engine in their order', async () => {
    const engine = new RecordingEngine();
    const jsonPort = await freePort({ protocols: ['tcp'] });
    plane = new ControlPlane({ jsonrpc: jsonRpcConfig({ port: jsonPort }) }, engine);
    await plane.start();
    const client = await NetstringClient.open(jsonPort);
    const second = await NetstringClient.open(jsonPort);
    try {
      const answered: number[] = [];
      const remove = second.call({ jsonrpc: '2.0', method: 'db_reg_agent.removeRegistration', params: [5, 'peering'], id: 1 });
      await new Promise((resolve) => setTimeout(resolve, 100)); // two connections: this one's call comes second
      const statistics = client.call({ jsonrpc: '2.0', method: 'db_reg_agent.getStatistics', params: [], id: 2 });
      void remove.then(() => answered.push(1));
      void statistics.then(() => answered.push(2));
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.deepEqual(engine.calls, [], 'the remove has not reached the engine');
      assert.deepEqual(answered, [], 'both wait for the load');
      plane.open();
      assert.deepEqual(await remove, { jsonrpc: '2.0', result: [200, 'OK'], id: 1 });
      assert.deepEqual(await statistics, { jsonrpc: '2.0', result: { registrations: 1 }, id: 2 });
      assert.deepEqual(engine.calls, [['remove', 'peering', 5]]);
      // Now straight through.
      assert.deepEqual(await client.call({ jsonrpc: '2.0', method: 'db_reg_agent.refreshRegistration', params: [6], id: 3 }),
        { jsonrpc: '2.0', result: [200, 'OK'], id: 3 });
    } finally {
      client.close();
      second.close();
    }
  });

  it('answers createRegistration while the engine thread is blocked; the engine gets it afterwards', async () => {
    const engine = new RecordingEngine();
    const { xmlPort } = await startPlane(engine);
    const caller = pythonCaller(xmlPort);
    await caller.ready;
    caller.go();
    busyFor(1500);
    assert.deepEqual(engine.calls, [], 'nothing reached the blocked thread yet');
    const [result, ms] = (await caller.result).split(/ (?=\d+$)/);
    assert.equal(result, "[200, 'OK']");
    assert.ok(Number(ms) < 1000, `answered after ${ms} ms, i.e. not while the engine thread was blocked`);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(engine.calls, [['create', 'subscriber', 41, 'alice']]);
  });

  it('argument faults come from the thread; getRegistration and getStatistics from the engine', async () => {
    const engine = new RecordingEngine();
    const { xmlPort, jsonPort } = await startPlane(engine);
    const wrongCount = await postXml(xmlPort, methodCallXml('createRegistration', ['<int>1</int>']));
    assert.match(wrongCount.body, /<name>faultString<\/name><value><string>Exception: AmArg out of bounds - parameter number mismatch.<\/string>/);
    const known = await postXml(xmlPort, methodCallXml('getRegistration', ['<int>7</int>']));
    assert.match(known.body, /<name>status<\/name><value><int>2<\/int>/);
    const client = await NetstringClient.open(jsonPort);
    try {
      assert.deepEqual(await client.call({ jsonrpc: '2.0', method: 'db_reg_agent.getRegistration', params: [8], id: 1 }), {
        jsonrpc: '2.0', result: [404, 'Not Found'], id: 1,
      });
      await client.call({ jsonrpc: '2.0', method: 'db_reg_agent.removeRegistration', params: [5, 'peering'], id: 2 });
      assert.deepEqual(await client.call({ jsonrpc: '2.0', method: 'db_reg_agent.getStatistics', params: [], id: 3 }), {
        jsonrpc: '2.0', result: { registrations: 1 }, id: 3,
      });
    } finally {
      client.close();
    }
    assert.deepEqual(engine.calls, [['remove', 'peering', 5]]);
  });

  it("set_loglevel in the thread is the process's level; its log lines are written here", async () => {
    const lines: string[] = [];
    logThrough((_level, line) => lines.push(line));
    const { xmlPort } = await startPlane(new RecordingEngine());
    setLogLevel(LogLevel.Info);
    const reply = await postXml(xmlPort, methodCallXml('set_loglevel', ['<int>3</int>']));
    assert.match(reply.body, /200 OK/);
    assert.equal(getLogLevel(), LogLevel.Debug);
    await postXml(xmlPort, methodCallXml('refreshRegistration', ['<int>3</int>']));
    assert.ok(lines.includes('[xmlrpc2di] log level set to 3'), lines.join('\n'));
    assert.ok(lines.some((l) => l.includes("function 'refreshRegistration'")), 'a debug line of the thread, let through');
  });

  it('a port that cannot be bound fails the start with the reason', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as { port: number }).port;
    try {
      plane = new ControlPlane({ xmlrpc: xmlRpcConfig({ port }) }, new RecordingEngine());
      await assert.rejects(plane.start(), new RegExp(`^Error: xmlrpc_port=${port}: cannot listen on 127\\.0\\.0\\.1: .*EADDRINUSE`));
    } finally {
      taken.close();
    }
  });

  it('starts no thread when neither server is configured', async () => {
    plane = new ControlPlane({}, new RecordingEngine());
    await plane.start();
    await plane.stop(100); // nothing to end
  });

  it('starts the thread with a small young generation (its heap adds little to the engine\'s peak)', async () => {
    plane = new ControlPlane({ jsonrpc: jsonRpcConfig() }, new RecordingEngine(), require.resolve('../support/limits-control-thread'));
    const reported = await plane.start().then(() => assert.fail('the stand-in reports its limits as a failure'), (err: Error) => err.message);
    const limits = JSON.parse(reported.slice(reported.indexOf('{'))) as { maxYoungGenerationSizeMb: number };
    assert.equal(limits.maxYoungGenerationSizeMb, CONTROL_PLANE_YOUNG_GENERATION_MB);
    assert.ok(CONTROL_PLANE_YOUNG_GENERATION_MB < 32, 'smaller than V8\'s default for the main thread');
    await plane.stop(100);
    plane = undefined;
  });

  it('replaces a thread that died, and stops cleanly', async () => {
    const lines: string[] = [];
    logThrough((_level, line) => lines.push(line));
    setLogLevel(LogLevel.Info);
    plane = new ControlPlane({ jsonrpc: jsonRpcConfig() }, new RecordingEngine(), require.resolve('../support/dying-control-thread'));
    await plane.start();
    const deadline = Date.now() + 5000;
    while (!lines.includes('[control] control plane restarted') && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.ok(lines.some((l) => /control plane thread ended \(exit code 3\)/.test(l)), lines.join('\n'));
    assert.ok(lines.includes('[control] control plane restarted'), lines.join('\n'));
    await plane.stop(100);
    plane = undefined;
  });
});
