/**
 * Hostile replies (issue 14, item 4): a registrar written here answers each REGISTER
 * with a storm of replies mutated from the real one — truncated, oversized, invalid
 * UTF-8, without Via/From/To/Call-ID/CSeq, with duplicate headers, wrong Content-Length,
 * broken start lines, noise — before and after the real 200. The daemon must take the
 * real 200 (the mutated copies grant 77 s, the real one 1800 s, so a copy taken shows in
 * the row), keep running, keep its memory flat over the rounds, and keep registering
 * the good accounts at Kamailio through the same socket.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { startDaemon, type RunningDaemon } from '../support/daemon';
import { startKamailio, type KamailioHandle } from '../support/kamailio';
import { createTestDatabase, type TestDatabase } from '../support/mariadb';
import { liveHeapBytes } from '../support/heap';
import { residentBytes } from '../support/process-memory';
import { bindingStamp, di, endDaemon, registrationRows, RegStatus, waitFor, type RegRow } from '../support/registrations';
import { cseqNumber, parseSipMessage } from '../support/sip-message';
import { openTestClient } from '../support/sip-client';
import { answerRequest } from '../support/sip-responses';

const REAL_EXPIRES = 1800;
const DECOY_EXPIRES = 77;
/** The reason of the real 200 for odd accounts: 'O', an invalid UTF-8 byte, 'K'. */
const INVALID_UTF8_REASON = 'O\xffK';

/** Every mutation of `reply` (latin1 text: one character per byte) that must not be taken as the answer. */
function mutationsOf(reply: string): Buffer[] {
  const headerEnd = reply.indexOf('\r\n\r\n');
  const lines = reply.slice(0, headerEnd).split('\r\n');
  const rebuild = (rows: string[], body = ''): string => `${rows.join('\r\n')}\r\n\r\n${body}`;
  const without = (name: string): string[] => lines.filter((line) => !line.toLowerCase().startsWith(`${name.toLowerCase()}:`));
  const replace = (name: string, row: string): string[] => lines.map((line) => (line.toLowerCase().startsWith(`${name.toLowerCase()}:`) ? row : line));
  const withRow = (row: string, rows = lines): string[] => [...rows.slice(0, 2), row, ...rows.slice(2)];
  const header = (name: string): string => lines.find((line) => line.toLowerCase().startsWith(`${name.toLowerCase()}:`)) ?? '';
  const stray = (rows: string[]): string[] => rows.map((line) => line.replace(/branch=z9hG4bK/, 'branch=z9hG4bKstray'));
  const texts: string[] = [];
  // Truncated anywhere in the header section (no empty line, or cut inside it).
  for (let i = 1; i <= 50; i++) texts.push(reply.slice(0, Math.floor(((headerEnd + 3) * i) / 51)));
  // A mandatory header missing (RFC 3261 §8.1.1).
  for (const name of ['Via', 'From', 'To', 'Call-ID', 'CSeq']) texts.push(rebuild(without(name)));
  // Content-Length that is wrong, negative, not a number, huge; a body longer than announced is cut, so not here.
  for (const value of ['500', '1', '-1', 'abc', '99999999999', '']) texts.push(rebuild(replace('Content-Length', `Content-Length: ${value}`)));
  // Bare LF, bare CR, NUL inside a value (one that starts a value is white space, trimmed away).
  for (const char of ['\n', '\r', '\0']) texts.push(rebuild(replace('Contact', header('Contact').replace('@', `${char}@`))));
  // Start lines that are no SIP/2.0 status line.
  for (const start of ['SIP/2.0 2000 OK', 'SIP/2.0 abc OK', 'SIP/3.0 200 OK', 'HTTP/1.1 200 OK', 'SIP/2.0 099 Early', '200 OK']) {
    texts.push(rebuild([start, ...lines.slice(1)]));
  }
  // CSeq malformed, or of another method; Call-ID or CSeq twice (joined, so malformed); a second Via (§8.1.3.3).
  texts.push(rebuild(replace('CSeq', 'CSeq: x REGISTER')), rebuild(replace('CSeq', 'CSeq: 51')), rebuild(replace('CSeq', header('CSeq').replace('REGISTER', 'INVITE'))));
  texts.push(rebuild(withRow(header('CSeq'))), rebuild(withRow('Via: SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bKextra')));
  // A header line without a colon; a header name that is no token.
  texts.push(rebuild(withRow('This is no header line')), rebuild(withRow('Bad Name: x')));
  // Oversized: a 60 kB header, or 3000 headers, each with a mandatory header missing.
  texts.push(rebuild(withRow(`X-Padding: ${'p'.repeat(60_000)}`, without('Via'))));
  texts.push(rebuild([...without('CSeq'), ...Array.from({ length: 3000 }, (_, i) => `X-H${i}: v`)]));
  // Invalid UTF-8 (a lone 0xFF, a truncated sequence, an overlong '/') with a Call-ID missing.
  texts.push(rebuild([`SIP/2.0 200 \xff\xc3\x28\xc0\xaf`, ...without('Call-ID').slice(1).map((line) => `${line}\xc3`)]));
  // Valid SIP for another transaction: invalid UTF-8, duplicate To/From, a 60 kB header, 1000 headers.
  texts.push(rebuild(stray([`SIP/2.0 200 ${INVALID_UTF8_REASON}`, ...lines.slice(1), 'X-Bytes: \xfe\xff\xc0\xaf'])));
  texts.push(rebuild(stray([...lines, header('To'), header('From')])));
  // (A line with an empty header name, which drachtio skips, the rest of the reply being used.)
  texts.push(rebuild(stray(withRow(': no name'))));
  texts.push(rebuild(stray(withRow(`X-Padding: ${'q'.repeat(60_000)}`))));
  texts.push(rebuild(stray([...lines, ...Array.from({ length: 1000 }, (_, i) => `X-N${i}: ${i}`)])));
  // No SIP at all: empty, line breaks only, deterministic noise.
  texts.push('', '\r\n\r\n', Array.from({ length: 512 }, (_, i) => String.fromCharCode((i * 7919 + 13) % 256)).join(''));
  return texts.map((text) => Buffer.from(text, 'latin1'));
}

