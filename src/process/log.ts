/**
 * Logging with SEMS's levels: 0 error, 1 warn, 2 info, 3 debug.
 *
 * Output goes to stderr (SEMS `-E` / `stderr=yes`) with an ISO timestamp, or to
 * syslog through the system's `logger` utility, which is always present on Debian
 * and spares us a native syslog binding. When stderr is systemd's journal, each line
 * carries its syslog priority instead (sd-daemon(3)), so `journalctl -p` filters by
 * level. Secrets must never reach levels 0–2: callers pass them through `redact()` or
 * log them only with `debug()`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fstatSync } from 'node:fs';

export enum LogLevel {
  Error = 0,
  Warn = 1,
  Info = 2,
  Debug = 3,
}

const LEVEL_NAMES = ['ERROR', 'WARNING', 'INFO', 'DEBUG'] as const;
/** syslog severities (RFC 5424 §6.2.1) for our four levels. */
const SYSLOG_SEVERITY = [3, 4, 6, 7] as const;

export const SYSLOG_FACILITIES: Readonly<Record<string, number>> = {
  kern: 0, user: 1, mail: 2, daemon: 3, auth: 4, syslog: 5, lpr: 6, news: 7,
  uucp: 8, cron: 9, authpriv: 10, ftp: 11,
  local0: 16, local1: 17, local2: 18, local3: 19, local4: 20, local5: 21, local6: 22, local7: 23,
};

/** The level names SEMS's AmConfig::setLogLevel accepts (any case). */
const LEVEL_WORDS: Readonly<Record<string, LogLevel>> = {
  error: LogLevel.Error, err: LogLevel.Error,
  warning: LogLevel.Warn, warn: LogLevel.Warn,
  info: LogLevel.Info,
  debug: LogLevel.Debug, dbg: LogLevel.Debug,
};

/** For messages: the names parseLogLevel takes besides the numbers. */
export const LOG_LEVEL_NAMES = Object.keys(LEVEL_WORDS).join('|');

/** `loglevel` / `-D`: a number 0..3 or a level name as SEMS takes it; undefined for anything else. */
export function parseLogLevel(text: string): LogLevel | undefined {
  const t = text.trim();
  if (/^\d+$/.test(t)) return Number(t) <= LogLevel.Debug ? (Number(t) as LogLevel) : undefined;
  return LEVEL_WORDS[t.toLowerCase()];
}

type Sink = (level: LogLevel, line: string) => void;

const stderrSink: Sink = (level, line) => {
  process.stderr.write(`${new Date().toISOString()} [${process.pid}] ${LEVEL_NAMES[level]}: ${line}\n`);
};

/** A line for the journal: the `<N>` priority prefix of sd-daemon(3); journald adds time and pid. */
export function journalLine(level: LogLevel, line: string): string {
  return `<${SYSLOG_SEVERITY[level]}>${LEVEL_NAMES[level]}: ${line}\n`;
}

const journalSink: Sink = (level, line) => {
  process.stderr.write(journalLine(level, line));
};

/**
 * Whether a stream is the one systemd connected to the journal: JOURNAL_STREAM holds
 * its "device:inode" (systemd.exec(5)). A stderr redirected elsewhere (a shell, a
 * child process) has other numbers and keeps the timestamped lines.
 */
export function isJournalStream(journalStream: string | undefined, stream: { dev: bigint; ino: bigint }): boolean {
  const ids = /^(\d+):(\d+)$/.exec(journalStream ?? '');
  return ids !== null && BigInt(ids[1] as string) === stream.dev && BigInt(ids[2] as string) === stream.ino;
}

function stderrIsJournal(): boolean {
  if (process.env.JOURNAL_STREAM === undefined) return false;
  try {
    return isJournalStream(process.env.JOURNAL_STREAM, fstatSync(process.stderr.fd, { bigint: true }));
  } catch {
    return false;
  }
}

/**
 * The level lives in shared memory so that a worker thread (the control plane's)
 * can adopt it: SEMS's set_loglevel then changes the level of the whole process.
 */
let levelCell = new Int32Array(new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT));
levelCell[0] = LogLevel.Info;
let sink: Sink = stderrSink;
let syslogProcess: ChildProcess | undefined;

export function setLogLevel(level: number): void {
  Atomics.store(levelCell, 0, Math.max(LogLevel.Error, Math.min(LogLevel.Debug, Math.trunc(level))));
}

export function getLogLevel(): LogLevel {
  return Atomics.load(levelCell, 0) as LogLevel;
}

