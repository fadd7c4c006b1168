#!/usr/bin/env node
/**
 * Process entry: command line, configuration, logging, daemon mode, pid file,
 * privileges and signals (SPEC §1). Everything else is started by `Daemon`.
 */
import { loadConfig, type DaemonConfig } from './config/load';
import { ConfigError } from './config/reader';
import { VERSION, type SemsConfig } from './config/sems-config';
import { Daemon, isInterruptedStart } from './daemon';
import {
  applyHeapPolicy, closeSyslog, detach, dropPrivileges, handleSignals, isBackgroundProcess, logger, logToStderr,
  logToSyslog, orderlyStop, parseCommandLine, PrivilegeError, reportRunning, reportStartFailure, resolveRunAs,
  setLogLevel, UsageError, USAGE, writePidFile, type CommandLine, type Requested, type RunAs,
} from './process';

const log = logger('main');

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
  const stop = orderlyStop(daemon, () => removePidFile());
  handleSignals(stop);

  log.info(`db-reg-agent ${VERSION} starting (config ${cli.configFile})`);
  try {
    await daemon.start();
    dropPrivileges(runAs);
  } catch (err) {
    if (isInterruptedStart(err)) return; // the stop that interrupted it ends the process
    const message = `start-up failed: ${(err as Error).message}`;
    log.error(message);
    await reportStartFailure(message);
    stop('start-up failure', 1);
    return;
  }
  await reportRunning();
}

void main();