/**
 * A registrar over UDP: 200 to every REGISTER; while `storm` is on, the first copy of
 * each request also gets every mutation of that 200, before and after it.
 */
class MutatingRegistrar {
  storm = false;
  mutatedSent = 0;
  /** Call-ID → highest CSeq answered with the real 200. */
  readonly answered = new Map<string, number>();
  /** Call-ID → highest CSeq received. */
  private readonly seen = new Map<string, number>();
  private constructor(private readonly socket: dgram.Socket) {}

  static async start(): Promise<MutatingRegistrar> {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    const registrar = new MutatingRegistrar(socket);
    socket.on('message', (data, from) => void registrar.answer(data.toString('latin1'), from));
    return registrar;
  }

  get hostPort(): string {
    return `127.0.0.1:${this.socket.address().port}`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }

  private async answer(text: string, from: dgram.RemoteInfo): Promise<void> {
    const request = parseSipMessage(text);
    if (request.method !== 'REGISTER') return;
    const contact = request.header('Contact') ?? '';
    const odd = /[13579]>?$/.test(/sip:([^@]+)@/.exec(request.header('To') ?? '')?.[1] ?? '');
    const real = answerRequest(request, 200, odd ? INVALID_UTF8_REASON : 'OK', {
      headers: [`Contact: ${contact};expires=${REAL_EXPIRES}`, ...(odd ? ['Server: twice', 'Server: twice', `Contact: ${contact};expires=${REAL_EXPIRES}`] : [])],
    });
    // A retransmission gets the real reply again, as from a real registrar; the storm comes once per transaction.
    const callId = request.header('Call-ID') ?? '';
    const cseq = cseqNumber(request);
    const first = (this.seen.get(callId) ?? 0) < cseq;
    this.seen.set(callId, Math.max(cseq, this.seen.get(callId) ?? 0));
    const mutations = this.storm && first ? mutationsOf(answerRequest(request, 200, 'OK', { headers: [`Contact: ${contact};expires=${DECOY_EXPIRES}`, `Expires: ${DECOY_EXPIRES}`] })) : [];
    await this.sendAll(mutations, from);
    this.socket.send(Buffer.from(real, 'latin1'), from.port, from.address);
    this.answered.set(callId, Math.max(cseq, this.answered.get(callId) ?? 0));
    await this.sendAll(mutations, from); // late copies, after the transaction has completed
  }

