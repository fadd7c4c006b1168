/**
 * A real registrar for integration tests and benchmarks: Kamailio (Debian package)
 * with registrar + usrloc + auth_db, its own MariaDB database, its own free loopback
 * ports (UDP, TCP, TLS, optionally [::1]) and its own temp dir. Many instances can run
 * side by side.
 *
 *   const kam = await startKamailio({ realm: 'example.test' });
 *   await kam.addSubscriber('alice', 'secret');
 *   // ... point the daemon at 127.0.0.1:kam.ports.udp ...
 *   const [binding] = await kam.waitForLocations((rows) => rows.length === 1);
 *   await kam.stop();
 *
 * Routing (test/fixtures/kamailio/kamailio.cfg.tmpl): REGISTER → a pre-loaded Route
 * naming this instance (it doubles as an outbound proxy) is consumed → optional scripted
 * faults (reply503Prefix, dropPrefix) → www_authorize against the subscriber table
 * (plain-text passwords) → 401 with qop=auth on any failure → save("location"); any
 * other method → 405. usrloc writes through (db_mode 1), so a binding is in the
 * `location` table as soon as the 200 OK is sent. For benchmarks, `accounting` adds a
 * per-account REGISTER counter (htable) and `transactionDelayMs` holds every REGISTER
 * transaction open as over a WAN; both are off unless asked.
 *
 * Outages: freeze() / thaw() stop and continue every process of the instance (a host
 * gone silent); kill() ends them, keeping ports, configuration and database, and
 * restart() starts the same registrar again (its bindings reloaded from the location
 * table).
 */
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import mysql from 'mysql2/promise';
import { fixturePath, makeTempDir, removeDir, testCertificate, TestCertificate } from './fixtures';
import { fileTail, PeerProcess, processExists, waitUntil } from './peer-process';
import { freePorts, releasePorts } from './ports';

export interface MysqlServer {
  host: string;
  port: number;
  user: string;
  password: string;
}

export interface KamailioOptions {
  /**
   * Fixed digest realm for challenges and credential checks. Default: the domain of
   * the request's To URI (so each account's own domain is its realm).
   */
  realm?: string;
  /** registrar default_expires: granted when the request names none (default 3600). */
  defaultExpires?: number;
  /** registrar min_expires, 0 = no minimum (default 0). */
  minExpires?: number;
  /** registrar max_expires, 0 = no maximum (default 0). Longer requests are cut down to it. */
  maxExpires?: number;
  /**
   * What happens to a request below minExpires (registrar min_expires_mode):
   * '423' answers 423 Interval Too Brief with Min-Expires (default); 'raise' silently
   * grants minExpires instead (Kamailio's own default).
   */
  briefExpires?: '423' | 'raise';
  /** Digest algorithm offered in challenges (auth module `algorithm`); default none = MD5. */
  algorithm?: 'MD5' | 'SHA-256';
  /** auth nonce_expire in seconds (default 300). Short values exercise stale=true. */
  nonceExpire?: number;
  /** REGISTERs whose To user starts with this get 503 Service Unavailable (default: none). */
  reply503Prefix?: string;
  /** REGISTERs whose To user starts with this are dropped without any reply (default: none). */
  dropPrefix?: string;
  /**
   * Log each REGISTER's arrival and the sending of its challenge or reply with a
   * microsecond timestamp, user, Call-ID, CSeq and Via (readRegisterTrace reads them).
   */
  traceRegisters?: boolean;
  /**
   * Count every REGISTER against its address of record in an `htable` (`acc`), as
   * production registrars keep per-account accounting (default off; benchmarks).
   */
  accounting?: boolean;
  /**
   * Keep each REGISTER transaction open for a random [min, max] ms before handling it,
   * as over a WAN, without holding a worker (tm + async_ms_sleep, then `asyncWorkers`
   * processes run the rest). Default: no delay.
   */
  transactionDelayMs?: readonly [number, number];
  /** Core async workers that handle delayed REGISTERs (default 4; with transactionDelayMs). */
  asyncWorkers?: number;
  /** SIP worker processes per UDP socket, and TCP workers (default 2). */
  children?: number;
  /** Also listen on [::1] (same port numbers). */
  ipv6?: boolean;
  /** Listen on TLS (default true). */
  tls?: boolean;
  /**
   * usrloc db_mode: 1 write-through (default; bindings visible at once), 2 write-back
   * (flushed every `usrlocTimerInterval` s; fastest for benchmarks), 3 DB only.
   */
  usrlocDbMode?: 1 | 2 | 3;
  /** usrloc timer_interval: how often expired bindings are purged / flushed (default 10 s). */
  usrlocTimerInterval?: number;
  /** usrloc hash_size: the location table has 2^hashSize slots (Kamailio's default 10). */
  usrlocHashSize?: number;
  /** Kamailio `debug` level: 1 warnings, 2 info (default; one line per failed auth), 3 debug. */
  logLevel?: number;
  /** Shared memory in MB (default 128; 100 000 bindings need roughly 100). */
  sharedMemoryMb?: number;
  /** How long to wait for every listener to answer (default 20 s). */
  startTimeoutMs?: number;
  mysql?: Partial<MysqlServer>;
  /** Path of the kamailio binary (default /usr/sbin/kamailio, else from PATH). */
  binary?: string;
}

