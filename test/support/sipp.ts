/**
 * sipp (package sip-tester) as a misbehaving registrar, and as a load client.
 *
 *   const peer = await startSipp('reply-503');
 *   // ... register an account against 127.0.0.1:peer.port ...
 *   const [register] = await peer.waitForRequests(1);
 *   await peer.stop();
 *
 * Scenarios live in test/fixtures/sipp/<name>.xml; each REGISTER is a sipp "call" of
 * its own (dead-call absorption is off, so a re-send with the same Call-ID — the
 * credentials, a 423 retry, a refresh — is answered again). Everything sipp received
 * and sent is read back from its message trace, with arrival times to the microsecond.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fixturePath, makeTempDir, removeDir } from './fixtures';
import { fileTail, PeerExit, PeerProcess, waitUntil } from './peer-process';
import { freePort, isPortFree, releasePorts } from './ports';
import { parseSipMessage, SipMessage } from './sip-message';

export type SippScenario =
  | 'no-answer'
  | 'reply-503'
  | 'reply-423'
  | 'reply-200-without-contact'
  | 'reply-401-always'
  | 'reply-200-expires-60'
  | 'garbage'
  | 'wrong-branch';

export const SIPP_SCENARIOS: readonly SippScenario[] = [
  'no-answer', 'reply-503', 'reply-423', 'reply-200-without-contact', 'reply-401-always',
  'reply-200-expires-60', 'garbage', 'wrong-branch',
];

export type SippTransport = 'udp' | 'tcp';

export interface SippOptions {
  transport?: SippTransport;
  /** 127.0.0.1 (default) or ::1. */
  host?: string;
  /** Default: a free port. */
  port?: number;
  /** Stop after this many REGISTERs (sipp -m); default: run until stop(). */
  maxCalls?: number;
  /**
   * Length of the scenario's <pause/> (sipp -d): how long no-answer holds a request
   * (default 40 000 ms, beyond Timer F) and the gap between the bad and the good
   * reply in garbage / wrong-branch (default 200 ms).
   */
  pauseMs?: number;
  /** reply-423: Min-Expires, and the threshold below which 423 is sent (default 3600). */
  minExpires?: number;
  /** reply-200-expires-60: expires granted in the Contact (default 60). */
  grantedExpires?: number;
  /** reply-401-always: realm of the challenge (default sipp.test). */
  challengeRealm?: string;
  /** reply-200-without-contact: the Contact the 200 carries (default sip:someone-else@192.0.2.1:5060). */
  foreignContact?: string;
  /** garbage: size of the X-Padding header value (default 60 000; sipp's limit is 64 kB per message). */
  paddingBytes?: number;
  /** How long to wait for sipp to bind (default 10 s). */
  startTimeoutMs?: number;
  /** Extra sipp arguments, appended last. */
  extraArgs?: string[];
}

export interface SippTraceEntry {
  direction: 'received' | 'sent';
  /** UDP / TCP as sipp logs it. */
  transport: string;
  /** When sipp read (or wrote) it, ms since epoch with µs fraction. */
  at: number;
  bytes: number;
  raw: string;
  message: SipMessage;
}

export interface ReceivedTransaction {
  callId: string;
  cseq: number;
  method: string;
  /** The first copy. */
  first: SippTraceEntry;
  /** Arrival of the first copy and of each retransmission, ms since epoch. */
  arrivals: number[];
}

export interface SippHandle {
  /** Pid of sipp (leader of its own process group). */
  readonly pid: number;
  readonly scenario: string;
  readonly transport: SippTransport;
  readonly host: string;
  readonly port: number;
  /** `host:port` ([::1]:port for IPv6), e.g. to use as a realm or outbound proxy. */
  readonly hostPort: string;
  readonly dir: string;
  readonly messageFile: string;
  readonly logFile: string;
  readonly running: boolean;
  /** Every message sipp logged so far, in order. */
  trace(): SippTraceEntry[];
  /** Requests received so far (retransmissions included), optionally of one method. */
  requests(method?: string): SippTraceEntry[];
  /** Responses sipp sent so far. */
  responses(): SippTraceEntry[];
  /** Waits until at least `count` requests matching `predicate` arrived; returns them all. */
  waitForRequests(count: number, timeoutMs?: number, predicate?: (entry: SippTraceEntry) => boolean): Promise<SippTraceEntry[]>;
  /** Arrival times (ms) of every copy of the requests with this Call-ID and CSeq number. */
  arrivalTimes(callId: string, cseq?: number): number[];
  /** Requests grouped by Call-ID + CSeq (one group per transaction), with every copy's arrival time. */
  transactions(): ReceivedTransaction[];
  /** Waits for sipp to exit by itself (after maxCalls); throws after timeoutMs. */
  finished(timeoutMs: number): Promise<PeerExit>;
  stop(): Promise<PeerExit>;
}