  /** In chunks, yielding between them: a burst of 60 kB datagrams must not overflow the receiver's buffer. */
  private async sendAll(datagrams: readonly Buffer[], to: dgram.RemoteInfo): Promise<void> {
    for (let i = 0; i < datagrams.length; i++) {
      this.socket.send(datagrams[i] as Buffer, to.port, to.address);
      this.mutatedSent++;
      if (i % 10 === 9) await new Promise((resolve) => setTimeout(resolve, 2));
    }
  }
}

const HOSTILE_IDS = Array.from({ length: 10 }, (_, i) => 1 + i);
const GOOD_IDS = Array.from({ length: 10 }, (_, i) => 101 + i);
const ROUNDS = 4;

describe('registration engine: hostile replies (MariaDB + Kamailio + a mutating UDP registrar)', function () {
  this.timeout(90_000);
  let kam: KamailioHandle;
  let registrar: MutatingRegistrar;
  let db: TestDatabase;
  let daemon: RunningDaemon | undefined;

  before(async () => {
    [kam, registrar, db] = await Promise.all([startKamailio(), MutatingRegistrar.start(), createTestDatabase({ schema: 'readme' })]);
    await kam.addSubscribers(GOOD_IDS.map((id) => ({ user: `good-${id}`, password: `pw-${id}` })));
    await db.insert('subscribers', [
      ...HOSTILE_IDS.map((id) => ({ subscriber_id: id, user: `stormed-${id}`, pass: 'pw', realm: registrar.hostPort, contact: '' })),
      ...GOOD_IDS.map((id) => ({ subscriber_id: id, user: `good-${id}`, pass: `pw-${id}`, realm: kam.hostPort(), contact: '' })),
    ]);
  });
  after(async function () {
    await endDaemon(this.currentTest, daemon);
    await Promise.all([db?.drop(), kam?.stop(), registrar?.close()]);
  });

  const rowsOf = async (ids: readonly number[]): Promise<RegRow[]> => (await registrationRows(db)).filter((r) => ids.includes(r.subscriber_id));
  const allActive = (rows: RegRow[], count: number, stamp?: (r: RegRow) => boolean): boolean =>
    rows.length === count && rows.every((r) => r.registration_status === RegStatus.ACTIVE && (stamp?.(r) ?? true));

  it('takes the real 200 every time, drops thousands of mutated replies, stays flat in memory, and the good accounts stay registered', async function () {
    daemon = await startDaemon({ db: db.config, agent: { expires: '3600' } });
    const d = daemon;
    await waitFor('every account ACTIVE', () => registrationRows(db), (rows) => allActive(rows, HOSTILE_IDS.length + GOOD_IDS.length), 20_000);
    const rss = [residentBytes(d.process.pid as number)];

    registrar.storm = true;
    for (let round = 1; round <= ROUNDS; round++) {
      const goodBefore = new Map((await kam.locations()).map((b) => [b.username, bindingStamp(b).cseq]));
      await Promise.all([...HOSTILE_IDS, ...GOOD_IDS].map((id) => di(d, 'refreshRegistration', id)));
      await waitFor(`round ${round}: every stormed REGISTER answered`, () => [...registrar.answered.values()],
        (cseqs) => cseqs.length === HOSTILE_IDS.length && cseqs.every((cseq) => cseq >= 50 + round), 20_000);
      await waitFor(`round ${round}: good bindings refreshed at Kamailio`, () => kam.locations(),
        (bindings) => GOOD_IDS.every((id) => bindings.some((b) => b.username === `good-${id}` && b.cseq > (goodBefore.get(`good-${id}`) ?? 0))), 20_000);
      await waitFor(`round ${round}: rows refreshed`, () => rowsOf([...HOSTILE_IDS, ...GOOD_IDS]),
        (rows) => allActive(rows, HOSTILE_IDS.length + GOOD_IDS.length, (r) => (r.registered_ago ?? 99) <= 5), 20_000);
      rss.push(residentBytes(d.process.pid as number));
    }
    // Late copies of the last round still arriving are absorbed too; give them a moment.
    await new Promise((resolve) => setTimeout(resolve, 500));

    const hostile = await rowsOf(HOSTILE_IDS);
    for (const row of hostile) {
      assert.equal(row.registration_status, RegStatus.ACTIVE, JSON.stringify(row));
      assert.ok((row.expires_in ?? 0) > REAL_EXPIRES - 60, `row ${row.subscriber_id}: expires_in ${row.expires_in}: a mutated reply was taken`);
      assert.equal(row.last_reason, row.subscriber_id % 2 === 1 ? 'O\ufffdK' : 'OK');
    }
    assert.ok(allActive(await rowsOf(GOOD_IDS), GOOD_IDS.length));
    const log = d.log();
    const handled = (log.match(/\] (dropped|absorbed) /g) ?? []).length;
    // UDP may lose some of a burst when the machine is loaded; thousands must have been read.
    assert.ok(handled >= 3000 && handled >= registrar.mutatedSent / 2, `${handled} of ${registrar.mutatedSent} mutated replies logged as dropped or absorbed`);
    assert.doesNotMatch(log, /ERROR:/, 'no error while handling them');
    assert.equal(d.process.exitCode, null, 'the daemon runs');
    const growth = (rss[ROUNDS] as number) - (rss[1] as number);
    process.stderr.write(`      RSS MB ${rss.map((b) => (b / 2 ** 20).toFixed(1)).join(' → ')}; ${registrar.mutatedSent} mutated replies, ${handled} dropped/absorbed\n`);
    assert.ok(growth < 32 * 2 ** 20, `RSS grew ${(growth / 2 ** 20).toFixed(1)} MB from round 1 to round ${ROUNDS}`);
  });
});

