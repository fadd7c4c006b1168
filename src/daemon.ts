/**
 * The composition root: builds the database layer, the SIP client, the
 * registration engine and the control plane from the configuration, and takes
 * them down in the reverse order. Knows how the rooms connect, nothing else.
 */
import { performance } from 'node:perf_hooks';
import type { DaemonConfig } from './config/load';
import { systemClock } from './core/clock';
import { DbRegAgentDi } from './agent/di-interface';
import { createRateLimiter } from './agent/rate-limiter';
import { RefreshLoad } from './agent/refresh-load';
import { RefreshPlanner } from './agent/refresh-planner';
import { RegistrationAgent } from './agent/registration-agent';
import { TimerQueue } from './agent/timer-queue';
import { describeAccountKey, type AccountKey } from './agent/account';
import type { AccountQuery } from './db/account-row';
import { loadAccountQuery } from './db/account-load';
import { DatabaseUnavailable, DatabaseWait, StartInterrupted } from './db/database-wait';
import { describeDbError } from './db/db-errors';
import { checkDbConnection, createDbPool, endDbPool, type DbPool } from './db/pool';
import { RegistrationStore } from './db/registration-store';
import { StatusWriter } from './db/status-writer';
import { DiRegistry } from './core/di';
import { logger } from './process/log';
import { settledWithin } from './core/settled-within';
import { ControlPlane } from './control-plane/control-plane';
import type { MetricsServer } from './rpc/metrics-server';
import type { RegistrationClient } from './sip/registration-client';
import { createSipRegistrationClient } from './sip/sip-registration-client';

const log = logger('daemon');
/** Status writes still queued at shutdown get this long to reach the database. */
const FLUSH_TIMEOUT_MS = 5000;
/**
 * Requests under way get this long to end at shutdown, their re-sends with credentials
 * or Min-Expires included. Not Timer F's 32 s: an unanswered REGISTER must not hold up
 * a restart (SPEC §1: exit within seconds). An account whose outcome is lost keeps its
 * old row and is handled at the next start.
 */
const SIP_DRAIN_MS = 3000;
/**
 * Database connections get this long to say goodbye (QUIT) at shutdown; then those
 * left (a statement hung on a silent connection) are severed.
 */
const POOL_END_MS = 1000;
/**
 * The RPC servers' requests in progress at shutdown: their answers are immediate (the
 * create/update/refresh/remove calls only queue work), so a request still open after
 * this is a stuck client.
 */
const RPC_STOP_GRACE_MS = 1000;
/**
 * All of stop() within this, whatever hangs (a silent registrar, a frozen database
 * connection, an idle RPC client): below main.ts's limit, after which the process
 * exits 1 without the orderly end. Each step gets its own time or what is left.
 */
const STOP_BUDGET_MS = 8000;

/** A start that a stop (SIGTERM) ended while it waited for the database: no failure to report. */
export function isInterruptedStart(err: unknown): boolean {
  return err instanceof StartInterrupted;
}

export class Daemon {
  private pool?: DbPool;
  private writer?: StatusWriter;
  private client?: RegistrationClient;
  private agent?: RegistrationAgent;
  private controlPlane?: ControlPlane;
  private metrics?: MetricsServer;
  /** Aborted by stop(): ends a start that waits for the database. */
  private readonly starting = new AbortController();
  readonly registry = new DiRegistry();

  constructor(private readonly config: DaemonConfig) {}

