/**
 * Where the host's CPU went during one phase of a benchmark: the registrar (Kamailio's
 * process tree), the database server, the process under test, and the host as a whole
 * (/proc/stat). On a 2-core host the registrar, MariaDB and the client share the same
 * cores, so a client's rate can only be judged against what the others left it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { clockTicksPerSecond, cpuSeconds } from './process-usage';

export interface CpuBudget {
  wallSeconds: number;
  /** Cores busy host-wide (everything but idle and iowait), averaged over the phase. */
  hostBusyCores: number;
  registrarCores: number;
  databaseCores: number;
  /** The process under test (all its threads), as the caller measured it; 0 for none. */
  subjectCores: number;
  /** hostBusy − the three above: short-lived processes (sipp), the benchmark itself, interrupts. */
  otherCores: number;
}

interface Snapshot {
  at: number;
  hostBusySeconds: number;
  registrarSeconds: number;
  databaseSeconds: number;
}

function hostBusySeconds(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0];
  const ticks = line.trim().split(/\s+/).slice(1, 9).map(Number); // user … steal
  const idle = ticks[3] + ticks[4]; // idle + iowait
  return (ticks.reduce((a, b) => a + b, 0) - idle) / clockTicksPerSecond();
}

function readOrEmpty(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return ''; // the process exited between readdir and read
  }
}

/** pid → ppid of every process, and the pids whose command is one of `names`. */
function processTable(names: readonly string[]): { parents: Map<number, number>; named: number[] } {
  const parents = new Map<number, number>();
  const named: number[] = [];
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    const stat = readOrEmpty(`/proc/${pid}/stat`);
    if (stat === '') continue;
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    parents.set(pid, Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    if (names.includes(comm)) named.push(pid);
  }
  return { parents, named };
}

function descendantsAndSelf(root: number, parents: Map<number, number>): number[] {
  const tree = new Set([root]);
  for (let grew = true; grew;) {
    grew = false;
    for (const [pid, ppid] of parents) {
      if (tree.has(ppid) && !tree.has(pid)) {
        tree.add(pid);
        grew = true;
      }
    }
  }
  return [...tree];
}

function summedCpuSeconds(pids: readonly number[]): number {
  let total = 0;
  for (const pid of pids) {
    try {
      total += cpuSeconds(pid);
    } catch {
      // exited: its time is lost to this sum and shows up under "other"
    }
  }
  return total;
}

const DATABASE_COMMANDS = ['mariadbd', 'mysqld'];

/** CPU seconds the local database server has used so far. */
export function databaseServerCpuSeconds(): number {
  return summedCpuSeconds(processTable(DATABASE_COMMANDS).named);
}

/** Starts measuring at once; `stop()` gives the phase's budget. */
export class CpuBudgetMeter {
  private readonly start: Snapshot;

  constructor(private readonly registrarPid: number) {
    this.start = this.snapshot();
  }

  /** `subjectSeconds`: CPU the process under test used in this phase (0 for none). */
  stop(subjectSeconds = 0): CpuBudget {
    const end = this.snapshot();
    const wall = (end.at - this.start.at) / 1000;
    const cores = (key: keyof Omit<Snapshot, 'at'>): number => (end[key] - this.start[key]) / wall;
    const hostBusyCores = cores('hostBusySeconds');
    const registrarCores = cores('registrarSeconds');
    const databaseCores = cores('databaseSeconds');
    const subjectCores = subjectSeconds / wall;
    return {
      wallSeconds: wall,
      hostBusyCores,
      registrarCores,
      databaseCores,
      subjectCores,
      otherCores: Math.max(0, hostBusyCores - registrarCores - databaseCores - subjectCores),
    };
  }

  private snapshot(): Snapshot {
    const { parents, named } = processTable(DATABASE_COMMANDS);
    return {
      at: performance.now(),
      hostBusySeconds: hostBusySeconds(),
      registrarSeconds: summedCpuSeconds(descendantsAndSelf(this.registrarPid, parents)),
      databaseSeconds: summedCpuSeconds(named),
    };
  }
}
