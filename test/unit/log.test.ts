import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import {
  closeSyslog, getLogLevel, isJournalStream, journalLine, logLevelMemory, logger, logThrough, logToStderr, logToSyslog, oneLine,
  redact, setLogLevel, writeLogLine, LogLevel, MAX_LOG_MESSAGE,
} from '../../src/process/log';
import { startPythonScript } from '../support/python-script';

/** A syslog socket served by Python (Node has no Unix datagram sockets): prints what it receives. */
function syslogReceiver(socketPath: string): { lines: () => string[]; stop: () => void; ready: Promise<void> } {
  const script = startPythonScript([
    'import socket, sys',
    's = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)',
    `s.bind(${JSON.stringify(socketPath)})`,
    'print("READY", flush=True)',
    's.settimeout(10)',
    'while True:',
    '    try: print(s.recv(65536).decode(), flush=True)',
    '    except socket.timeout: break',
  ]);
  return { lines: () => script.output().split('\n').filter((l) => l), stop: () => script.child.kill(), ready: script.ready };
}

describe('logging', () => {
  const saved = getLogLevel();
  afterEach(() => {
    setLogLevel(saved);
    logToStderr();
  });

  it('shares one level with a worker thread and takes lines the worker let through', async () => {
    setLogLevel(LogLevel.Warn);
    // The worker adopts the level, reports what it sees, sets debug, then logs through us.
    const worker = new Worker(
      `const { parentPort, workerData } = require('node:worker_threads');
       const log = require(workerData.module);
       log.shareLogLevel(workerData.memory);
       log.logThrough((level, line) => parentPort.postMessage({ level, line }));
       parentPort.postMessage({ seen: log.getLogLevel() });
       log.setLogLevel(3);
       log.logger('worker').debug('from the worker');`,
      { eval: true, workerData: { module: require.resolve('../../src/process/log'), memory: logLevelMemory() } },
    );
    const messages: Array<{ seen?: number; level?: LogLevel; line?: string }> = [];
    await new Promise<void>((resolve, reject) => {
      worker.on('message', (m: (typeof messages)[number]) => messages.push(m));
      worker.on('error', reject);
      worker.on('exit', () => resolve());
    });
    assert.deepEqual(messages, [{ seen: LogLevel.Warn }, { level: LogLevel.Debug, line: '[worker] from the worker' }]);
    assert.equal(getLogLevel(), LogLevel.Debug, "the worker's set_loglevel is the process's");
    const written: string[] = [];
    const original = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string) => written.push(chunk) > 0) as typeof process.stderr.write;
    try {
      writeLogLine(LogLevel.Debug, '[worker] from the worker');
    } finally {
      process.stderr.write = original;
    }
    assert.match(written.join(''), /DEBUG: \[worker\] from the worker\n$/);
  });

  it('clamps levels to SEMS 0..3 and filters by level', () => {
    setLogLevel(7);
    assert.equal(getLogLevel(), 3);
    setLogLevel(-1);
    assert.equal(getLogLevel(), 0);
    setLogLevel(1);
    const log = logger('t');
    assert.equal(log.enabled(1), true);
    assert.equal(log.enabled(2), false);
  });

  it('writes every message as one line: control characters escaped, the length capped', () => {
    assert.equal(oneLine('plain text'), 'plain text');
    assert.equal(oneLine('evil\n2026-01-01 ERROR: [db] forged\r\x00\x1b[31m\t'), 'evil\\n2026-01-01 ERROR: [db] forged\\r\\x00\\x1b[31m\\t');
    assert.equal(oneLine('a\u0085b\u009b31mc\u2028d\u2029e\u00e9'), 'a\\x85b\\x9b31mc\\u2028d\\u2029e\u00e9');
    const long = oneLine('x'.repeat(MAX_LOG_MESSAGE + 500));
    assert.equal(long, `${'x'.repeat(MAX_LOG_MESSAGE)}… (500 more characters)`);
    const lines: string[] = [];
    logThrough((_level, line) => lines.push(line));
    setLogLevel(LogLevel.Info);
    logger('agent').info('subscriber 40: user a\nERROR: forged');
    assert.deepEqual(lines, ['[agent] subscriber 40: user a\\nERROR: forged']);
  });

  it('redacts secrets without revealing their length', () => {
    assert.equal(redact('a'), redact('a much longer password'));
    assert.equal(redact(''), '(empty)');
    assert.ok(!redact('secret').includes('secret'));
  });

  it('sends lines to syslog with the facility and severity (RFC 5424 PRI)', async function () {
    this.timeout(15_000);
    const dir = mkdtempSync(path.join(tmpdir(), 'syslog-'));
    const socket = path.join(dir, 'log');
    const rx = syslogReceiver(socket);
    try {
      await rx.ready;
      setLogLevel(3);
      logToSyslog('LOCAL0', { socket });
      logger('test').warn('warned');
      logger('test').debug('debugged');
      await closeSyslog();
      const deadline = Date.now() + 5000;
      while (rx.lines().length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const lines = rx.lines();
      // local0 = 16: warning = 16*8+4 = 132, debug = 16*8+7 = 135
      assert.ok(lines.some((l) => l.startsWith('<132>') && l.includes('WARNING: [test] warned')), lines.join('\n'));
      assert.ok(lines.some((l) => l.startsWith('<135>') && l.includes('DEBUG: [test] debugged')), lines.join('\n'));
      assert.ok(lines.every((l) => l.includes('db-reg-agent')), 'tagged');
    } finally {
      rx.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('recognises the journal stream by the device and inode systemd names in JOURNAL_STREAM', () => {
    const stream = { dev: 64769n, ino: 9007199254740993n }; // beyond 2^53: compared exactly
    assert.equal(isJournalStream('64769:9007199254740993', stream), true);
    assert.equal(isJournalStream('64769:9007199254740992', stream), false);
    assert.equal(isJournalStream('64768:9007199254740993', stream), false);
    assert.equal(isJournalStream(undefined, stream), false);
    assert.equal(isJournalStream('', stream), false);
    assert.equal(isJournalStream('64769:9007199254740993:1', stream), false);
  });

  it('gives journal lines the syslog priority of SEMS levels 0..3: 3, 4, 6, 7', () => {
    assert.deepEqual(
      [LogLevel.Error, LogLevel.Warn, LogLevel.Info, LogLevel.Debug].map((level) => journalLine(level, '[t] m')),
      ['<3>ERROR: [t] m\n', '<4>WARNING: [t] m\n', '<6>INFO: [t] m\n', '<7>DEBUG: [t] m\n']);
  });

  it('writes priority-prefixed lines when stderr is the journal stream, timestamped ones otherwise', function () {
    this.timeout(15_000);
    const dir = mkdtempSync(path.join(tmpdir(), 'journal-'));
    const journal = path.join(dir, 'journal');
    closeSync(openSync(journal, 'w'));
    const { dev, ino } = statSync(journal, { bigint: true });
    // A process logging at every level with stderr on `file` and JOURNAL_STREAM naming `journal`.
    const logWith = (file: string): string[] => {
      const fd = openSync(file, 'a');
      try {
        execFileSync(process.execPath, ['-e', `const log = require(${JSON.stringify(require.resolve('../../src/process/log'))});
          log.setLogLevel(3); log.logToStderr();
          const l = log.logger('t'); l.error('e'); l.warn('w'); l.info('i'); l.debug('d');`], {
          stdio: ['ignore', 'ignore', fd], env: { ...process.env, JOURNAL_STREAM: `${dev}:${ino}` }, timeout: 10_000,
        });
      } finally {
        closeSync(fd);
      }
      return readFileSync(file, 'utf8').trimEnd().split('\n');
    };
    try {
      assert.deepEqual(logWith(journal), ['<3>ERROR: [t] e', '<4>WARNING: [t] w', '<6>INFO: [t] i', '<7>DEBUG: [t] d']);
      const redirected = logWith(path.join(dir, 'redirected'));
      const stamp = /^\d{4}-\d\d-\d\dT[\d:.]+Z \[\d+\] /;
      assert.ok(redirected.every((line) => stamp.test(line)), redirected.join('\n'));
      assert.deepEqual(redirected.map((line) => line.replace(stamp, '')), ['ERROR: [t] e', 'WARNING: [t] w', 'INFO: [t] i', 'DEBUG: [t] d']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses an unknown facility', () => {
    assert.throws(() => logToSyslog('LOCAL9'), /unknown syslog facility 'LOCAL9'/);
  });
});