describe('SIP client: hostile replies and its heap (a mutating UDP registrar)', function () {
  this.timeout(60_000);

  it('keeps nothing of the mutated replies: the live heap after 5 more storms is what it was after the first', async function () {
    const registrar = await MutatingRegistrar.start();
    // A completed transaction holds its reply until Timer K (T4): 20 ms here, not 5 s.
    const tc = await openTestClient({ timers: { t1: 500, t2: 4000, t4: 20 }, noTap: true });
    try {
      registrar.storm = true;
      const dialogs = Array.from({ length: 10 }, () => tc.client.newDialog());
      const storm = async (): Promise<void> => {
        const outcomes = await Promise.all(dialogs.map((dialog, i) => tc.client.register(dialog, tc.params(`heap-${i}`, registrar.hostPort))));
        assert.deepEqual(outcomes.map((o) => [o.code, o.grantedExpires]), dialogs.map(() => [200, REAL_EXPIRES]));
        await new Promise((resolve) => setTimeout(resolve, 300)); // the late copies, and Timer K
      };
      await storm();
      const before = liveHeapBytes();
      const sentBefore = registrar.mutatedSent;
      for (let round = 0; round < 5; round++) await storm();
      const grown = liveHeapBytes() - before;
      process.stderr.write(`      live heap ${(before / 2 ** 20).toFixed(1)} MB, +${(grown / 2 ** 10).toFixed(0)} kB after ${registrar.mutatedSent - sentBefore} more mutated replies\n`);
      assert.ok(grown < 1_000_000, `${(grown / 1e6).toFixed(2)} MB kept`);
    } finally {
      await tc.close();
      await registrar.close();
    }
  });
});
