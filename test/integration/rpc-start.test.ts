/**
 * startRpcServers / stop as main.ts uses them.
 */
import { strict as assert } from 'node:assert';
import { createServer, type Server } from 'node:net';
import { LogLevel, getLogLevel, setLogLevel } from '../../src/process/log';
import { startRpcServers } from '../../src/rpc';
import {
  NetstringClient,
  jsonRpcConfig,
  makeFixture,
  methodCallXml,
  postXml,
  xmlRpcConfig,
} from '../support/rpc-fixtures';

function listenOn(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

async function freePort(): Promise<number> {
  const server = await listenOn(0);
  const { port } = server.address() as { port: number };
  await close(server);
  return port;
}

describe('rpc startRpcServers (integration)', () => {
  let savedLevel: LogLevel;
  beforeEach(() => {
    savedLevel = getLogLevel();
    setLogLevel(LogLevel.Error);
  });
  afterEach(() => setLogLevel(savedLevel));

  it('starts both servers over one registry and stops both', async () => {
    const { registry, agent } = makeFixture();
    const servers = await startRpcServers({ xmlrpc: xmlRpcConfig(), jsonrpc: jsonRpcConfig() }, registry);
    const xmlPort = servers.xmlrpc?.address().port ?? 0;
    const jsonPort = servers.jsonrpc?.address().port ?? 0;

    const reply = await postXml(xmlPort, methodCallXml('refreshRegistration', ['<int>1</int>']));
    assert.match(reply.body, /<int>200<\/int>/);
    const client = await NetstringClient.open(jsonPort);
    assert.deepEqual(await client.call({ jsonrpc: '2.0', method: 'db_reg_agent.refreshRegistration', params: [2], id: 1 }), {
      jsonrpc: '2.0', result: [200, 'OK'], id: 1,
    });
    assert.deepEqual(agent.calls.map((c) => c.args), [[1], [2]]);

    await servers.stop(1000);
    await assert.rejects(postXml(xmlPort, methodCallXml('calls')), /ECONNREFUSED/);
    await assert.rejects(NetstringClient.open(jsonPort), /ECONNREFUSED/);
  });

  it('starts only the configured servers', async () => {
    const servers = await startRpcServers({ jsonrpc: jsonRpcConfig() }, makeFixture().registry);
    assert.equal(servers.xmlrpc, undefined);
    assert.ok(servers.jsonrpc);
    await servers.stop(100);
  });

  it('fails when a port is taken, and releases the server it had already started', async () => {
    const xmlPort = await freePort();
    const blocker = await listenOn(0);
    const takenPort = (blocker.address() as { port: number }).port;
    try {
      await assert.rejects(
        startRpcServers({ xmlrpc: xmlRpcConfig({ port: xmlPort }), jsonrpc: jsonRpcConfig({ port: takenPort }) },
          makeFixture().registry),
        /EADDRINUSE/,
      );
      await close(await listenOn(xmlPort));
    } finally {
      await close(blocker);
    }
  });
});