/** The shared level, to hand to a worker thread (`shareLogLevel` there). */
export function logLevelMemory(): SharedArrayBuffer {
  return levelCell.buffer as SharedArrayBuffer;
}

/** In a worker thread: use the process's level instead of a copy of its own. */
export function shareLogLevel(memory: SharedArrayBuffer): void {
  levelCell = new Int32Array(memory);
}

/** In a worker thread: pass every line on (to the thread that owns stderr or syslog). */
export function logThrough(forward: (level: LogLevel, line: string) => void): void {
  sink = forward;
}

/** Writes a line that passed another thread's level check (see `logThrough`). */
export function writeLogLine(level: LogLevel, line: string): void {
  sink(level, line);
}

/** Logs to stderr: lines with the journal's priority prefix when stderr is the journal. */
export function logToStderr(): void {
  void closeSyslog();
  // A daemon with stderr=yes keeps the stderr it was started with; if the reader of that
  // goes away, lines are lost (as in SEMS) but the daemon must not stop over it.
  if (process.stderr.listenerCount('error') === 0) process.stderr.on('error', () => undefined);
  sink = stderrIsJournal() ? journalSink : stderrSink;
}

/**
 * Sends log lines to syslog with the given facility (SEMS `syslog_facility`).
 * `socket` overrides /dev/log (tests).
 */
export function logToSyslog(facility: string, options: { tag?: string; socket?: string } = {}): void {
  const code = SYSLOG_FACILITIES[facility.toLowerCase()];
  if (code === undefined) throw new Error(`unknown syslog facility '${facility}'`);
  void closeSyslog();
  const args = ['--prio-prefix', `--id=${process.pid}`, '-t', options.tag ?? 'db-reg-agent'];
  if (options.socket) args.push('--socket', options.socket);
  const child = spawn('logger', args, {
    stdio: ['pipe', 'ignore', 'inherit'],
  });
  child.on('error', (err) => {
    sink = stderrSink;
    stderrSink(LogLevel.Error, `syslog unavailable (${err.message}); logging to stderr`);
  });
  child.stdin?.on('error', () => undefined);
  syslogProcess = child;
  sink = (level, line) => {
    child.stdin?.write(`<${code * 8 + SYSLOG_SEVERITY[level]}>${LEVEL_NAMES[level]}: ${line}\n`);
  };
}

/** Ends syslog output; resolves when `logger` has passed on every line. */
export function closeSyslog(): Promise<void> {
  const child = syslogProcess;
  syslogProcess = undefined;
  if (!child || child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.stdin?.end();
  });
}

/** Replaces a secret with a fixed marker; the length is not revealed either. */
export function redact(secret: string | null | undefined): string {
  return secret ? '********' : '(empty)';
}

export interface Logger {
  error(msg: string): void;
  warn(msg: string): void;
  info(msg: string): void;
  debug(msg: string): void;
  enabled(level: LogLevel): boolean;
}

/** Longest message written; values from the database or RPC callers can be any size. */
export const MAX_LOG_MESSAGE = 4096;
// C0, DEL, C1 (terminal escapes such as CSI) and the Unicode line and paragraph separators.
// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTERS = /[\x00-\x1f\x7f-\x9f\u2028\u2029]/g;
const CONTROL_ESCAPES: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function escapedCode(code: number): string {
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/**
 * One log entry is one line: control characters in a message (a user name with a line
 * break, from the database or an RPC caller) are written as \n, \r, \t, \xHH or \uHHHH, so no
 * value can forge a line of its own; and a message longer than MAX_LOG_MESSAGE is cut.
 */
export function oneLine(msg: string): string {
  const cut = msg.length > MAX_LOG_MESSAGE ? `${msg.slice(0, MAX_LOG_MESSAGE)}… (${msg.length - MAX_LOG_MESSAGE} more characters)` : msg;
  if (cut.search(CONTROL_CHARACTERS) < 0) return cut; // search() ignores the g flag's lastIndex
  return cut.replace(CONTROL_CHARACTERS, (c) => CONTROL_ESCAPES[c] ?? escapedCode(c.charCodeAt(0)));
}

/** A logger whose lines carry the component name, like SEMS's `[module]` prefix. */
export function logger(component: string): Logger {
  const emit = (level: LogLevel, msg: string): void => {
    if (level <= getLogLevel()) sink(level, `[${component}] ${oneLine(msg)}`);
  };
  return {
    error: (m) => emit(LogLevel.Error, m),
    warn: (m) => emit(LogLevel.Warn, m),
    info: (m) => emit(LogLevel.Info, m),
    debug: (m) => emit(LogLevel.Debug, m),
    enabled: (level) => level <= getLogLevel(),
  };
}
