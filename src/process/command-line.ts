/**
 * SEMS-style command line (SPEC §1): -f -E -D -P -u -g -v -h, getopt style
 * (`-D 3` and `-D3` both work; flags without a value may be grouped: `-Ev`).
 */
import { LOG_LEVEL_NAMES, parseLogLevel } from './log';

export interface CommandLine {
  configFile: string;
  foreground: boolean;
  logLevel?: number;
  pidFile?: string;
  user?: string;
  group?: string;
  version: boolean;
  help: boolean;
}

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export const USAGE = `Usage: db-reg-agent [options]
  -f <file>    sems.conf to read (default /etc/sems/sems.conf)
  -E           stay in the foreground and log to stderr
  -D <level>   log level: 0 error, 1 warn, 2 info, 3 debug (or the name)
  -P <file>    write the process id to <file>
  -u <user>    run as <user> after binding sockets
  -g <group>   run as <group> after binding sockets
  -v           print the version and exit
  -h           print this help and exit`;

const WITH_VALUE = new Set(['f', 'D', 'P', 'u', 'g']);
const FLAGS = new Set(['E', 'v', 'h']);

export function parseCommandLine(argv: readonly string[]): CommandLine {
  const out: CommandLine = { configFile: '/etc/sems/sems.conf', foreground: false, version: false, help: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (!arg.startsWith('-') || arg.length < 2) throw new UsageError(`unexpected argument '${arg}'`);
    if (arg.startsWith('--')) throw new UsageError(`unknown option '${arg}'`);
    for (let j = 1; j < arg.length; j++) {
      const opt = arg[j] as string;
      if (FLAGS.has(opt)) {
        if (opt === 'E') out.foreground = true;
        else if (opt === 'v') out.version = true;
        else out.help = true;
        continue;
      }
      if (!WITH_VALUE.has(opt)) throw new UsageError(`unknown option '-${opt}'`);
      let value = arg.slice(j + 1);
      if (value === '') {
        const next = argv[++i];
        if (next === undefined) throw new UsageError(`option '-${opt}' needs a value`);
        value = next;
      }
      applyValue(out, opt, value);
      break;
    }
  }
  return out;
}

function applyValue(out: CommandLine, opt: string, value: string): void {
  switch (opt) {
    case 'f': out.configFile = value; break;
    case 'P': out.pidFile = value; break;
    case 'u': out.user = value; break;
    case 'g': out.group = value; break;
    case 'D': {
      const level = parseLogLevel(value);
      if (level === undefined) throw new UsageError(`option '-D' takes a log level 0..3 or ${LOG_LEVEL_NAMES}, got '${value}'`);
      out.logLevel = level;
      break;
    }
  }
}
