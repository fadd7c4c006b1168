/**
 * The control plane (XML-RPC and JSON-RPC servers) runs on a thread of its own
 * (control-plane-thread.ts), so that provisioning calls are answered while the
 * engine's thread is busy with SIP replies and status writes: on one thread, a call
 * waited behind that work and p99 latency rose with the engine's load (doc/benchmarks.md).
 *
 * This is the engine's side: it starts the thread, answers the thread's calls on the
 * engine's RegistrationControl (the only door the control plane has), writes the
 * thread's log lines, restarts the thread if it dies, and stops it.
 */
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { DEFAULT_STOP_GRACE_MS } from '../config/rpc-config';
import { ANSWERING_CONTROL_METHODS, QUEUEING_CONTROL_METHODS, type RegistrationControl } from '../agent/di-interface';
import { logger, logLevelMemory, writeLogLine, type LogLevel } from '../process/log';
import type { RpcServersConfig } from '../rpc';
import { answerCall, type CallMessage, type ReplyMessage } from './thread-calls';

const log = logger('control');

/** What the thread is started with (workerData). */
export interface ControlPlaneSetup {
  servers: RpcServersConfig;
  /** The process's log level (log.ts), shared. */
  logLevel: SharedArrayBuffer;
  /** Whether the engine takes calls already (a thread restarted after the load). */
  engineOpen: boolean;
}

export type FromControlPlane =
  | CallMessage
  | { kind: 'log'; level: LogLevel; line: string }
  | { kind: 'listening' }
  | { kind: 'failed'; message: string };

/** `open`: the accounts are loaded, calls may reach the engine (loading-gate.ts). */
export type ToControlPlane = ReplyMessage | { kind: 'open' } | { kind: 'stop'; graceMs: number };

const THREAD_ENTRY = path.join(__dirname, 'control-plane-thread.js');
const EXPOSED = new Set<string>([...QUEUEING_CONTROL_METHODS, ...ANSWERING_CONTROL_METHODS]);
/**
 * The thread's young generation, MB (V8 gives a worker the main thread's default, 16 MB
 * per semi-space). Calls are small and few next to SIP traffic; with the default, a
 * 100 000 mass start polled with getStatistics four times a second peaked at 305 MB of
 * RSS, with this 278 MB (one run each, doc/benchmarks.md).
 */
export const CONTROL_PLANE_YOUNG_GENERATION_MB = 8;
/** A thread that died is started again after this long. */
const RESTART_DELAY_MS = 1000;
/** Beyond the servers' own grace, how long a stopping thread may take to end. */
const EXIT_MARGIN_MS = 2000;

export class ControlPlane {
  private worker?: Worker;
  private restartTimer?: NodeJS.Timeout;
  private stopping = false;
  private engineOpen = false;

  constructor(
    private readonly servers: RpcServersConfig,
    private readonly engine: RegistrationControl,
    /** The thread's script; tests give a stand-in to see a dying thread replaced. */
    private readonly threadEntry = THREAD_ENTRY,
  ) {}

  /** Resolves once the configured servers listen; rejects with the reason they cannot. */
  start(): Promise<void> {
    if (!this.servers.xmlrpc && !this.servers.jsonrpc) return Promise.resolve();
    const setup: ControlPlaneSetup = { servers: this.servers, logLevel: logLevelMemory(), engineOpen: this.engineOpen };
    const worker = new Worker(this.threadEntry, {
      workerData: setup,
      resourceLimits: { maxYoungGenerationSizeMb: CONTROL_PLANE_YOUNG_GENERATION_MB },
    });
    this.worker = worker;
    return new Promise((resolve, reject) => {
      let started = false;
      worker.on('message', (message: FromControlPlane) => {
        switch (message.kind) {
          case 'call':
            this.answer(worker, message);
            return;
          case 'log':
            writeLogLine(message.level, message.line);
            return;
          case 'listening':
            started = true;
            resolve();
            return;
          case 'failed':
            reject(new Error(message.message));
            return;
        }
      });
      worker.on('error', (err) => log.error(`control plane thread failed: ${err.stack ?? err.message}`));
      worker.on('exit', (code) => {
        if (this.worker === worker) this.worker = undefined;
        if (!started) reject(new Error(`control plane thread ended at start (exit code ${code})`));
        else if (!this.stopping) this.restartLater(code);
      });
    });
  }

  /**
   * From now on calls reach the engine. Until then the thread holds them (a bounded
   * number, for a bounded time: loading-gate.ts); those it held go first, in their order.
   */
  open(): void {
    this.engineOpen = true;
    const open: ToControlPlane = { kind: 'open' };
    this.worker?.postMessage(open);
  }

  private answer(worker: Worker, message: CallMessage): void {
    answerCall(this.engine, EXPOSED, message, (reply) => worker.postMessage(reply), (method, error) =>
      log.error(`${method} from the control plane failed: ${error}`),
    );
  }

  /** Stops the servers (requests in progress get graceMs to answer) and ends the thread. */
  async stop(graceMs = DEFAULT_STOP_GRACE_MS): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    const worker = this.worker;
    if (!worker) return;
    const ended = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    const stop: ToControlPlane = { kind: 'stop', graceMs };
    worker.postMessage(stop);
    const deadline = setTimeout(() => void worker.terminate(), graceMs + EXIT_MARGIN_MS);
    await ended;
    clearTimeout(deadline);
  }

  private restartLater(code: number): void {
    log.error(`control plane thread ended (exit code ${code}); XML-RPC/JSON-RPC restart in ${RESTART_DELAY_MS} ms`);
    this.restartTimer = setTimeout(() => {
      this.start().then(
        () => log.info('control plane restarted'),
        (err: Error) => {
          log.error(`control plane restart failed: ${err.message}`);
          if (!this.stopping) this.restartLater(-1);
        },
      );
    }, RESTART_DELAY_MS);
  }
}
