/**
 * Throw-away databases on the local MariaDB (127.0.0.1:3306, root, empty password)
 * for integration tests, and a loopback proxy to simulate the database going away.
 *
 *   const db = await createTestDatabase({ schema: 'readme' });
 *   try { ... createDbPool(db.config) ... } finally { await db.drop(); }
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import mysql from 'mysql2/promise';
import type { DbConnectionConfig } from '../../src/config/agent-config';

export const MARIADB_ROOT = { host: '127.0.0.1', port: 3306, user: 'root', password: '' } as const;

/** readme: sql/schema.sql; sipwise: sql/schema-sipwise.sql; none: an empty database. */
export type TestSchema = 'readme' | 'sipwise' | 'none';

const SCHEMA_FILES: Record<Exclude<TestSchema, 'none'>, string> = {
  readme: 'schema.sql',
  sipwise: 'schema-sipwise.sql',
};

/** A row of the README registrations table as the tests read it (dateStrings on). */
export interface RegistrationRow {
  subscriber_id: number;
  registration_status: number;
  last_registration: string | null;
  expiry: string | null;
  last_code: number | null;
  last_reason: string | null;
  contacts: string | null;
}

export interface TestDatabase {
  name: string;
  /** For the code under test: root on this database. */
  config: DbConnectionConfig;
  /** Root on this database, for arranging and checking rows (dateStrings on). */
  root: mysql.Pool;
  query<T = mysql.RowDataPacket>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Multi-row INSERT in batches; every row must have the same columns. */
  insert(table: string, rows: Record<string, unknown>[]): Promise<void>;
  /** Server thread ids of connections to this database, not counting `root`'s. */
  connectionIds(): Promise<number[]>;
  /** KILLs those connections (what a DB restart or an admin does to the agent). Returns how many. */
  killConnections(): Promise<number>;
  drop(): Promise<void>;
}

/** The repository root, wherever the compiled test runs from. */
export function repositoryRoot(): string {
  for (let dir = __dirname; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'sql', 'schema.sql'))) return dir;
  }
  throw new Error(`no sql/schema.sql above ${__dirname}`);
}

export function schemaSql(schema: Exclude<TestSchema, 'none'>): string {
  return readFileSync(path.join(repositoryRoot(), 'sql', SCHEMA_FILES[schema]), 'utf8');
}

export async function createTestDatabase(options: { schema?: TestSchema } = {}): Promise<TestDatabase> {
  const name = `test_dbreg_${randomBytes(6).toString('hex')}`;
  const admin = await mysql.createConnection({ ...MARIADB_ROOT });
  try {
    await admin.query(`CREATE DATABASE \`${name}\` DEFAULT CHARACTER SET utf8mb4`);
  } finally {
    await admin.end();
  }
  const root = mysql.createPool({
    ...MARIADB_ROOT, database: name, dateStrings: true, multipleStatements: true, connectionLimit: 4,
  });
  const rootThreads = new Set<number>();
  root.on('connection', (connection) => rootThreads.add(connection.threadId));
  const schema = options.schema ?? 'readme';
  if (schema !== 'none') await root.query(schemaSql(schema));

  const query = async <T>(sql: string, params: unknown[] = []): Promise<T[]> => {
    const [rows] = await root.query(sql, params);
    return rows as T[];
  };
  const connectionIds = async (): Promise<number[]> => {
    const rows = await query<{ id: number }>('SELECT id FROM information_schema.processlist WHERE db = ?', [name]);
    return rows.map((row) => Number(row.id)).filter((id) => !rootThreads.has(id));
  };

  return {
    name,
    config: { host: MARIADB_ROOT.host, port: MARIADB_ROOT.port, user: MARIADB_ROOT.user, password: MARIADB_ROOT.password, database: name },
    root,
    query,
    async insert(table, rows) {
      for (let start = 0; start < rows.length; start += 1000) {
        const batch = rows.slice(start, start + 1000);
        const columns = Object.keys(batch[0]);
        await root.query(
          `INSERT INTO ${mysql.escapeId(table)} (${columns.map((c) => mysql.escapeId(c)).join(', ')}) VALUES ?`,
          [batch.map((row) => columns.map((c) => row[c]))]);
      }
    },
    connectionIds,
    async killConnections() {
      const ids = await connectionIds();
      for (const id of ids) await root.query(`KILL ${Number(id)}`).catch(() => undefined);
      return ids.length;
    },
    async drop() {
      try {
        await root.query(`DROP DATABASE IF EXISTS \`${name}\``);
      } finally {
        await root.end();
      }
    },
  };
}

/** A TCP proxy on loopback in front of MariaDB that a test can cut, restore or freeze. */
export interface MariadbProxy {
  port: number;
  /** `db.config` routed through the proxy. */
  configFor(db: TestDatabase): DbConnectionConfig;
  /** Closes every proxied connection and refuses new ones (they are reset at once). */
  cut(): void;
  /** Ends cut(), hang() and refuse(): connections are forwarded again. */
  restore(): Promise<void>;
  /**
   * Stops forwarding on every connection open now, in both directions, but keeps
   * their sockets open: a peer gone silent (a stalled middlebox, a dropped route).
   * New connections pass. Returns how many were frozen.
   */
  freeze(): number;
  /**
   * A database host gone dark: freeze() and new connections are accepted but never
   * forwarded (their handshake never comes), until restore() or refuse().
   */
  hang(): void;
  /**
   * A database host that is up without MariaDB: open connections are closed and the
   * port stops listening, so new ones get ECONNREFUSED; restore() listens again on
   * the same port.
   */
  refuse(): Promise<void>;
  close(): Promise<void>;
}

export async function startMariadbProxy(): Promise<MariadbProxy> {
  const sockets = new Set<net.Socket>();
  /** Each open client socket with the upstream it is piped to. */
  const pairs = new Map<net.Socket, net.Socket>();
  let isCut = false;
  let isHung = false;
  const track = (socket: net.Socket): void => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  };
  const server = net.createServer((client) => {
    track(client);
    if (isCut) {
      client.resetAndDestroy();
      return;
    }
    if (isHung) return; // accepted, tracked, never answered
    const upstream = net.connect(MARIADB_ROOT.port, MARIADB_ROOT.host);
    track(upstream);
    client.pipe(upstream).pipe(client);
    pairs.set(client, upstream);
    client.on('close', () => {
      pairs.delete(client);
      upstream.destroy();
    });
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const freeze = (): number => {
    for (const [client, upstream] of pairs) {
      client.unpipe(upstream);
      upstream.unpipe(client);
      client.pause();
      upstream.pause();
    }
    const frozen = pairs.size;
    pairs.clear();
    return frozen;
  };
  return {
    port,
    configFor: (db) => ({ ...db.config, host: '127.0.0.1', port }),
    cut() {
      isCut = true;
      for (const socket of sockets) socket.destroy();
    },
    async restore() {
      isCut = false;
      isHung = false;
      if (!server.listening) await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    },
    freeze,
    hang() {
      isHung = true;
      freeze();
    },
    async refuse() {
      isHung = false;
      for (const socket of sockets) socket.destroy();
      if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
    },
    close() {
      for (const socket of sockets) socket.destroy();
      return server.listening ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve();
    },
  };
}