/** sipp stamps its trace in local time: make that UTC so it reads back unambiguously. */
const SIPP_ENV = { ...process.env, TZ: 'UTC' };
const DEFAULT_HOLD_MS = 40000;
const DEFAULT_GAP_MS = 200;
const running = new Set<SippHandle>();

/** Starts sipp as a UAS running one of the fixture scenarios; resolves once it listens. */
export async function startSipp(scenario: SippScenario, options: SippOptions = {}): Promise<SippHandle> {
  // A port we picked can still be taken by another process before sipp binds it: retry.
  const attempts = options.port === undefined ? 3 : 1;
  for (let attempt = 1; ; attempt++) {
    try {
      const handle = await launchSipp(scenario, options);
      running.add(handle);
      return handle;
    } catch (err) {
      if (attempt >= attempts) throw err;
    }
  }
}

async function launchSipp(scenario: SippScenario, options: SippOptions): Promise<SippHandle> {
  const transport = options.transport ?? 'udp';
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? await freePort({ protocols: [transport], hosts: [host] });
  const controlPort = await freePort({ protocols: ['udp'] });
  const dir = makeTempDir(`sipp-${scenario}`);
  const files = {
    messages: path.join(dir, 'messages.log'),
    errors: path.join(dir, 'errors.log'),
    log: path.join(dir, 'sipp.log'),
  };
  const pauseMs = options.pauseMs ?? (scenario === 'no-answer' ? DEFAULT_HOLD_MS : DEFAULT_GAP_MS);
  const args = [
    '-sf', fixturePath('sipp', `${scenario}.xml`),
    '-i', host, '-p', String(port), '-t', transport === 'udp' ? 'u1' : 't1',
    '-cp', String(controlPort), '-nostdin',
    '-d', String(pauseMs),
    '-deadcall_wait', '0',
    '-trace_msg', '-message_file', files.messages,
    '-trace_err', '-error_file', files.errors,
    ...scenarioKeys(scenario, options),
    ...(options.maxCalls !== undefined ? ['-m', String(options.maxCalls)] : []),
    ...(options.extraArgs ?? []),
  ];
  const peer = PeerProcess.start(sippBinary(), args, { logFile: files.log, cwd: dir, env: SIPP_ENV });
  const release = () => releasePorts(options.port === undefined ? [port, controlPort] : [controlPort]);
  const bound = await waitUntil(async () => !peer.running || !(await isPortFree(port, transport, host)),
    options.startTimeoutMs ?? 10000);
  // The port looking taken may be someone else's socket; sipp then exits at once.
  if (bound) await new Promise((resolve) => setTimeout(resolve, 30));
  if (!bound || !peer.running) {
    await peer.stop('SIGKILL', 2000).catch(() => undefined);
    const tail = fileTail(files.log, 20) + fileTail(files.errors, 10);
    removeDir(dir);
    release();
    throw new Error(`sipp ${scenario} did not start on ${host}:${port}/${transport}; log tail:\n${tail}`);
  }
  return makeHandle({ scenario, transport, host, port, dir, files, peer, release });
}

/** Stops every sipp this process started and has not stopped yet. */
export async function stopAllSipp(): Promise<void> {
  await Promise.all([...running].map((handle) => handle.stop()));
}

/** Values for the scenario's [keyword]s (sipp -key); sipp ignores those a scenario does not use. */
function scenarioKeys(scenario: SippScenario, options: SippOptions): string[] {
  const keys: Record<string, string> = {
    min_expires: String(options.minExpires ?? 3600),
    granted_expires: String(options.grantedExpires ?? 60),
    challenge_realm: options.challengeRealm ?? 'sipp.test',
    foreign_contact: options.foreignContact ?? 'sip:someone-else@192.0.2.1:5060',
  };
  // Only where used: 60 kB on every sipp command line would swamp ps / pgrep output.
  if (scenario === 'garbage') keys.padding = 'x'.repeat(options.paddingBytes ?? 60000);
  return Object.entries(keys).flatMap(([name, value]) => ['-key', name, value]);
}

interface SippHandleParts {
  scenario: string;
  transport: SippTransport;
  host: string;
  port: number;
  dir: string;
  files: { messages: string; log: string };
  peer: PeerProcess;
  release: () => void;
}

