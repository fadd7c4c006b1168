/**
 * The registration client (src/sip/sip-registration-client.ts) over a transaction
 * layer played in-process: each REGISTER is answered by a scripted registrar that
 * checks digest credentials itself (node:crypto, not src/sip/digest.ts), so what is
 * checked is what went on the wire: CSeq, credentials up front, re-sends, failover.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { formatVia, newBranch } from '../../src/sip/message/via';
import { parseSipMessage } from '../../src/sip/message/parse';
import { serializeSipMessage } from '../../src/sip/message/serialize';
import type { SipRequest, SipResponse } from '../../src/sip/message/sip-message';
import type { RegistrationDialog, RegistrationParams } from '../../src/sip/registration-client';
import type { NextHopResolver, NextHopTarget } from '../../src/sip/resolver';
import { SipRegistrationClient } from '../../src/sip/sip-registration-client';
import type { TransactionLayer } from '../../src/sip/transaction-layer';
import type { TransactionOutcome } from '../../src/sip/transaction-non-invite-client';
import { TransportError, type Destination } from '../../src/sip/transport/transport';
import { answerRequest } from '../support/sip-responses';

const md5 = (text: string): string => createHash('md5').update(text).digest('hex');

const REALM = 'example.com';

/** Parameters of a Digest credentials value, unquoted. */
function digestParams(value: string): Map<string, string> {
  return new Map([...value.matchAll(/([a-z]+)=("[^"]*"|[^,\s]+)/g)].map((m) => [m[1] as string, (m[2] as string).replace(/^"|"$/g, '')]));
}

/** One registrar address, with a password per user and nonces of its own. */
class ScriptedServer {
  /** Nonces it accepts; those it issued and no longer accepts draw stale=true. */
  readonly validNonces = new Set<string>();
  /** Requests carrying credentials get a 503, or no answer at all. */
  failWithCredentials: 503 | 'silent' | undefined;
  private readonly issued = new Set<string>();

  constructor(readonly name: string, private readonly passwords: ReadonlyMap<string, string>) {}

  /** The response, or undefined for none. */
  answer(request: SipRequest): { status: number; reason: string; headers: string[] } | undefined {
    const credentials = request.headers.get('authorization');
    if (credentials !== undefined && this.failWithCredentials === 'silent') return undefined;
    if (credentials !== undefined && this.failWithCredentials === 503) return { status: 503, reason: 'Service Unavailable', headers: [] };
    const user = /sip:([^@]+)@/.exec(request.headers.get('to') ?? '')?.[1] ?? '';
    const verdict = credentials === undefined ? 'none' : this.check(digestParams(credentials), this.passwords.get(user) ?? '');
    if (verdict === 'ok') {
      const contact = `${request.headers.get('contact')};expires=${request.headers.get('expires')}`;
      return { status: 200, reason: 'OK', headers: [`Contact: ${contact}`] };
    }
    const nonce = `${this.name}-nonce-${this.issued.size + 1}`;
    this.issued.add(nonce);
    this.validNonces.add(nonce);
    const stale = verdict === 'stale' ? ', stale=true' : '';
    return { status: 401, reason: 'Unauthorized', headers: [`WWW-Authenticate: Digest realm="${REALM}", nonce="${nonce}", qop="auth"${stale}`] };
  }

  /** RFC 2617 qop=auth; stale = right digest, but a nonce of ours no longer accepted; another server's nonce is wrong. */
  private check(p: ReadonlyMap<string, string>, password: string): 'wrong' | 'stale' | 'ok' {
    const nonce = p.get('nonce') ?? '';
    const ha1 = md5(`${p.get('username')}:${REALM}:${password}`);
    const ha2 = md5(`REGISTER:${p.get('uri')}`);
    if (p.get('response') !== md5(`${ha1}:${nonce}:${p.get('nc')}:${p.get('cnonce')}:auth:${ha2}`)) return 'wrong';
    if (this.validNonces.has(nonce)) return 'ok';
    return this.issued.has(nonce) ? 'stale' : 'wrong';
  }
}

/**
 * The transaction layer, played: the servers by address; no answer ends in a timeout
 * (Timer F). Once closed it refuses every transaction, as the real one does.
 */
class ScriptedLayer {
  readonly sent: { request: SipRequest; to: string }[] = [];
  /** Called as each request goes out, before its answer is delivered. */
  whenSent: (() => void) | undefined;
  /** How many requests had been sent when close() was called. */
  closedAfterSends: number | undefined;

  constructor(private readonly servers: ReadonlyMap<string, ScriptedServer>) {}

  send(request: SipRequest, destination: Destination): Promise<TransactionOutcome> {
    if (this.closedAfterSends !== undefined) {
      return Promise.resolve({ kind: 'transport-error', error: new TransportError('transaction layer is closing'), retransmissions: 0, requestSent: false });
    }
    this.sent.push({ request, to: destination.host });
    this.whenSent?.();
    const answer = this.servers.get(destination.host)?.answer(request);
    if (answer === undefined) return Promise.resolve({ kind: 'timeout', retransmissions: 10 });
    const wire = serializeSipMessage(request, formatVia('UDP', '192.0.2.1', 5060, newBranch())).toString();
    const parsed = parseSipMessage(answerRequest(wire, answer.status, answer.reason, { headers: answer.headers }));
    assert.ok(parsed.ok && parsed.message.type === 'response');
    return Promise.resolve({ kind: 'response', response: parsed.message as SipResponse, retransmissions: 0 });
  }

  close(): Promise<void> {
    this.closedAfterSends ??= this.sent.length;
    return Promise.resolve();
  }

  /** `<CSeq> to <target>, <credentials>` per request sent in `dialog`, from the `from`-th on. */
  summary(dialog: RegistrationDialog, from = 0): string[] {
    return this.sent
      .filter(({ request }) => request.headers.get('call-id') === dialog.callId)
      .slice(from)
      .map(({ request, to }) => {
        const credentials = request.headers.get('authorization');
        const nonce = credentials === undefined ? 'without credentials' : `with ${digestParams(credentials).get('nonce')}`;
        return `${request.headers.get('cseq')} to ${to}, ${nonce}`;
      });
  }
}

function setup(targetHosts: readonly string[] = ['192.0.2.10']) {
  const passwords = new Map([['alice', 'right']]);
  const servers = new Map(targetHosts.map((host, i) => [host, new ScriptedServer(`s${i + 1}`, passwords)] as const));
  const layer = new ScriptedLayer(servers);
  const targets: NextHopTarget[] = targetHosts.map((address) => ({ transport: 'udp', address, port: 5060 }));
  const resolver = {
    resolve: () => Promise.resolve(targets),
    reportTransportFailure: () => undefined,
    reportReachable: () => undefined,
  } as unknown as NextHopResolver;
  const client = new SipRegistrationClient(layer as unknown as TransactionLayer, resolver, { authenticate: true, userAgent: '' });
  const params = (extra: Partial<RegistrationParams> = {}): RegistrationParams => ({
    user: 'alice', domain: REALM, authUser: 'alice', password: 'right', contact: 'sip:alice@192.0.2.1:5060', expires: 600, ...extra,
  });
  const server = (host: string): ScriptedServer => servers.get(host) as ScriptedServer;
  return { client, layer, params, passwords, server };
}

describe('SIP registration client: digest credentials across a registration (SEMS uac_auth)', () => {
  it('sends the answered challenge\'s credentials up front: a refresh and the de-REGISTER are one transaction each', async () => {
    const { client, layer, params } = setup();
    const dialog = client.newDialog();
    const first = await client.register(dialog, params());
    assert.deepEqual([first.code, first.challenge], [200, { code: 401, reason: 'Unauthorized' }]);
    const refresh = await client.register(dialog, params());
    assert.deepEqual([refresh.code, refresh.grantedExpires, refresh.challenge], [200, 600, undefined]);
    assert.equal((await client.unregister(dialog, params())).code, 200);
    assert.deepEqual(layer.summary(dialog), [
      '50 REGISTER to 192.0.2.10, without credentials',
      '51 REGISTER to 192.0.2.10, with s1-nonce-1',
      '52 REGISTER to 192.0.2.10, with s1-nonce-1',
      '53 REGISTER to 192.0.2.10, with s1-nonce-1',
    ]);
    const ncs = layer.sent.map(({ request }) => digestParams(request.headers.get('authorization') ?? '').get('nc'));
    assert.deepEqual(ncs, [undefined, '00000001', '00000002', '00000003']);
  });

  it('a nonce the registrar no longer accepts: its 401 (stale=true here) is answered once with the new nonce', async () => {
    const { client, layer, params, server } = setup();
    const dialog = client.newDialog();
    await client.register(dialog, params());
    server('192.0.2.10').validNonces.clear();
    const refresh = await client.register(dialog, params());
    assert.deepEqual([refresh.code, refresh.challenge], [200, { code: 401, reason: 'Unauthorized' }]);
    assert.deepEqual(layer.summary(dialog, 2), [
      '52 REGISTER to 192.0.2.10, with s1-nonce-1',
      '53 REGISTER to 192.0.2.10, with s1-nonce-2',
    ]);
  });

  it('wrong password: one re-send with credentials, then the second 401 is the outcome; the retry starts without credentials', async () => {
    const { client, layer, params } = setup();
    const dialog = client.newDialog();
    const outcome = await client.register(dialog, params({ password: 'wrong' }));
    assert.deepEqual(outcome, { code: 401, reason: 'Unauthorized', sent: true, retransmissions: 0, challenge: { code: 401, reason: 'Unauthorized' } });
    assert.equal((await client.register(dialog, params({ password: 'wrong' }))).code, 401);
    assert.deepEqual(layer.summary(dialog), [
      '50 REGISTER to 192.0.2.10, without credentials',
      '51 REGISTER to 192.0.2.10, with s1-nonce-1',
      '52 REGISTER to 192.0.2.10, without credentials',
      '53 REGISTER to 192.0.2.10, with s1-nonce-3',
    ]);
  });

  it('the registrar changes the password of a registered account: credentials up front, one re-send, then 401', async () => {
    const { client, layer, params, passwords } = setup();
    const dialog = client.newDialog();
    await client.register(dialog, params());
    passwords.set('alice', 'changed');
    const outcome = await client.register(dialog, params());
    assert.deepEqual([outcome.code, outcome.challenge], [401, { code: 401, reason: 'Unauthorized' }]);
    assert.deepEqual(layer.summary(dialog, 2), [
      '52 REGISTER to 192.0.2.10, with s1-nonce-1',
      '53 REGISTER to 192.0.2.10, with s1-nonce-2',
    ]);
  });

  it('a new password or digest user (updateRegistration): nothing made with the old ones is sent up front', async () => {
    const { client, layer, params, passwords } = setup();
    const dialog = client.newDialog();
    await client.register(dialog, params());
    passwords.set('alice', 'new');
    assert.equal((await client.register(dialog, params({ password: 'new' }))).code, 200);
    assert.equal((await client.register(dialog, params({ password: 'new', authUser: 'alice' }))).code, 200);
    await client.register(dialog, params({ password: 'new', authUser: 'alias' }));
    assert.deepEqual(layer.summary(dialog, 2), [
      '52 REGISTER to 192.0.2.10, without credentials',
      '53 REGISTER to 192.0.2.10, with s1-nonce-2',
      '54 REGISTER to 192.0.2.10, with s1-nonce-2',
      '55 REGISTER to 192.0.2.10, without credentials',
      '56 REGISTER to 192.0.2.10, with s1-nonce-3',
    ]);
  });

  for (const failure of [503, 'silent'] as const) {
    it(`failover after ${failure === 503 ? 'a 503' : 'no answer'} from a server whose challenge was answered: the next server's own challenge is answered too`, async () => {
      const { client, layer, params, server } = setup(['192.0.2.10', '192.0.2.20']);
      server('192.0.2.10').failWithCredentials = failure;
      const dialog = client.newDialog();
      const outcome = await client.register(dialog, params());
      assert.deepEqual([outcome.code, outcome.challenge], [200, { code: 401, reason: 'Unauthorized' }]);
      assert.deepEqual(layer.summary(dialog), [
        '50 REGISTER to 192.0.2.10, without credentials',
        '51 REGISTER to 192.0.2.10, with s1-nonce-1',
        '52 REGISTER to 192.0.2.20, with s1-nonce-1',
        '53 REGISTER to 192.0.2.20, with s2-nonce-1',
      ]);
    });
  }
});

describe('SIP registration client: stopping (SPEC §1)', () => {
  it('stopping while a challenge is on its way: the re-send with credentials still goes out, the outcome is the registrar\'s 200 (no made-up 408), then the layer closes', async () => {
    const { client, layer, params } = setup();
    let closing: Promise<void> | undefined;
    layer.whenSent = () => (closing ??= client.close());
    const dialog = client.newDialog();
    const outcome = await client.register(dialog, params());
    assert.deepEqual([outcome.code, outcome.reason, outcome.challenge], [200, 'OK', { code: 401, reason: 'Unauthorized' }]);
    assert.deepEqual(layer.summary(dialog), ['50 REGISTER to 192.0.2.10, without credentials', '51 REGISTER to 192.0.2.10, with s1-nonce-1']);
    await closing;
    assert.equal(layer.closedAfterSends, 2, 'the layer closed once the request had ended');
  });

  it('a request that has sent nothing when stopping begins is never sent: it ends aborted, and so does one asked for afterwards', async () => {
    const { client, layer, params } = setup();
    const dialog = client.newDialog();
    const resolving = client.register(dialog, params()); // its next hop is being resolved
    const closing = client.close();
    const aborted = { code: 0, reason: 'not sent: stopping', sent: false, retransmissions: 0, aborted: true };
    assert.deepEqual(await resolving, aborted);
    await closing;
    assert.deepEqual(await client.unregister(dialog, params()), aborted);
    assert.deepEqual([layer.sent.length, layer.closedAfterSends], [0, 0]);
  });
});

describe('SIP registration client: account data on the wire (RFC 3261 §25.1)', () => {
  it('escapes the user in From, To and Contact (ASCII outside §25.1; UTF-8 as it is); quotes the digest user name and hashes it as it is', async () => {
    const { client, layer, params, passwords } = setup();
    const user = 'jürgen "j" <x>';
    passwords.set('jürgen%20%22j%22%20%3Cx%3E', 'right');
    const contact = 'sip:jürgen%20%22j%22%20%3Cx%3E@192.0.2.1:5060';
    const outcome = await client.register(client.newDialog(), params({ user, authUser: 'jürgen', contact }));
    assert.deepEqual([outcome.code, outcome.grantedExpires], [200, 600], 'the scripted registrar checked the digest over "jürgen"');
    const [, withCredentials] = layer.sent.map(({ request }) => request);
    assert.ok(withCredentials);
    assert.equal(withCredentials.uri, 'sip:example.com');
    assert.equal(withCredentials.headers.get('to'), '<sip:jürgen%20%22j%22%20%3Cx%3E@example.com>');
    assert.match(withCredentials.headers.get('from') ?? '', /^<sip:jürgen%20%22j%22%20%3Cx%3E@example\.com>;tag=/);
    assert.equal(withCredentials.headers.get('contact'), `<${contact}>`);
    assert.match(withCredentials.headers.get('authorization') ?? '', /^Digest username="jürgen", /);
    const wire = serializeSipMessage(withCredentials, formatVia('UDP', '192.0.2.1', 5060, newBranch()));
    // Outside ASCII only the user's own characters, as UTF-8; no quote, space or bracket left raw in a URI.
    const head = wire.subarray(0, wire.indexOf('Authorization')).toString('utf8');
    assert.equal(head.replace(/jürgen/g, '').match(/[^\t-\x7e]/), null);
    assert.equal(head.match(/<sip:[^>\r\n]*[" <]/), null);
  });

  it('a value that cannot go on the wire: 480 naming the field, invalid, and nothing resolved or sent, for REGISTER and de-REGISTER', async () => {
    const { client, layer, params } = setup();
    const dialog = client.newDialog();
    const refused = (reason: string) => ({ code: 480, reason: `unable to send request: ${reason}`, sent: false, retransmissions: 0, invalid: true });
    assert.deepEqual(await client.register(dialog, params({ user: 'alice\r\nX-Injected: yes' })), refused('user contains a line break'));
    assert.deepEqual(await client.register(dialog, params({ domain: 'example.com;x=a b' })), refused('realm contains a space'));
    assert.deepEqual(await client.unregister(dialog, params({ contact: '<sip:alice@192.0.2.1>' })), refused("contact contains '<'"));
    assert.deepEqual([layer.sent.length, dialog.cseq], [0, 50], 'no request, no CSeq taken');
  });
});
