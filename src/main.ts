#!/usr/bin/env node
/**
 * Process entry: command line, configuration, logging, daemon mode, pid file,
 * privileges and signals (SPEC §1). Everything else is started by `Daemon`.
 */
import { unlinkSync, writeFileSync } from 'node:fs';
import { parseCommandLine, USAGE, UsageError, type CommandLine } from './config/command-line';
import { loadConfig, type DaemonConfig } from './config/load';
import { ConfigError } from './config/reader';
import { VERSION, type SemsConfig } from './config/sems-config';
import { Daemon } from './daemon';
import { detach, isBackgroundProcess, reportRunning, reportStartFailure } from './daemonize';
import { applyHeapPolicy } from './heap-policy';
import { closeSyslog, logger, logToStderr, logToSyslog, setLogLevel } from './log';
import { dropPrivileges, PrivilegeError, resolveRunAs, type Requested, type RunAs } from './privileges';

const log = logger('main');
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

/** -u / -g win over daemon_uid / daemon_gid (SEMS applies the command line last). */
function readRunAs(cli: CommandLine, sems: SemsConfig): RunAs {
  const pick = (flag: string, given: string | undefined, key: string, configured: string | undefined): Requested | undefined => {
    if (given !== undefined) return { value: given, from: flag };
    return configured === undefined ? undefined : { value: configured, from: `${sems.source}: '${key}'` };
  };
  try {
    return resolveRunAs(pick('-u', cli.user, 'daemon_uid', sems.daemonUser), pick('-g', cli.group, 'daemon_gid', sems.daemonGroup));
  } catch (err) {
    if (err instanceof PrivilegeError) fail(err.message, 1);
    throw err;
  }
}

function writePidFile(path: string): () => void {
  try {
    writeFileSync(path, `${process.pid}\n`);
  } catch (err) {
    throw new Error(`cannot write pid file '${path}': ${(err as Error).message}`, { cause: err });
  }
  return () => {
    try {
      unlinkSync(path);
    } catch {
      // already gone: nothing to clean up
    }
  };
}

/** Before anything runs: the one line goes to the log and to a parent waiting in daemon mode. */
async function refuseToStart(message: string): Promise<never> {
  log.error(message);
  await reportStartFailure(message);
  await closeSyslog();
  process.exit(1);
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
  const runAs = readRunAs(cli, config.sems);
  // SEMS forks into the background unless -E; systemd runs us with -E.
  const foreground = cli.foreground || !config.sems.fork || isBackgroundProcess();
  if (!foreground) await detach(config.sems.logToStderr);

  setLogLevel(cli.logLevel ?? config.sems.logLevel);
  if (cli.foreground || config.sems.logToStderr) logToStderr();
  else logToSyslog(config.sems.syslogFacility);
  for (const w of warnings) log.warn(w);
  for (const p of config.sems.ignoredPlugins) log.debug(`plugin '${p}' is not part of db-reg-agent; ignored`);

  let removePidFile = (): void => undefined;
  try {
    if (cli.pidFile) removePidFile = writePidFile(cli.pidFile);
  } catch (err) {
    await refuseToStart((err as Error).message);
  }
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
    dropPrivileges(runAs);
  } catch (err) {
    const message = `start-up failed: ${(err as Error).message}`;
    log.error(message);
    await reportStartFailure(message);
    stop('start-up failure', 1);
    return;
  }
  await reportRunning();
}

void main();
