/**
 * A bounded, seeded fuzz run against both servers: thousands of random and mutated
 * XML-RPC bodies, raw HTTP requests, JSON-RPC messages and netstrings. Every fuzzed
 * XML-RPC body must get an answer, and a valid request must keep working during and
 * after the run — in this same process, so a crash fails the test. The same inputs
 * against the daemon process must leave its resident memory near where it was.
 */
import { strict as assert } from 'node:assert';
import { connect } from 'node:net';
import { DiRegistry } from '../../src/core/di';
import { LogLevel, getLogLevel, setLogLevel } from '../../src/process/log';
import { RpcControl } from '../../src/rpc/builtins';
import { JsonRpcServer } from '../../src/rpc/jsonrpc-server';
import { XmlRpcServer } from '../../src/rpc/xmlrpc-server';
import { startDaemon } from '../support/daemon';
import { createTestDatabase } from '../support/mariadb';
import { waitUntil } from '../support/peer-process';
import { residentBytes } from '../support/process-memory';
import {
  FakeRegistrationAgent,
  NetstringClient,
  captureStderr,
  jsonRpcConfig,
  methodCallXml,
  netstring,
  postXml,
  seededRandom,
  xmlRpcConfig,
} from '../support/rpc-fixtures';

const XML_BODIES = 2000;
const HTTP_REQUESTS = 300;
const JSON_MESSAGES = 2500;
const PROBE_EVERY = 100;
const CONCURRENCY = 8;

const VALID_XML = methodCallXml('di', ['db_reg_agent', 'createRegistration', '<i4>1</i4>', 'u', 'p', 'r']);
const OK_XML = /<value><int>200<\/int><\/value><value><string>OK<\/string><\/value>/;

const XML_SEEDS = [
  VALID_XML,
  methodCallXml('createRegistration', ['<int>7</int>', '<string>a&amp;b</string>', 'p', 'r', '<string></string>']),
  methodCallXml('system.multicall', [
    '<array><data><value><struct><member><name>methodName</name><value>calls</value></member>' +
      '<member><name>params</name><value><array><data></data></array></value></member></struct></value></data></array>',
  ]),
  methodCallXml('get_cpslimit'),
  methodCallXml('di', ['db_reg_agent', 'removeRegistration', '<array><data><value><double>1.5</double></value></data></array>',
    '<struct><member><name>k</name><value><boolean>1</boolean></value></member></struct>',
    '<dateTime.iso8601>20240101T00:00:00</dateTime.iso8601>', '<base64>aGVsbG8=</base64>', '<nil/>']),
];

const JSON_SEEDS: unknown[] = [
  { jsonrpc: '2.0', method: 'db_reg_agent.createRegistration', params: [1, 'u', 'p', 'r', 'sip:c@h', 'a', 'peering'], id: 1 },
  { jsonrpc: '2.0', method: 'db_reg_agent.refreshRegistration', params: [2], id: 'x' },
  { jsonrpc: '2.0', method: 'core.get_loglevel', id: null },
  [{ jsonrpc: '2.0', method: 'core.calls', id: 1 }, { jsonrpc: '2.0', method: 'db_reg_agent._list' }],
  { jsonrpc: '2.0', method: 'db_reg_agent.removeRegistration', params: { nested: [1, { a: null }] }, id: 3.5 },
];

const ALPHABET = '<>/&;"\'=:,[]{}0123456789-. abcxyzAZ\u0000\u00ff\u20ac\uD800\n\t';

function mutator(random: () => number) {
  const int = (n: number): number => Math.floor(random() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)] as T;
  const noise = (n: number): string => Array.from({ length: n }, () => pick([...ALPHABET])).join('');
  const mutateOnce = (text: string): string => {
    const at = int(text.length + 1);
    const end = Math.min(text.length, at + int(20));
    switch (int(6)) {
      case 0:
        return text.slice(0, at) + text.slice(end); // delete
      case 1:
        return text.slice(0, at) + noise(1 + int(8)) + text.slice(at); // insert
      case 2:
        return text.slice(0, at) + text.slice(at, end).repeat(2 + int(3)) + text.slice(end); // duplicate
      case 3:
        return text.slice(0, at); // truncate
      case 4:
        return text.slice(0, at) + noise(end - at) + text.slice(end); // overwrite
      default:
        return text.slice(at) + text.slice(0, at); // rotate
    }
  };
  return {
    int,
    mutate(text: string): string {
      let out = text;
      for (let n = 1 + int(4); n > 0; n--) out = mutateOnce(out);
      return out;
    },
    bytes(n: number): Buffer {
      return Buffer.from(Array.from({ length: n }, () => int(256)));
    },
    pick,
  };
}