export interface KamailioPorts {
  udp: number;
  tcp: number;
  tls: number;
}

export interface Subscriber {
  user: string;
  password: string;
  /** Default: the handle's `defaultDomain`. */
  domain?: string;
}

export interface LocationRow {
  username: string;
  domain: string | null;
  contact: string;
  /** Absolute expiry (Kamailio runs with TZ=UTC, so the DATETIME column holds UTC). */
  expires: Date;
  /** Whole seconds from now until `expires` (negative once expired). */
  expiresIn: number;
  received: string | null;
  callId: string;
  cseq: number;
  userAgent: string;
  /** Kamailio socket the REGISTER came in on, e.g. "udp:127.0.0.1:5060". */
  socket: string | null;
  lastModified: Date;
}

export interface LocationFilter {
  username?: string;
  domain?: string;
  /** Include bindings whose expiry has passed but that usrloc has not purged yet. */
  includeExpired?: boolean;
}

export interface KamailioHandle {
  /** Pid of the main process, which leads the process group of all workers (a new one after restart()). */
  readonly pid: number;
  readonly host: string;
  /** '::1' when started with ipv6: true. */
  readonly host6: string | undefined;
  readonly ports: KamailioPorts;
  /** Name of this instance's MariaDB database (tables version, location, subscriber...). */
  readonly database: string;
  readonly realm: string | undefined;
  /** Domain addSubscriber uses when none is given: `realm`, else 127.0.0.1. */
  readonly defaultDomain: string;
  readonly dir: string;
  readonly cfgFile: string;
  readonly logFile: string;
  readonly certificate: TestCertificate | undefined;
  /** How long start-up took, ms (spawn until every listener answered). */
  readonly startupMs: number;
  /** `host:port` for a transport, e.g. for a realm or an outbound proxy. */
  hostPort(transport?: 'udp' | 'tcp' | 'tls', ipv6?: boolean): string;
  addSubscriber(user: string, password: string, domain?: string): Promise<void>;
  /** Bulk insert: multi-row INSERTs of `chunkSize` rows (default 5000). */
  addSubscribers(subscribers: readonly Subscriber[], chunkSize?: number): Promise<void>;
  removeSubscriber(user: string, domain?: string): Promise<void>;
  setPassword(user: string, password: string, domain?: string): Promise<void>;
  locations(filter?: LocationFilter): Promise<LocationRow[]>;
  /** Polls locations() until `predicate` holds; returns those rows. */
  waitForLocations(
    predicate: (rows: LocationRow[]) => boolean,
    options?: LocationFilter & { timeoutMs?: number; pollMs?: number },
  ): Promise<LocationRow[]>;
  /** Runs a query on this instance's database. */
  query<T = mysql.RowDataPacket[]>(sql: string, params?: unknown[]): Promise<T>;
  /** Kamailio RPC through kamcmd, e.g. rpc('ul.dump'), rpc('stats.get_statistics', 'usrloc:'). */
  rpc(method: string, ...params: string[]): Promise<string>;
  logTail(lines?: number): string;
  readonly running: boolean;
  /** SIGSTOP to every process: datagrams queue in the socket buffers until they overflow, nothing is answered. */
  freeze(): void;
  /** SIGCONT after freeze(): what was queued is processed, late. */
  thaw(): void;
  /** SIGKILL to every process, keeping ports, configuration and database for restart(): UDP gets ICMP port unreachable, TCP resets. */
  kill(): Promise<void>;
  /** After kill(): the same registrar again, on the same ports; resolves once every listener answers. */
  restart(): Promise<void>;
  /** Kills the process group, waits for it, drops the database, removes the temp dir. */
  stop(): Promise<void>;
}