  async start(): Promise<void> {
    const { agent: ac, sems } = this.config;
    this.pool = createDbPool(ac.db);
    const wait = new DatabaseWait({ where: this.databaseAddress(), giveUpAfterMs: ac.dbStartTimeout * 1000, signal: this.starting.signal });
    await this.checkDatabase(this.pool, wait);

    const authenticate = sems.plugins.has('uac_auth');
    if (!authenticate) {
      log.warn('uac_auth is not loaded: registrations will not be authenticated');
    }
    const iface = sems.interfaces[0];
    if (!iface) throw new Error('no SIP interface configured');
    const client = await createSipRegistrationClient({
      iface,
      authenticate,
      userAgent: sems.signature,
      tls: ac.tls,
    }).catch((err: NodeJS.ErrnoException) => {
      if (!BIND_ERRORS.has(err.code ?? '')) throw err;
      throw new Error(`${iface.portKey}=${iface.port}: cannot bind the SIP socket on ${iface.ip}: ${err.message}`, { cause: err });
    });
    this.client = client;

    const store = new RegistrationStore(this.pool, ac.registrationsTable, { statementTimeoutMs: ac.dbWriteTimeout * 1000 });
    const saveContacts = ac.saveContacts && (await contactsColumnPresent(store, ac.registrationsTable));
    this.writer = new StatusWriter(store);
    const load = new RefreshLoad();
    const timers = new TimerQueue<AccountKey>(systemClock, { observer: load, describeKey: describeAccountKey });
    this.agent = new RegistrationAgent(
      {
        rules: {
          usernameWithDomain: ac.usernameWithDomain,
          contactHostport: ac.contactHostport,
          localHostport: hostport(iface.advertisedIp, iface.port),
          expires: ac.expires,
          outboundProxy: ac.outboundProxy || sems.outboundProxy,
        },
        policy: {
          saveContacts,
          saveAuthReplies: ac.saveAuthReplies,
          deleteRemovedRegistrations: ac.deleteRemovedRegistrations,
          deleteFailedDeregistrations: ac.deleteFailedDeregistrations,
        },
        errorRetryInterval: ac.errorRetryInterval,
        dbReadContact: ac.dbReadContact,
        maxPendingTransactions: ac.maxPendingTransactions,
      },
      {
        client,
        writer: this.writer,
        clock: systemClock,
        timers,
        planner: new RefreshPlanner(
          { reregisterInterval: ac.reregisterInterval, minimumReregisterInterval: ac.minimumReregisterInterval },
          systemClock,
          load,
        ),
        rateLimiter: createRateLimiter(systemClock, ac.rateLimit),
      },
    );
    this.registry.register('db_reg_agent', new DbRegAgentDi(this.agent));

    // Every port is bound before the first REGISTER: a start that fails on a taken port
    // (and a service manager restarting it) must not send a mass start each time.
    // Calls that arrive during the load wait for it, so they act on the loaded accounts.
    this.controlPlane = new ControlPlane({ xmlrpc: this.config.xmlrpc, jsonrpc: this.config.jsonrpc }, this.agent);
    await this.controlPlane.start();
    if (ac.metricsPort > 0) {
      // Loaded only when asked for: prom-client adds ~70 ms of start-up (its require) to every start.
      const { MetricsServer } = await import('./rpc/metrics-server.js');
      const metrics = new MetricsServer({ port: ac.metricsPort, listen: ac.metricsListen }, this.registry, () => this.writer?.stats());
      this.metrics = metrics;
      await metrics.start();
    }
    await this.loadAccounts(this.pool, this.agent, wait);
    this.controlPlane.open();
    log.info('running');
  }

  /** Reverse order; bindings stay registered (SPEC §1: that makes restarts seamless). */
  async stop(): Promise<void> {
    this.starting.abort();
    const deadline = performance.now() + STOP_BUDGET_MS;
    /** A step's own time, or what is left of the budget once `reserveMs` is kept for later steps. */
    const within = (ms: number, reserveMs = 0): number => Math.max(0, Math.min(ms, deadline - reserveMs - performance.now()));
    await this.metrics?.stop();
    await this.controlPlane?.stop(RPC_STOP_GRACE_MS);
    this.agent?.stop();
    if (this.client) {
      await settledWithin(this.client.close(), within(SIP_DRAIN_MS, POOL_END_MS), (err) => log.warn(`while stopping: ${(err as Error).message}`));
    }
    if (this.writer) {
      const flushed = await this.writer.flush(within(FLUSH_TIMEOUT_MS, POOL_END_MS));
      const left = this.writer.close();
      if (!flushed) log.error(`${left} status writes could not be stored before shutdown`);
    }
    if (this.pool) {
      const poolMs = Math.max(100, within(POOL_END_MS));
      const severed = await endDbPool(this.pool, poolMs);
      if (severed > 0) log.warn(`${severed} database connection(s) did not close within ${poolMs} ms; dropped`);
    }
  }