function makeHandle(parts: SippHandleParts): SippHandle {
  const { peer, files } = parts;
  let stopping: Promise<PeerExit> | undefined;
  const trace = () => readTrace(files.messages);
  const requests = (method?: string) => trace().filter((e) => e.direction === 'received' && e.message.isRequest
    && (method === undefined || e.message.method === method.toUpperCase()));

  const handle: SippHandle = {
    pid: peer.pid,
    scenario: parts.scenario,
    transport: parts.transport,
    host: parts.host,
    port: parts.port,
    hostPort: `${net.isIPv6(parts.host) ? `[${parts.host}]` : parts.host}:${parts.port}`,
    dir: parts.dir,
    messageFile: files.messages,
    logFile: files.log,
    get running() {
      return peer.running;
    },
    trace,
    requests,
    responses: () => trace().filter((e) => e.direction === 'sent' && e.message.status !== undefined),
    async waitForRequests(count, timeoutMs = 10000, predicate = () => true) {
      let found: SippTraceEntry[] = [];
      const ok = await waitUntil(() => (found = requests().filter(predicate)).length >= count, timeoutMs, 20);
      if (!ok) throw new Error(`sipp ${parts.scenario}: ${found.length} of ${count} requests within ${timeoutMs} ms`);
      return found;
    },
    arrivalTimes: (callId, cseq) => requests()
      .filter((e) => e.message.header('Call-ID') === callId
        && (cseq === undefined || Number.parseInt(e.message.header('CSeq') ?? '', 10) === cseq))
      .map((e) => e.at),
    transactions: () => groupTransactions(requests()),
    async finished(timeoutMs) {
      const timeout = new Promise<never>((_resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`sipp ${parts.scenario} still running after ${timeoutMs} ms`)), timeoutMs);
        void peer.exited.then(() => clearTimeout(timer));
      });
      return Promise.race([peer.exited, timeout]);
    },
    stop() {
      stopping ??= (async () => {
        try {
          return await peer.stop('SIGTERM', 3000);
        } finally {
          running.delete(handle);
          parts.release();
          removeDir(parts.dir);
        }
      })();
      return stopping;
    },
  };
  return handle;
}

function groupTransactions(requests: SippTraceEntry[]): ReceivedTransaction[] {
  const byKey = new Map<string, ReceivedTransaction>();
  for (const entry of requests) {
    const callId = entry.message.header('Call-ID') ?? '';
    const cseq = Number.parseInt(entry.message.header('CSeq') ?? '', 10);
    const key = `${callId} ${cseq}`;
    const known = byKey.get(key);
    if (known) known.arrivals.push(entry.at);
    else byKey.set(key, { callId, cseq, method: entry.message.method ?? '', first: entry, arrivals: [entry.at] });
  }
  return [...byKey.values()];
}

// ----- message trace -----------------------------------------------------------------

/** "----------------------------------------------- 2026-11-26 23:16:10.748425" (UTC, see SIPP_ENV) */
const ENTRY_SEPARATOR = /^-{20,} (\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)\.(\d{6})\r?$/m;
/** "UDP message received [281] bytes :" / "UDP message sent (281 bytes):" */
const ENTRY_HEADING = /^(\w+) message (received|sent) (?:\[(\d+)\] bytes|\((\d+) bytes\))/;

/** Parses sipp's -trace_msg file. Entries without a SIP start line (garbage) keep their raw text. */
export function readTrace(file: string): SippTraceEntry[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return []; // nothing logged yet
  }
  const entries: SippTraceEntry[] = [];
  const separator = new RegExp(ENTRY_SEPARATOR.source, 'gm');
  const marks = [...text.matchAll(separator)];
  marks.forEach((mark, i) => {
    const start = (mark.index ?? 0) + mark[0].length;
    const end = i + 1 < marks.length ? marks[i + 1].index : text.length;
    const entry = parseTraceEntry(mark, text.slice(start, end));
    if (entry) entries.push(entry);
  });
  return entries;
}

function parseTraceEntry(mark: RegExpMatchArray, body: string): SippTraceEntry | undefined {
  const lines = body.replace(/^\r?\n/, '').split('\n');
  const heading = ENTRY_HEADING.exec(lines[0] ?? '');
  if (!heading) return undefined;
  const bytes = Number(heading[3] ?? heading[4]);
  // The message follows one blank line; its exact length is the logged byte count.
  const rest = Buffer.from(lines.slice(1).join('\n').replace(/^\r?\n/, ''), 'utf8');
  const raw = rest.subarray(0, bytes).toString('utf8');
  const [, y, mo, d, h, mi, s, micros] = mark;
  const at = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)) + Number(micros) / 1000;
  return {
    direction: heading[2] as 'received' | 'sent',
    transport: heading[1],
    at,
    bytes,
    raw,
    message: parseSipMessage(raw),
  };
}

// ----- load client -------------------------------------------------------------------

export interface SippAccount {
  user: string;
  password: string;
  /** Request-URI / To domain, e.g. the Kamailio subscriber domain. */
  domain: string;
}