const DEFAULT_MYSQL: MysqlServer = { host: '127.0.0.1', port: 3306, user: 'root', password: '' };
const SCHEMA_FILES = ['standard-create.sql', 'usrloc-create.sql', 'auth_db-create.sql'];
const SCHEMA_DIR = '/usr/share/kamailio/mysql';
const MODULES_DIRS = ['/usr/lib/x86_64-linux-gnu/kamailio/modules', '/usr/lib/aarch64-linux-gnu/kamailio/modules',
  '/usr/lib/kamailio/modules', '/usr/local/lib64/kamailio/modules'];
/** Start attempts when another process grabbed one of our ports first. */
const PORT_CLASH_RETRIES = 3;
const DB_PREFIX = 'kamtest';

const running = new Set<KamailioHandle>();

/** Kamailio's www_authorize() results (auth_api.h) the template logs. */
export const AUTH_RC = { stale: -4, noCredentials: -5, wrongPassword: -2 } as const;

export interface AuthFailure {
  cseq: number;
  rc: number;
}

/**
 * The REGISTERs with this Call-ID that the registrar challenged, from its log lines
 * `{1 <CSeq> REGISTER <Call-ID>} <script>: auth failed (<rc>) ...`.
 */
export function authFailures(kam: KamailioHandle, callId: string): AuthFailure[] {
  const line = /\{1 (\d+) REGISTER (\S+)\} <script>: auth failed \((-?\d+)\)/;
  return fs.readFileSync(kam.logFile, 'utf8').split('\n')
    .map((text) => line.exec(text))
    .filter((m): m is RegExpExecArray => m !== null && m[2] === callId)
    .map((m) => ({ cseq: Number(m[1]), rc: Number(m[3]) }));
}

/** Starts a Kamailio registrar; resolves once UDP, TCP and TLS all answer. */
/** REGISTER requests Kamailio has received since it started (retransmissions included; kamcmd's `rcv_requests_register`). */
export async function registersReceived(kam: KamailioHandle): Promise<number> {
  const text = await kam.rpc('stats.get_statistics', 'rcv_requests_register');
  const match = /rcv_requests_register\s*=\s*(\d+)/.exec(text);
  if (!match) throw new Error(`no rcv_requests_register in: ${text}`);
  return Number(match[1]);
}

export async function startKamailio(options: KamailioOptions = {}): Promise<KamailioHandle> {
  validateOptions(options);
  const server: MysqlServer = { ...DEFAULT_MYSQL, ...options.mysql };
  await dropStaleDatabases(server);
  const database = newDatabaseName();
  const db = await createDatabase(server, database);
  try {
    for (let attempt = 1; ; attempt++) {
      try {
        const handle = await launch(options, server, database, db);
        running.add(handle);
        return handle;
      } catch (err) {
        if (!(err instanceof PortClashError) || attempt >= PORT_CLASH_RETRIES) throw err;
      }
    }
  } catch (err) {
    await dropDatabase(db, database);
    throw err;
  }
}