  /**
   * SEMS refuses to load without its database; we wait for it up to db_start_timeout
   * (a service manager may start us first), then refuse with the reason. A wrong
   * login or database name fails at once.
   */
  private async checkDatabase(pool: DbPool, wait: DatabaseWait): Promise<void> {
    await wait.run('SELECT 1', () => checkDbConnection(pool, this.config.agent.dbWriteTimeout * 1000))
      .catch((err: unknown) => this.databaseFailure(err));
  }

  private databaseAddress(): string {
    const { host, port, socketPath } = this.config.agent.db;
    return socketPath ?? `${host}:${port}`;
  }

  /** A start-up read that failed for good, as the start's one line: which database, as whom, why. */
  private databaseFailure(err: unknown): never {
    if (err instanceof StartInterrupted) throw err;
    const { user, database } = this.config.agent.db;
    const reason = err instanceof DatabaseUnavailable ? err.message : describeDbError(err);
    throw new Error(`cannot use database '${database}' at ${this.databaseAddress()} as '${user}': ${reason}`, { cause: err });
  }

  /** Each query read to its end, through outages; nothing is registered twice (account-load.ts). */
  private async loadAccounts(pool: DbPool, agent: RegistrationAgent, wait: DatabaseWait): Promise<void> {
    const ac = this.config.agent;
    const queries: AccountQuery[] = [];
    if (ac.subscribersQuery) {
      queries.push({ type: 'subscriber', sql: ac.subscribersQuery, configKey: 'joined_query' });
    }
    if (ac.peeringsQuery) queries.push({ type: 'peering', sql: ac.peeringsQuery, configKey: 'joined_query_peerings' });
    const started = performance.now();
    for (const query of queries) {
      // The stream reads the DB clock on the engine's clock: its rows' times count from that moment.
      const load = await loadAccountQuery(pool, query, (row, readAt) => agent.restore(row, readAt), {
        wait, replyTimeoutMs: ac.dbWriteTimeout * 1000, monotonicNow: () => systemClock.now(),
      }).catch((err: unknown) => (err instanceof DatabaseUnavailable ? this.databaseFailure(err) : Promise.reject(err)));
      if (load.skipped > 0) log.warn(`${query.configKey}: ${load.skipped} rows without a usable id skipped`);
      if (load.repeated > 0) log.info(`${query.configKey}: read ${load.repeated + 1} times; ${load.restored} accounts taken, each once`);
    }
    log.info(`loaded ${agent.size} registrations in ${Math.round(performance.now() - started)} ms`);
  }
}

/** Errors of a socket that cannot be bound (taken, not an address of this host, privileged). */
const BIND_ERRORS = new Set(['EADDRINUSE', 'EADDRNOTAVAIL', 'EACCES']);

function hostport(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * save_contacts=yes (the default) needs a contacts column. Tables made for SEMS
 * versions before it lack one, and every 2xx status write would then fail: the
 * Contact sets are left out instead, once said. A failed look-up keeps the setting.
 */
async function contactsColumnPresent(store: RegistrationStore, table: string): Promise<boolean> {
  const present = await store.hasColumn('contacts').catch(() => true);
  if (!present) log.warn(`'${table}' has no contacts column: Contact sets of 2xx replies are not stored (save_contacts=yes)`);
  return present;
}
