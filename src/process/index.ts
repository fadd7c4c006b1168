/**
 * The life of the process, as main.ts uses it: command line, daemon mode, pid file,
 * privileges, signals, heap policy and logging. Every other room reaches only
 * `process/log` (its loggers); nothing here knows accounts, SIP or SQL.
 */
export { parseCommandLine, USAGE, UsageError, type CommandLine } from './command-line';
export { detach, isBackgroundProcess, reportRunning, reportStartFailure } from './daemonize';
export { applyHeapPolicy } from './heap-policy';
export { closeSyslog, logger, logToStderr, logToSyslog, setLogLevel } from './log';
export { writePidFile } from './pid-file';
export { dropPrivileges, PrivilegeError, resolveRunAs, type Requested, type RunAs } from './privileges';
export { handleSignals, orderlyStop } from './signals';