/** Stops every instance this process started and has not stopped yet. */
export async function stopAllKamailio(): Promise<void> {
  await Promise.all([...running].map((handle) => handle.stop()));
}

class PortClashError extends Error {}

async function launch(
  options: KamailioOptions, server: MysqlServer, database: string, db: mysql.Connection,
): Promise<KamailioHandle> {
  const useTls = options.tls ?? true;
  const hosts = options.ipv6 ? ['127.0.0.1', '::1'] : ['127.0.0.1'];
  const [udp, tcp, tlsPort] = await freePorts(3, { hosts });
  const ports: KamailioPorts = { udp, tcp, tls: useTls ? tlsPort : 0 };
  const dir = makeTempDir('kamailio');
  const files = {
    cfg: path.join(dir, 'kamailio.cfg'),
    tlsCfg: path.join(dir, 'tls.cfg'),
    log: path.join(dir, 'kamailio.log'),
    pid: path.join(dir, 'kamailio.pid'),
    ctl: path.join(dir, 'kamailio_ctl'),
  };
  const certificate = useTls ? testCertificate() : undefined;
  if (certificate) {
    fs.writeFileSync(files.tlsCfg, renderTemplate(readFixture('tls.cfg.tmpl'), {
      CERT_FILE: certificate.certFile, KEY_FILE: certificate.keyFile,
    }));
  }
  fs.writeFileSync(files.cfg, renderConfig(options, { ports, hosts, database, server, files }));

  const started = Date.now();
  const peer = spawnKamailio(options, files, dir);
  const ready = await waitForListeners(peer, ports, hosts, options.startTimeoutMs ?? 20000);
  if (!ready.ok) {
    await peer.stop('SIGKILL', 3000).catch(() => undefined);
    const tail = fileTail(files.log, 30);
    removeDir(dir);
    releasePorts([udp, tcp, tlsPort]);
    if (/Address already in use/i.test(tail)) throw new PortClashError(`port clash: ${ports.udp}/${ports.tcp}/${ports.tls}`);
    throw new Error(`Kamailio did not start (${ready.reason}); HARNESS_KEEP_DIRS=1 keeps ${dir}; log tail:\n${tail}`);
  }
  return makeHandle({
    options, db, database, dir, files, ports, hosts, certificate, peer,
    host6: options.ipv6 ? '::1' : undefined, startupMs: Date.now() - started,
    release: () => releasePorts([udp, tcp, tlsPort]),
  });
}

interface InstanceFiles {
  cfg: string;
  log: string;
  pid: string;
  ctl: string;
}

function spawnKamailio(options: KamailioOptions, files: InstanceFiles, dir: string): PeerProcess {
  const memoryMb = options.sharedMemoryMb ?? 128;
  return PeerProcess.start(options.binary ?? kamailioBinary(), [
    '-DD', '-E', '-f', files.cfg, '-Y', dir, '-P', files.pid, '-w', dir,
    '-m', String(memoryMb), '-M', '16',
  ], { logFile: files.log, cwd: dir, env: { ...process.env, TZ: 'UTC' } });
}

interface HandleParts {
  options: KamailioOptions;
  db: mysql.Connection;
  database: string;
  dir: string;
  files: InstanceFiles;
  ports: KamailioPorts;
  hosts: string[];
  certificate: TestCertificate | undefined;
  peer: PeerProcess;
  host6: string | undefined;
  startupMs: number;
  release: () => void;
}