type Mutator = ReturnType<typeof mutator>;

/** Mostly mutated valid calls, some random bytes, some bodies over 4 kB. */
function fuzzedXmlBody(fuzz: Mutator): string | Buffer {
  const kind = fuzz.int(10);
  return kind < 7 ? fuzz.mutate(fuzz.pick(XML_SEEDS)) : kind < 9 ? fuzz.bytes(fuzz.int(600)) : fuzz.bytes(5000);
}

/** Mutated JSON in a valid netstring, a mutated netstring, or random bytes. */
function fuzzedJsonFrame(fuzz: Mutator): string | Buffer {
  const kind = fuzz.int(10);
  if (kind < 6) return netstring(fuzz.mutate(JSON.stringify(fuzz.pick(JSON_SEEDS))));
  if (kind < 8) return fuzz.mutate(netstring(fuzz.pick(JSON_SEEDS)));
  return fuzz.bytes(fuzz.int(200));
}

const VALID_HTTP = `POST /RPC2 HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\nContent-Length: ${VALID_XML.length}\r\n\r\n${VALID_XML}`;

/** Writes `data` on a fresh connection and waits (3 s at most) for the server to close it. */
async function sendRaw(port: number, data: string): Promise<void> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  socket.on('data', () => undefined);
  socket.end(data);
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      socket.destroy();
      resolve();
    }, 3000);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Runs `count` tasks, `CONCURRENCY` at a time. */
async function runPool(count: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < count) await task(next++);
    }),
  );
}

describe('rpc fuzz (integration)', function () {
  this.timeout(60_000);
  let savedLevel: LogLevel;
  let registry: DiRegistry;

  beforeEach(() => {
    savedLevel = getLogLevel();
    setLogLevel(LogLevel.Error);
    // Only the registration agent: no fuzzed call can reach a function that blocks.
    registry = new DiRegistry();
    registry.register('db_reg_agent', new FakeRegistrationAgent());
  });
  afterEach(() => setLogLevel(savedLevel));

  it('XML-RPC: every random or mutated body gets an answer, valid calls keep working', async () => {
    const server = new XmlRpcServer(xmlRpcConfig({ maxBodyBytes: 4096 }), registry, new RpcControl());
    await server.start();
    const { port } = server.address();
    const fuzz = mutator(seededRandom(0xc0ffee));
    const statuses = new Map<number, number>();
    try {
      await captureStderr(() =>
        runPool(XML_BODIES, async (i) => {
          if (i % PROBE_EVERY === 0) {
            assert.match((await postXml(port, VALID_XML)).body, OK_XML, `probe at ${i}`);
          }
          const reply = await postXml(port, fuzzedXmlBody(fuzz));
          statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1);
          if (reply.status === 200) assert.match(reply.body, /<methodResponse>/, `body ${i}`);
          else assert.equal(reply.status, 413, `body ${i}`);
          setLogLevel(LogLevel.Error); // a mutated set_loglevel may have changed it
        }),
      );
      assert.ok((statuses.get(200) ?? 0) > XML_BODIES / 2, JSON.stringify([...statuses]));
      assert.ok((statuses.get(413) ?? 0) > 0, 'some bodies were over the limit');
      assert.match((await postXml(port, VALID_XML)).body, OK_XML);
    } finally {
      await server.stop(100);
    }
  });

  it('XML-RPC: mutated raw HTTP requests never stop the server', async () => {
    const server = new XmlRpcServer(xmlRpcConfig({ serverTimeoutMs: 500 }), registry, new RpcControl());
    await server.start();
    const { port } = server.address();
    const fuzz = mutator(seededRandom(0xbadf00d));
    try {
      await runPool(HTTP_REQUESTS, () => sendRaw(port, fuzz.mutate(VALID_HTTP)));
      assert.match((await postXml(port, VALID_XML)).body, OK_XML);
    } finally {
      await server.stop(100);
    }
  });

  it('JSON-RPC: random and mutated messages and netstrings never stop the server', async () => {
    const server = new JsonRpcServer(jsonRpcConfig({ maxBodyBytes: 4096, serverTimeoutMs: 1000 }), registry);
    await server.start();
    const { port } = server.address();
    const fuzz = mutator(seededRandom(0x5eed));
    let client = await NetstringClient.open(port);
    let reconnects = 0;

    /**
     * A valid request must be answered: on the current connection, unless the fuzz left
     * it closed or inside a frame the probe then becomes part of; then on a fresh one.
     */
    const probe = async (tag: string): Promise<void> => {
      const id = `probe-${tag}`;
      for (let attempt = 0; attempt < 2; attempt++) {
        if (attempt > 0 || client.socket.destroyed || client.socket.readableEnded) {
          client.close();
          client = await NetstringClient.open(port);
          reconnects++;
        }
        client.send(netstring({ jsonrpc: '2.0', method: 'db_reg_agent.refreshRegistration', params: [1], id }));
        const found = await waitForId(client, id, attempt === 0 ? 1000 : 5000);
        if (found) return assert.deepEqual(found, { jsonrpc: '2.0', result: [200, 'OK'], id });
      }
      assert.fail(`no answer to ${id}`);
    };

    try {
      await captureStderr(async () => {
        for (let i = 0; i < JSON_MESSAGES; i++) {
          if (i % PROBE_EVERY === 0) await probe(String(i));
          if (client.socket.destroyed || client.socket.readableEnded) {
            client.close();
            client = await NetstringClient.open(port);
            reconnects++;
          }
          client.send(fuzzedJsonFrame(fuzz));
          setLogLevel(LogLevel.Error);
        }
        await probe('end');
      });
      assert.ok(reconnects > 10, `malformed frames closed connections (${reconnects} reconnects)`);
    } finally {
      client.close();
      await server.stop(100);
    }
  });
});

