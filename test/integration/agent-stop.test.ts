/**
 * SIGTERM during a mass start against a registrar that challenges every first
 * REGISTER (SPEC §1: no new requests, in-flight requests and DB writes finish, exit 0
 * within seconds). Accounts caught between the 401 and their re-send with credentials
 * must end with the registrar's real answer, never a made-up 408 "Timeout".
 */
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { startDaemon, type RunningDaemon } from '../support/daemon';
import { createTestDatabase, type TestDatabase } from '../support/mariadb';
import { endDaemon, registrationRows, RegStatus, waitFor } from '../support/registrations';
import { answerRequest } from '../support/sip-responses';
import { parseSipMessage } from '../support/sip-message';

const ACCOUNTS = 3000;
const ANSWER_DELAY_MS = 100;

interface SeenRequest {
  user: string;
  withCredentials: boolean;
  at: number;
}

/**
 * A UDP registrar that answers every REGISTER after ANSWER_DELAY_MS: 401 without
 * credentials, 200 with (it trusts them: the digest itself is tested elsewhere).
 * Retransmissions are answered again but recorded once.
 */
class ChallengingRegistrar {
  readonly requests = new Map<string, SeenRequest>();
  /** Users answered 200. */
  readonly registered = new Set<string>();
  private constructor(private readonly socket: Socket) {
    socket.on('message', (data, from) => this.answer(data.toString('latin1'), from.address, from.port));
  }

  static async start(): Promise<ChallengingRegistrar> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    return new ChallengingRegistrar(socket);
  }

  get hostPort(): string {
    return `127.0.0.1:${this.socket.address().port}`;
  }

  /** Requests seen so far, retransmissions not counted. */
  count(which: (r: SeenRequest) => boolean): number {
    return [...this.requests.values()].filter(which).length;
  }

  users(which: (r: SeenRequest) => boolean): string[] {
    return [...new Set([...this.requests.values()].filter(which).map((r) => r.user))].sort();
  }

  close(): void {
    this.socket.close();
  }

  private answer(text: string, host: string, port: number): void {
    const request = parseSipMessage(text);
    if (request.method !== 'REGISTER') return;
    const user = /sip:([^@]+)@/.exec(request.header('To') ?? '')?.[1] ?? '';
    const withCredentials = request.header('Authorization') !== undefined;
    const key = `${request.header('Call-ID')} ${request.header('CSeq')}`;
    if (!this.requests.has(key)) this.requests.set(key, { user, withCredentials, at: Date.now() });
    const reply = withCredentials
      ? answerRequest(request, 200, 'OK', { headers: [`Contact: ${request.header('Contact')};expires=3600`] })
      : answerRequest(request, 401, 'Unauthorized', { headers: [`WWW-Authenticate: Digest realm="stop.test", nonce="${user}-n", qop="auth"`] });
    setTimeout(() => {
      if (withCredentials) this.registered.add(user);
      this.socket.send(reply, port, host);
    }, ANSWER_DELAY_MS);
  }
}

describe('registration engine: SIGTERM during a mass start with digest challenges (MariaDB + UDP registrar)', function () {
  this.timeout(60_000);
  let db: TestDatabase | undefined;
  let daemon: RunningDaemon | undefined;
  let registrar: ChallengingRegistrar | undefined;

  afterEach(async function () {
    await endDaemon(this.currentTest, daemon);
    registrar?.close();
    await db?.drop();
  });

  it('exchanges under way finish with the registrar\'s answer (no 408 "Timeout"), the rest stay untouched, exit 0 within seconds', async () => {
    db = await createTestDatabase({ schema: 'readme' });
    registrar = await ChallengingRegistrar.start();
    const realm = registrar.hostPort;
    await db.insert('subscribers', Array.from({ length: ACCOUNTS }, (_, i) => ({
      subscriber_id: i + 1, user: `stop${i + 1}`, pass: 'pw', realm, contact: '',
    })));
    daemon = await startDaemon({ db: db.config, logLevel: 2 });

    // Stop once challenges are being answered: accounts are then at every step of the exchange.
    const seen = registrar;
    await waitFor('re-sends with credentials', () => seen.count((r) => r.withCredentials), (n) => n >= 200, 20_000, 5);
    const stoppedAt = Date.now();
    assert.equal(await daemon.stop(), 0);
    const stopMs = Date.now() - stoppedAt;
    assert.ok(stopMs < 5000, `exit after ${stopMs} ms`);

    assert.ok(seen.count((r) => r.withCredentials && r.at > stoppedAt) > 0, 'some accounts answered their challenge after SIGTERM');
    assert.ok(seen.count(() => true) < 2 * ACCOUNTS, 'requests not started when stopping began were not sent');
    assert.deepEqual(seen.users((r) => r.withCredentials), seen.users((r) => !r.withCredentials),
      'every account challenged sent its credentials');

    const rows = await registrationRows(db);
    const byOutcome = new Map<string, number>();
    for (const row of rows) {
      const outcome = `${row.registration_status}/${row.last_code ?? '-'}/${row.last_reason ?? '-'}`;
      byOutcome.set(outcome, (byOutcome.get(outcome) ?? 0) + 1);
    }
    assert.deepEqual(Object.fromEntries(byOutcome), {
      [`${RegStatus.ACTIVE}/200/OK`]: seen.registered.size,
      [`${RegStatus.INACTIVE}/-/-`]: ACCOUNTS - seen.registered.size,
    });

    const infoLines = daemon.log().split('\n').filter((line) => / (INFO|WARNING|ERROR): /.test(line));
    assert.ok(infoLines.length < 20, `no line per account:\n${infoLines.slice(0, 30).join('\n')}`);
  });
});