function makeHandle(parts: HandleParts): KamailioHandle {
  const { db, files, ports } = parts;
  let peer = parts.peer;
  const defaultDomain = parts.options.realm ?? '127.0.0.1';
  let stopping: Promise<void> | undefined;

  const locations = async (filter: LocationFilter = {}): Promise<LocationRow[]> => {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.username !== undefined) { where.push('username = ?'); params.push(filter.username); }
    if (filter.domain !== undefined) { where.push('domain = ?'); params.push(filter.domain); }
    const [rows] = await db.query<mysql.RowDataPacket[]>(
      'SELECT username, domain, contact, expires, received, callid, cseq, user_agent, socket, last_modified'
      + ` FROM location ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY id`, params);
    const now = Date.now();
    return rows.map((row) => toLocationRow(row, now)).filter((row) => filter.includeExpired || row.expiresIn > 0);
  };

  const handle: KamailioHandle = {
    get pid() {
      return peer.pid;
    },
    host: '127.0.0.1',
    host6: parts.host6,
    ports,
    database: parts.database,
    realm: parts.options.realm,
    defaultDomain,
    dir: parts.dir,
    cfgFile: files.cfg,
    logFile: files.log,
    certificate: parts.certificate,
    startupMs: parts.startupMs,
    hostPort: (transport = 'udp', ipv6 = false) => `${ipv6 ? '[::1]' : '127.0.0.1'}:${ports[transport]}`,
    addSubscriber: (user, password, domain) => handle.addSubscribers([{ user, password, domain }]),
    async addSubscribers(subscribers, chunkSize = 5000) {
      for (let i = 0; i < subscribers.length; i += chunkSize) {
        const rows = subscribers.slice(i, i + chunkSize).map((s) => [s.user, s.domain ?? defaultDomain, s.password]);
        await db.query('INSERT INTO subscriber (username, domain, password) VALUES ?', [rows]);
      }
    },
    async removeSubscriber(user, domain = defaultDomain) {
      await db.query('DELETE FROM subscriber WHERE username = ? AND domain = ?', [user, domain]);
    },
    async setPassword(user, password, domain = defaultDomain) {
      await db.query('UPDATE subscriber SET password = ? WHERE username = ? AND domain = ?', [password, user, domain]);
    },
    locations,
    async waitForLocations(predicate, options = {}) {
      let rows: LocationRow[] = [];
      const ok = await waitUntil(async () => predicate(rows = await locations(options)),
        options.timeoutMs ?? 10000, options.pollMs ?? 100);
      if (!ok) throw new Error(`location table never matched; last rows: ${JSON.stringify(rows)}`);
      return rows;
    },
    async query<T>(sql: string, params: unknown[] = []) {
      const [result] = await db.query(sql, params);
      return result as T;
    },
    rpc: (method, ...params) => runKamcmd(files.ctl, method, params),
    logTail: (lines = 40) => fileTail(files.log, lines),
    get running() {
      return peer.running;
    },
    freeze: () => peer.signal('SIGSTOP'),
    thaw: () => peer.signal('SIGCONT'),
    async kill() {
      await peer.stop('SIGKILL', 5000);
    },
    async restart() {
      if (peer.running) throw new Error(`Kamailio (pgid ${peer.pid}) is still running; kill() it first`);
      peer = spawnKamailio(parts.options, files, parts.dir);
      const ready = await waitForListeners(peer, ports, parts.hosts, parts.options.startTimeoutMs ?? 20000);
      if (!ready.ok) throw new Error(`Kamailio did not start again (${ready.reason}); log tail:\n${fileTail(files.log, 30)}`);
    },
    stop() {
      stopping ??= (async () => {
        try {
          await peer.stop('SIGTERM', 5000);
        } finally {
          running.delete(handle);
          parts.release();
          await dropDatabase(db, parts.database);
          removeDir(parts.dir);
        }
      })();
      return stopping;
    },
  };
  return handle;
}

function toLocationRow(row: mysql.RowDataPacket, now: number): LocationRow {
  const expires = row.expires as Date;
  return {
    username: row.username,
    domain: row.domain,
    contact: row.contact,
    expires,
    expiresIn: Math.round((expires.getTime() - now) / 1000),
    received: row.received,
    callId: row.callid,
    cseq: row.cseq,
    userAgent: row.user_agent,
    socket: row.socket,
    lastModified: row.last_modified,
  };
}

