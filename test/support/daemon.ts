/**
 * Runs the real daemon (compiled src/main.ts) as a child process with a config folder
 * written for the test: sems.conf, db_reg_agent.conf, xmlrpc2di.conf, jsonrpc.conf.
 * What an operator does, minus the editor.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, closeSync, copyFileSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { DbConnectionConfig } from '../../src/config/agent-config';
import { freePorts } from './ports';

/** The README's joined query, with contact and auth_user-less columns. */
export const README_JOINED_QUERY =
  'select subscribers.subscriber_id as subscriber_id, subscribers.user as user, subscribers.pass as pass, ' +
  'subscribers.realm as realm, subscribers.contact as contact, registrations.registration_status as registration_status, ' +
  'registrations.expiry as expiry, registrations.last_registration as last_registration ' +
  'from subscribers left join registrations on subscribers.subscriber_id=registrations.subscriber_id;';

export interface DaemonOptions {
  db: DbConnectionConfig;
  /** Extra / overriding db_reg_agent.conf lines, e.g. { expires: '60' }. */
  agent?: Record<string, string>;
  /** Extra / overriding sems.conf lines. */
  sems?: Record<string, string>;
  xmlrpc?: Record<string, string>;
  jsonrpc?: Record<string, string>;
  /** -D level (default 3 so tests can wait for log lines). */
  logLevel?: number;
  /** false: no -E (SEMS daemon mode when sems.conf says fork=yes). Default true. */
  foreground?: boolean;
  /** More command-line arguments, e.g. ['-P', pidFile]. */
  extraArgs?: string[];
  /** Options for node itself, before the script, e.g. ['--max-semi-space-size=32']. */
  nodeArgs?: string[];
  /** Another build's main.js (benchmarks comparing code); default: this build's. */
  main?: string;
  /** Append the daemon's standard output (node's own, e.g. --trace-gc) to this file; else it is dropped. */
  stdoutFile?: string;
  /** Reuse a config folder and ports (restart after a kill). */
  reuse?: RunningDaemon;
  /**
   * A folder of shipped configuration files (etc/): they are copied as they are and the
   * test's settings (ports, database, foreground, and the records above) appended, so
   * the shipped values hold wherever the test does not override them (later keys win).
   */
  shipped?: string;
}

export interface RunningDaemon {
  readonly dir: string;
  readonly sipPort: number;
  readonly xmlrpcPort: number;
  readonly jsonrpcPort: number;
  readonly process: ChildProcess;
  /** Everything the daemon wrote to stderr so far. */
  log(): string;
  /** Resolves when the log matches (checked on every new line), rejects after timeoutMs. */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** Resolves with the exit code. */
  exited(): Promise<number | null>;
  /** SIGTERM and wait. */
  stop(): Promise<number | null>;
  /** SIGKILL and wait. */
  kill(): Promise<void>;
  /** Removes the config folder. */
  cleanup(): void;
}

const MAIN = path.resolve(__dirname, '../../src/main.js');

function confText(values: Record<string, string>): string {
  return Object.entries(values).map(([k, v]) => `${k}=${/[\s#;=]/.test(v) ? `"${v}"` : v}\n`).join('');
}

export async function startDaemon(options: DaemonOptions): Promise<RunningDaemon> {
  const reuse = options.reuse;
  const dir = reuse?.dir ?? mkdtempSync(path.join(tmpdir(), 'dra-daemon-'));
  const [sipPort, xmlrpcPort, jsonrpcPort] = reuse
    ? [reuse.sipPort, reuse.xmlrpcPort, reuse.jsonrpcPort]
    : await freePorts(3, { protocols: ['udp', 'tcp'] });
  if (!reuse && options.shipped !== undefined) {
    const files = {
      'sems.conf': { sip_ip: '127.0.0.1', sip_port: String(sipPort), stderr: 'yes', fork: 'no', ...options.sems },
      'db_reg_agent.conf': {
        mysql_server: options.db.host, mysql_port: String(options.db.port), mysql_user: options.db.user,
        mysql_passwd: options.db.password, mysql_db: options.db.database, ...options.agent,
      },
      'xmlrpc2di.conf': { xmlrpc_port: String(xmlrpcPort), ...options.xmlrpc },
      'jsonrpc.conf': { jsonrpc_port: String(jsonrpcPort), ...options.jsonrpc },
    };
    for (const [name, values] of Object.entries(files)) {
      copyFileSync(path.join(options.shipped, name), path.join(dir, name));
      appendFileSync(path.join(dir, name), `\n# the test's settings\n${confText(values)}`);
    }
  } else if (!reuse) {
    writeFileSync(path.join(dir, 'sems.conf'), confText({
      plugin_config_path: '.',
      load_plugins: 'db_reg_agent;uac_auth;xmlrpc2di;jsonrpc',
      sip_ip: '127.0.0.1',
      sip_port: String(sipPort),
      stderr: 'yes',
      fork: 'no',
      use_default_signature: 'yes',
      ...options.sems,
    }));
    writeFileSync(path.join(dir, 'db_reg_agent.conf'), confText({
      mysql_server: options.db.host,
      mysql_port: String(options.db.port),
      mysql_user: options.db.user,
      mysql_passwd: options.db.password,
      mysql_db: options.db.database,
      joined_query: README_JOINED_QUERY,
      expires: '3600',
      ...options.agent,
    }));
    writeFileSync(path.join(dir, 'xmlrpc2di.conf'), confText({
      xmlrpc_port: String(xmlrpcPort), server_ip: '127.0.0.1', direct_export: 'db_reg_agent', ...options.xmlrpc,
    }));
    writeFileSync(path.join(dir, 'jsonrpc.conf'), confText({ jsonrpc_port: String(jsonrpcPort), ...options.jsonrpc }));
  }

  const args = [...(options.nodeArgs ?? []), options.main ?? MAIN, ...(options.foreground === false ? [] : ['-E']), '-D', String(options.logLevel ?? 3), '-f', path.join(dir, 'sems.conf'), ...(options.extraArgs ?? [])];
  // The child gets its own copy of the descriptor: ours is closed once it runs.
  const stdout = options.stdoutFile === undefined ? undefined : openSync(options.stdoutFile, 'a');
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', stdout ?? 'ignore', 'pipe'],
  });
  if (stdout !== undefined) closeSync(stdout);
  let text = '';
  const watchers = new Set<() => void>();
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    text += chunk;
    if (text.length > 4_000_000) text = text.slice(-2_000_000); // bounded: a soak must not grow it forever
    for (const w of watchers) w();
  });
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const daemon: RunningDaemon = {
    dir, sipPort, xmlrpcPort, jsonrpcPort, process: child,
    log: () => text,
    waitForLog(pattern, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          if (pattern.test(text)) done(() => resolve());
        };
        const timer = setTimeout(() => done(() => reject(new Error(`no ${pattern} in daemon log within ${timeoutMs} ms:\n${text.slice(-3000)}`))), timeoutMs);
        const onExit = (): void => done(() => reject(new Error(`daemon exited while waiting for ${pattern}:\n${text.slice(-3000)}`)));
        const done = (f: () => void): void => {
          clearTimeout(timer);
          watchers.delete(check);
          child.off('exit', onExit);
          f();
        };
        watchers.add(check);
        child.once('exit', onExit);
        check();
      });
    },
    exited: () => exit,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exit;
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exit;
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
  return daemon;
}
