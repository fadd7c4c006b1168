/**
 * Entry of the control plane's thread (started by control-plane.ts): the XML-RPC and
 * JSON-RPC servers over a DiRegistry whose `db_reg_agent` checks arguments here, in
 * SEMS's terms, and reaches the engine's thread through messages. What only queues
 * work (create, update, refresh, remove) is passed on without waiting, as SEMS's
 * agent answers [200, "OK"] once the request is queued; questions (getRegistration,
 * getStatistics) wait for the engine's answer. Until the engine has loaded its accounts
 * every call waits at the loading gate (loading-gate.ts).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { DbRegAgentDi, type RegistrationControl } from '../agent/di-interface';
import type { ControlPlaneSetup, FromControlPlane, ToControlPlane } from './control-plane';
import { DiRegistry, type DiValue } from '../core/di';
import { logger, logThrough, shareLogLevel } from '../process/log';
import { startRpcServers, type RpcServers } from '../rpc/servers';
import { behindGate, LoadingGate } from './loading-gate';
import { ThreadCaller } from './thread-calls';

type Answer = Promise<Record<string, DiValue>>;

/**
 * Calls waiting for the load: enough for provisioning scripts running in parallel,
 * few enough that a flood cannot queue without end while the database is away.
 */
const MAX_CALLS_WAITING_FOR_LOAD = 1000;
/** Below the timeouts of common RPC clients, so the client sees our fault, not its own. */
const LOAD_WAIT_TIMEOUT_MS = 10_000;

function run(port: NonNullable<typeof parentPort>, setup: ControlPlaneSetup): void {
  const send = (message: FromControlPlane): void => port.postMessage(message);
  shareLogLevel(setup.logLevel);
  logThrough((level, line) => send({ kind: 'log', level, line }));

  const engine = new ThreadCaller(send);
  const control: RegistrationControl = {
    create: (type, id, data) => engine.notify('create', type, id, data),
    update: (type, id, data) => engine.notify('update', type, id, data),
    refresh: (type, id) => engine.notify('refresh', type, id),
    remove: (type, id) => engine.notify('remove', type, id),
    describe: (type, id) => engine.call('describe', type, id) as Answer,
    statistics: () => engine.call('statistics') as Answer,
  };
  const gate = new LoadingGate({ maxWaiting: MAX_CALLS_WAITING_FOR_LOAD, timeoutMs: LOAD_WAIT_TIMEOUT_MS, log: logger('control') });
  if (setup.engineOpen) gate.open();
  const registry = new DiRegistry();
  registry.register('db_reg_agent', behindGate(new DbRegAgentDi(control), gate));

  let servers: RpcServers | undefined;
  port.on('message', (message: ToControlPlane) => {
    if (message.kind === 'reply') {
      engine.onReply(message);
    } else if (message.kind === 'open') {
      gate.open();
    } else {
      void (servers?.stop(message.graceMs) ?? Promise.resolve()).finally(() => {
        engine.failAll('stopping');
        port.close(); // nothing else keeps the thread alive: it ends
      });
    }
  });
  startRpcServers(setup.servers, registry).then(
    (started) => {
      servers = started;
      send({ kind: 'listening' });
    },
    (err: Error) => {
      send({ kind: 'failed', message: err.message });
      port.close();
    },
  );
}

if (!parentPort) throw new Error('control-plane-thread runs as a worker thread of the daemon');
run(parentPort, workerData as ControlPlaneSetup);