// ----- configuration -----------------------------------------------------------------

interface RenderContext {
  ports: KamailioPorts;
  hosts: string[];
  database: string;
  server: MysqlServer;
  files: { tlsCfg: string; ctl: string };
}

function renderConfig(options: KamailioOptions, ctx: RenderContext): string {
  const useTls = ctx.ports.tls !== 0;
  return renderTemplate(readFixture('kamailio.cfg.tmpl'), {
    DEBUG_LEVEL: String(options.logLevel ?? 2),
    CHILDREN: String(options.children ?? 2),
    LISTEN: listenLines(ctx.ports, ctx.hosts),
    ENABLE_TLS: useTls ? 'yes' : 'no',
    MODULES_PATH: modulesDir(),
    LOAD_TLS: useTls ? 'loadmodule "tls.so"' : '',
    TLS_PARAMS: useTls ? `modparam("tls", "config", "${ctx.files.tlsCfg}")` : '',
    CTL_SOCKET: ctx.files.ctl,
    DB_URL: dbUrl(ctx.server, ctx.database),
    USRLOC_DB_MODE: String(options.usrlocDbMode ?? 1),
    USRLOC_TIMER_INTERVAL: String(options.usrlocTimerInterval ?? 10),
    USRLOC_HASH_SIZE: String(options.usrlocHashSize ?? 10),
    DEFAULT_EXPIRES: String(options.defaultExpires ?? 3600),
    MIN_EXPIRES: String(options.minExpires ?? 0),
    MAX_EXPIRES: String(options.maxExpires ?? 0),
    MIN_EXPIRES_MODE: (options.briefExpires ?? '423') === '423' ? '1' : '0',
    NONCE_EXPIRE: String(options.nonceExpire ?? 300),
    ALGORITHM: options.algorithm ?? '',
    AUTH_SECRET: crypto.randomBytes(16).toString('hex'),
    REALM_EXPR: options.realm === undefined ? '$td' : `"${options.realm}"`,
    UNAVAILABLE_PREFIX: options.reply503Prefix ?? '',
    DROP_PREFIX: options.dropPrefix ?? '',
    TRACE_DEFINE: options.traceRegisters ? '#!define TRACE_REGISTERS' : '# traceRegisters: off',
    PROFILE_DEFINES: profileDefines(options),
  });
}

/** Preprocessor defines for the benchmark registrar's options; none for the test suite. */
function profileDefines(options: KamailioOptions): string {
  const lines: string[] = [];
  if (options.accounting) lines.push('#!define WITH_ACCOUNTING');
  if (options.transactionDelayMs) {
    const [min, max] = options.transactionDelayMs;
    lines.push('#!define WITH_TRANSACTION_DELAY', `#!define TRANSACTION_DELAY_MIN_MS ${min}`,
      `#!define TRANSACTION_DELAY_SPAN_MS ${max - min + 1}`, `#!define ASYNC_WORKERS ${options.asyncWorkers ?? 4}`);
  }
  return lines.length > 0 ? lines.join('\n') : '# no benchmark options';
}

function listenLines(ports: KamailioPorts, hosts: string[]): string {
  const lines: string[] = [];
  for (const host of hosts) {
    const address = net.isIPv6(host) ? `[${host}]` : host;
    lines.push(`listen=udp:${address}:${ports.udp}`, `listen=tcp:${address}:${ports.tcp}`);
    if (ports.tls) lines.push(`listen=tls:${address}:${ports.tls}`);
  }
  return lines.join('\n');
}

/** Replaces every `${NAME}`; a placeholder without a value is a bug in this file. */
export function renderTemplate(template: string, values: Record<string, string>): string {
  return template.replace(/\$\{([A-Z_]+)\}/g, (_match, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`template placeholder \${${name}} has no value`);
    return value;
  });
}

function readFixture(name: string): string {
  return fs.readFileSync(fixturePath('kamailio', name), 'utf8');
}