export interface SippClientOptions {
  /** Where to send: the registrar's address. */
  target: { host: string; port: number };
  accounts: readonly SippAccount[];
  transport?: SippTransport;
  /** REGISTERs to send in total (default: one per account; accounts are reused in order). */
  calls?: number;
  /** New registrations per second (sipp -r; default 200). */
  rate?: number;
  /** Registrations in flight at most (sipp -l; default 0 = no limit). */
  concurrency?: number;
  /** Expires to request (default 3600). */
  expires?: number;
  /** Kill sipp after this long (default 120 s). */
  timeoutMs?: number;
  extraArgs?: string[];
}

export interface SippClientResult {
  exitCode: number | null;
  /** Registrations that ended in 200 OK. */
  successful: number;
  failed: number;
  /** From sipp's start to its last statistics dump (the end of the run), ms. */
  elapsedMs: number;
  /** successful / elapsed seconds. */
  registrationsPerSecond: number;
  /** Last line of sipp's statistics CSV, by column name. */
  stats: Record<string, string>;
  logTail: string;
}

/** Runs sipp as a REGISTER load client (digest auth via -inf CSV) until all calls are done. */
export async function sippRegisterClient(options: SippClientOptions): Promise<SippClientResult> {
  if (options.accounts.length === 0) throw new Error('sippRegisterClient needs at least one account');
  const transport = options.transport ?? 'udp';
  const dir = makeTempDir('sipp-client');
  const localPort = await freePort({ protocols: [transport] });
  const controlPort = await freePort({ protocols: ['udp'] });
  const files = {
    accounts: path.join(dir, 'accounts.csv'),
    stats: path.join(dir, 'stats.csv'),
    log: path.join(dir, 'sipp.log'),
    errors: path.join(dir, 'errors.log'),
  };
  fs.writeFileSync(files.accounts, ['SEQUENTIAL', ...options.accounts.map((a) => `${a.user};${a.password};${a.domain};`)]
    .join('\n') + '\n');
  const target = net.isIPv6(options.target.host) ? `[${options.target.host}]` : options.target.host;
  const peer = PeerProcess.start(sippBinary(), [
    '-sf', fixturePath('sipp', 'register-client.xml'),
    `${target}:${options.target.port}`,
    '-i', '127.0.0.1', '-p', String(localPort), '-t', transport === 'udp' ? 'u1' : 't1',
    '-cp', String(controlPort), '-nostdin',
    '-inf', files.accounts,
    '-key', 'register_expires', String(options.expires ?? 3600),
    '-m', String(options.calls ?? options.accounts.length),
    '-r', String(options.rate ?? 200), '-rp', '1000',
    '-l', String(options.concurrency ?? 0),
    '-deadcall_wait', '0',
    '-trace_stat', '-stf', files.stats, '-fd', '1',
    '-trace_err', '-error_file', files.errors,
    ...(options.extraArgs ?? []),
  ], { logFile: files.log, cwd: dir, env: SIPP_ENV });
  try {
    const timeoutMs = options.timeoutMs ?? 120000;
    const exited = await waitUntil(() => !peer.running, timeoutMs, 50);
    if (!exited) await peer.stop('SIGTERM', 3000);
    const exit = peer.exitStatus;
    const stats = lastStatsRow(files.stats);
    const successful = Number(stats['SuccessfulCall(C)'] ?? 0);
    const elapsedMs = (epochOf(stats.CurrentTime) - epochOf(stats.StartTime)) * 1000 || 0;
    return {
      exitCode: exit?.code ?? null,
      successful,
      failed: Number(stats['FailedCall(C)'] ?? 0),
      elapsedMs,
      registrationsPerSecond: elapsedMs > 0 ? successful / (elapsedMs / 1000) : 0,
      stats,
      logTail: fileTail(files.log, 30) + fileTail(files.errors, 10),
    };
  } finally {
    await peer.stop('SIGKILL', 2000).catch(() => undefined);
    releasePorts([localPort, controlPort]);
    removeDir(dir);
  }
}

/** The statistics CSV (-trace_stat) is ';'-separated with a header row; we want the last row. */
function lastStatsRow(file: string): Record<string, string> {
  let lines: string[];
  try {
    lines = fs.readFileSync(file, 'utf8').split('\n').filter((line) => line.trim() !== '');
  } catch {
    return {};
  }
  if (lines.length < 2) return {};
  const names = lines[0].split(';');
  const values = lines[lines.length - 1].split(';');
  return Object.fromEntries(names.map((name, i) => [name, values[i] ?? '']));
}

/** Statistics timestamps read "2026-11-26<TAB>23:24:28.161444<TAB>1795735468.161444"; we want the epoch. */
function epochOf(field: string | undefined): number {
  return Number(field?.split('\t')[2] ?? Number.NaN);
}

function sippBinary(): string {
  return fs.existsSync('/usr/bin/sipp') ? '/usr/bin/sipp' : 'sipp';
}