/** Full fuzz rounds after the warm-up; a per-request leak would grow with each. */
const MEMORY_ROUNDS = 3;
const RSS_TOLERANCE_BYTES = 30 * 1024 * 1024;

describe('rpc fuzz against the daemon process (memory)', function () {
  this.timeout(240_000);

  it(`leaves the daemon's resident memory within ${RSS_TOLERANCE_BYTES / 2 ** 20} MB of its baseline`, async () => {
    const db = await createTestDatabase({ schema: 'readme' });
    const daemon = await startDaemon({ db: db.config, logLevel: 2 });
    try {
      await daemon.waitForLog(/running/);
      const pid = daemon.process.pid ?? assert.fail('daemon has no pid');
      // Warm-up: code compiled, buffers and pools allocated, V8's heap grown to its working size.
      await fuzzRound(daemon.xmlrpcPort, daemon.jsonrpcPort, mutator(seededRandom(1)));
      const baseline = residentBytes(pid);
      for (let round = 0; round < MEMORY_ROUNDS; round++) {
        await fuzzRound(daemon.xmlrpcPort, daemon.jsonrpcPort, mutator(seededRandom(100 + round)));
      }
      // No --expose-gc in the daemon: give V8's idle-time collection a moment.
      let after = residentBytes(pid);
      const settled = await waitUntil(() => (after = residentBytes(pid)) <= baseline + RSS_TOLERANCE_BYTES, 30_000, 500);
      const mb = (n: number): string => (n / 2 ** 20).toFixed(1);
      assert.ok(settled, `RSS ${mb(baseline)} MB after the warm-up, ${mb(after)} MB after ${MEMORY_ROUNDS} fuzz rounds`);
      assert.match((await postXml(daemon.xmlrpcPort, VALID_XML)).body, OK_XML, 'still answering');
    } finally {
      await daemon.stop();
      daemon.cleanup();
      await db.drop();
    }
  });
});

/** One round of every kind of fuzz input against running servers. */
async function fuzzRound(xmlrpcPort: number, jsonrpcPort: number, fuzz: Mutator): Promise<void> {
  await runPool(XML_BODIES, async () => {
    await postXml(xmlrpcPort, fuzzedXmlBody(fuzz));
  });
  await runPool(HTTP_REQUESTS, () => sendRaw(xmlrpcPort, fuzz.mutate(VALID_HTTP)));
  let client = await NetstringClient.open(jsonrpcPort);
  try {
    for (let i = 0; i < JSON_MESSAGES; i++) {
      if (client.socket.destroyed || client.socket.readableEnded) {
        client.close();
        client = await NetstringClient.open(jsonrpcPort);
      }
      client.send(fuzzedJsonFrame(fuzz));
      await new Promise((resolve) => setTimeout(resolve, 1)); // lets a close by the server arrive
    }
  } finally {
    client.close();
  }
}

/** The reply with this id, once it arrived; undefined if the connection closed or time ran out. */
async function waitForId(client: NetstringClient, id: string, timeoutMs: number): Promise<unknown> {
  const deadline = Date.now() + timeoutMs;
  for (let seen = 0; ; ) {
    try {
      await client.waitForReplies(seen + 1, Math.max(1, deadline - Date.now()));
    } catch {
      return undefined;
    }
    for (; seen < client.replies.length; seen++) {
      const reply = client.replies[seen] as { id?: unknown };
      if (reply && typeof reply === 'object' && reply.id === id) return reply;
    }
  }
}