function validateOptions(options: KamailioOptions): void {
  if (options.realm !== undefined && !/^[A-Za-z0-9._:[\]-]+$/.test(options.realm)) {
    throw new Error(`realm ${JSON.stringify(options.realm)} must be a plain host name`);
  }
  for (const key of ['reply503Prefix', 'dropPrefix'] as const) {
    const prefix = options[key];
    if (prefix !== undefined && !/^[A-Za-z0-9_-]+$/.test(prefix)) throw new Error(`${key} must be letters, digits, '_' or '-'`);
  }
  const delay = options.transactionDelayMs;
  if (delay !== undefined && !(Number.isInteger(delay[0]) && Number.isInteger(delay[1]) && delay[0] >= 0 && delay[1] >= delay[0])) {
    throw new Error(`transactionDelayMs must be [min, max] whole ms with 0 <= min <= max, got ${JSON.stringify(delay)}`);
  }
  for (const key of ['defaultExpires', 'minExpires', 'maxExpires', 'nonceExpire', 'children', 'asyncWorkers'] as const) {
    const value = options[key];
    if (value !== undefined && (!Number.isInteger(value) || value < 0)) throw new Error(`${key} must be an integer >= 0`);
  }
}

function kamailioBinary(): string {
  return fs.existsSync('/usr/sbin/kamailio') ? '/usr/sbin/kamailio' : 'kamailio';
}

function modulesDir(): string {
  const dir = MODULES_DIRS.find((candidate) => fs.existsSync(path.join(candidate, 'registrar.so')));
  if (!dir) throw new Error(`Kamailio modules not found in ${MODULES_DIRS.join(', ')} (apt-get install kamailio)`);
  return dir;
}

function runKamcmd(ctlSocket: string, method: string, params: string[]): Promise<string> {
  const binary = fs.existsSync('/usr/sbin/kamcmd') ? '/usr/sbin/kamcmd' : 'kamcmd';
  return new Promise((resolve, reject) => {
    execFile(binary, ['-s', `unixs:${ctlSocket}`, method, ...params], { timeout: 10000, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => (err ? reject(new Error(`kamcmd ${method}: ${err.message} ${stderr}`)) : resolve(stdout)));
  });
}

// ----- readiness ---------------------------------------------------------------------

type Readiness = { ok: true } | { ok: false; reason: string };

/** Polls every listener until it answers: UDP with a SIP reply, TCP/TLS with a handshake. */
async function waitForListeners(
  peer: PeerProcess, ports: KamailioPorts, hosts: string[], timeoutMs: number,
): Promise<Readiness> {
  const deadline = Date.now() + timeoutMs;
  const pending: Array<() => Promise<boolean>> = [];
  for (const host of hosts) {
    pending.push(() => udpAnswers(host, ports.udp, 300));
    pending.push(() => streamConnects(host, ports.tcp, false, 500));
    if (ports.tls) pending.push(() => streamConnects(host, ports.tls, true, 1000));
  }
  while (pending.length > 0) {
    if (!peer.running) return { ok: false, reason: `exited with ${JSON.stringify(peer.exitStatus)}` };
    if (Date.now() > deadline) return { ok: false, reason: `not listening after ${timeoutMs} ms` };
    if (await pending[0]()) pending.shift();
    else await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { ok: true };
}

/** Sends an OPTIONS; any SIP reply (the test route answers 405) means workers are up. */
function udpAnswers(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const v6 = net.isIPv6(host);
    const socket = dgram.createSocket(v6 ? 'udp6' : 'udp4');
    const finish = (ok: boolean) => {
      clearTimeout(timer);
      socket.close();
      resolve(ok);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    socket.on('error', () => finish(false));
    socket.on('message', (data) => finish(data.toString('latin1').startsWith('SIP/2.0 ')));
    socket.bind({ port: 0, address: host }, () => {
      const local = socket.address();
      const hostPort = `${v6 ? `[${local.address}]` : local.address}:${local.port}`;
      const tag = crypto.randomBytes(6).toString('hex');
      socket.send([
        `OPTIONS sip:${v6 ? `[${host}]` : host}:${port} SIP/2.0`,
        `Via: SIP/2.0/UDP ${hostPort};branch=z9hG4bK${tag}`,
        'Max-Forwards: 70',
        `From: <sip:probe@${hostPort}>;tag=${tag}`,
        `To: <sip:probe@${hostPort}>`,
        `Call-ID: ${tag}@harness-probe`,
        'CSeq: 1 OPTIONS',
        'Content-Length: 0',
        '', '',
      ].join('\r\n'), port, host);
    });
  });
}

function streamConnects(host: string, port: number, secure: boolean, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = secure
      ? tls.connect({ host, port, rejectUnauthorized: false })
      : net.connect({ host, port });
    const finish = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    socket.once(secure ? 'secureConnect' : 'connect', () => finish(true));
    socket.once('error', () => finish(false));
  });
}

