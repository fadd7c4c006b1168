#!/usr/bin/env node
/**
 * Process entry: command line, configuration, logging, daemon mode, pid file,
 * privileges and signals (SPEC §1). Everything else is started by `Daemon`.
 */
import { spawn } from 'node:child_process';
import { unlinkSync, writeFileSync } from 'node:fs';
import { parseCommandLine, USAGE, UsageError, type CommandLine } from './config/command-line';
import { loadConfig, type DaemonConfig } from './config/load';
import { ConfigError } from './config/reader';
import { VERSION } from './config/sems-config';
import { Daemon } from './daemon';
import { applyHeapPolicy } from './heap-policy';
import { closeSyslog, logger, logToStderr, logToSyslog, setLogLevel } from './log';

const log = logger('main');
/** Set in the detached child so it does not fork again. */
const DAEMONIZED_ENV = 'DB_REG_AGENT_DAEMONIZED';
/** An orderly stop that takes longer than this is cut short. */
const STOP_TIMEOUT_MS = 10_000;

function fail(message: string, code: number): never {
  process.stderr.write(`db-reg-agent: ${message}\n`);
  process.exit(code);
}

function readCommandLine(): CommandLine {
  try {
    return parseCommandLine(process.argv.slice(2));
  } catch (err) {
    if (err instanceof UsageError) fail(`${err.message} (db-reg-agent -h lists the options)`, 2);
    throw err;
  }
}

function readConfig(cli: CommandLine, warnings: string[]): DaemonConfig {
  try {
    return loadConfig(cli.configFile, (w) => warnings.push(w));
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message, 1);
    throw err;
  }
}

/** SEMS forks into the background unless -E; systemd runs us with -E. */
function detach(): never {
  const child = spawn(process.execPath, process.argv.slice(1), {
    detached: true,
    stdio: 'ignore',
    env: { ...process.env, [DAEMONIZED_ENV]: '1' },
  });
  child.unref();
  process.exit(0);
}

function writePidFile(path: string): () => void {
  try {
    writeFileSync(path, `${process.pid}\n`);
  } catch (err) {
    fail(`cannot write pid file '${path}': ${(err as Error).message}`, 1);
  }
  return () => {
    try {
      unlinkSync(path);
    } catch {
      // already gone: nothing to clean up
    }
  };
}

/** After the sockets are bound (SPEC §1): group first, while we still may. */
function dropPrivileges(cli: CommandLine): void {
  try {
    if (cli.group) process.setgid?.(cli.group);
    if (cli.user) process.setuid?.(cli.user);
  } catch (err) {
    throw new Error(`cannot switch to user '${cli.user ?? ''}' group '${cli.group ?? ''}': ${(err as Error).message}`, { cause: err });
  }
}

async function main(): Promise<void> {
  applyHeapPolicy();
  const cli = readCommandLine();
  if (cli.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (cli.version) {
    process.stdout.write(`db-reg-agent ${VERSION}\n`);
    return;
  }

  const warnings: string[] = [];
  const config = readConfig(cli, warnings);
  const foreground = cli.foreground || !config.sems.fork || process.env[DAEMONIZED_ENV] === '1';
  if (!foreground) detach();

  setLogLevel(cli.logLevel ?? config.sems.logLevel);
  if (cli.foreground || config.sems.logToStderr) logToStderr();
  else logToSyslog(config.sems.syslogFacility);
  for (const w of warnings) log.warn(w);
  for (const p of config.sems.ignoredPlugins) log.debug(`plugin '${p}' is not part of db-reg-agent; ignored`);

  const removePidFile = cli.pidFile ? writePidFile(cli.pidFile) : () => undefined;
  const daemon = new Daemon(config);
  let stopping = false;
  const stop = (why: string, code: number): void => {
    if (stopping) return;
    stopping = true;
    log.info(`${why}: stopping`);
    const timer = setTimeout(() => {
      log.error(`orderly stop took longer than ${STOP_TIMEOUT_MS} ms; exiting`);
      removePidFile();
      process.exit(code || 1);
    }, STOP_TIMEOUT_MS);
    timer.unref();
    daemon
      .stop()
      .catch((err: Error) => log.error(`error while stopping: ${err.message}`))
      .finally(() => {
        removePidFile();
        log.info('stopped');
        // syslog lines still in the pipe to `logger` must not be lost.
        void closeSyslog().finally(() => process.exit(code));
      });
  };
  process.on('SIGTERM', () => stop('SIGTERM', 0));
  process.on('SIGINT', () => stop('SIGINT', 0));
  process.on('uncaughtException', (err) => {
    log.error(`internal error: ${err.stack ?? err.message}`);
    stop('internal error', 1);
  });

  log.info(`db-reg-agent ${VERSION} starting (config ${cli.configFile})`);
  try {
    await daemon.start();
    dropPrivileges(cli);
  } catch (err) {
    log.error(`start-up failed: ${(err as Error).message}`);
    stop('start-up failure', 1);
  }
}

void main();