// ----- database ----------------------------------------------------------------------

/** kamtest_<host tag>_<pid>_<random>: the pid lets a later run drop what a crashed run left. */
function newDatabaseName(): string {
  return `${DB_PREFIX}_${hostTag()}_${process.pid}_${crypto.randomBytes(4).toString('hex')}`;
}

function hostTag(): string {
  return crypto.createHash('sha1').update(os.hostname()).digest('hex').slice(0, 6);
}

function dbUrl(server: MysqlServer, database: string): string {
  const auth = server.password ? `${encodeURIComponent(server.user)}:${encodeURIComponent(server.password)}`
    : encodeURIComponent(server.user);
  return `mysql://${auth}@${server.host}:${server.port}/${database}`;
}

async function createDatabase(server: MysqlServer, database: string): Promise<mysql.Connection> {
  const db = await mysql.createConnection({
    host: server.host, port: server.port, user: server.user, password: server.password,
    multipleStatements: true, connectTimeout: 5000,
    // Kamailio runs with TZ=UTC and writes DATETIMEs in its local time, i.e. UTC.
    timezone: 'Z',
  });
  try {
    await db.query(`CREATE DATABASE \`${database}\``);
    await db.query(`USE \`${database}\``);
    for (const file of SCHEMA_FILES) {
      await db.query(fs.readFileSync(path.join(SCHEMA_DIR, file), 'utf8'));
    }
    return db;
  } catch (err) {
    await dropDatabase(db, database);
    throw err;
  }
}

async function dropDatabase(db: mysql.Connection, database: string): Promise<void> {
  try {
    await db.query(`DROP DATABASE IF EXISTS \`${database}\``);
  } finally {
    await db.end().catch(() => undefined);
  }
}

let staleSweepDone = false;

/** Once per test process: the first start clears what crashed runs left behind. */
async function dropStaleDatabases(server: MysqlServer): Promise<void> {
  if (staleSweepDone) return;
  staleSweepDone = true;
  await dropOrphanedDatabases(server);
}

/** Drops the databases of test processes on this host that no longer exist. */
export async function dropOrphanedDatabases(mysqlServer: Partial<MysqlServer> = {}): Promise<void> {
  const server = { ...DEFAULT_MYSQL, ...mysqlServer };
  const db = await mysql.createConnection({
    host: server.host, port: server.port, user: server.user, password: server.password, connectTimeout: 5000,
  });
  try {
    const [rows] = await db.query<mysql.RowDataPacket[]>(`SHOW DATABASES LIKE '${DB_PREFIX}\\_${hostTag()}\\_%'`);
    for (const row of rows) {
      const name = String(Object.values(row)[0]);
      const pid = Number(name.split('_')[2]);
      if (Number.isInteger(pid) && !processExists(pid)) await db.query(`DROP DATABASE IF EXISTS \`${name}\``);
    }
  } finally {
    await db.end().catch(() => undefined);
  }
}
