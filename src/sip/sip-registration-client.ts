/**
 * The registration client: one REGISTER (or de-REGISTER) from the engine's point of
 * view, built on the transaction layer, the RFC 3263 resolver and the digest client.
 *
 * Per request it may send several transactions, each with CSeq + 1 (RFC 3261 §10.2.4,
 * SPEC §8): failover to the next RFC 3263 target after a transport error, a timeout or
 * a 503 (RFC 3263 §4.3); one re-send with credentials per challenge (RFC 3261 §22.2,
 * `stale=true` answered again); one retry with Min-Expires after a 423 (§10.2.8).
 * Like SEMS's uac_auth, the dialog remembers the challenges answered and sends their
 * credentials up front with its later requests: a refresh while the nonce is valid is
 * one transaction.
 *
 * Account data that no registrar could parse is refused before anything is resolved
 * or sent (addressing.ts): an outcome `invalid`, 480 with a reason naming the field.
 *
 * Stopping (SPEC §1: no new requests, in-flight ones finish): a request that has sent
 * something is under way at the registrar, so its further transactions still go out and
 * its row gets the registrar's real answer; refusing them would store a made-up 408 and
 * turn an ACTIVE account caught mid-refresh into a FAILED one, registered again at once
 * at the next start. A request that has sent nothing yet is not sent and ends `aborted`,
 * which leaves its row as it is.
 */
import { performance } from 'node:perf_hooks';
import type { TlsClientConfig } from '../config/agent-config';
import type { SipInterface } from '../config/sems-config';
import { logger } from '../process/log';
import { addressRegistration, type RequestAddressing } from './addressing';
import { DigestSession, RequestAuthenticator, type ChallengeStatus } from './digest';
import { detached } from './header-syntax';
import { buildRegisterRequest } from './message/register';
import type { SipRequest, SipResponse } from './message/sip-message';
import { randomHex } from './random-token';
import { interpretIntervalTooBrief, interpretRegisterOk } from './register-reply';
import type { RegistrationClient, RegistrationDialog, RegistrationOutcome, RegistrationParams } from './registration-client';
import { NextHopResolver, ResolutionError, type NextHopTarget } from './resolver';
import { openTransactionLayer, type TransactionLayer } from './transaction-layer';
import type { Destination, TransportProtocol } from './transport/transport';
import { ipLiteral, parseSipUri } from './uri';

const log = logger('sip-register');

/** SEMS starts every registration's CSeq at 50 (SPEC §8). */
export const FIRST_CSEQ = 50;
/** Transactions one request may take at most: bounds every retry loop below. */
const MAX_TRANSACTIONS_PER_REQUEST = 8;
/** A request stopping caught before it sent anything. */
const ABORTED: RegistrationOutcome = { code: 0, reason: 'not sent: stopping', sent: false, retransmissions: 0, aborted: true };

/** Client state kept on the dialog: what SEMS keeps per AmSIPRegistration. */
interface DialogState extends RegistrationDialog {
  /** The challenges answered in this dialog, answered again up front by its later requests. */
  digest?: DigestSession;
  /** Min-Expires learnt from a 423, used for later refreshes too. */
  minExpires?: number;
}

export interface SipClientOptions {
  iface: SipInterface;
  /** uac_auth loaded: answer 401/407 with credentials. */
  authenticate: boolean;
  /** User-Agent value; '' = none. */
  userAgent: string;
  tls: TlsClientConfig;
  /** For tests: an existing layer / resolver. */
  layer?: TransactionLayer;
  resolver?: NextHopResolver;
}

export async function createSipRegistrationClient(options: SipClientOptions): Promise<SipRegistrationClient> {
  const layer = options.layer ?? (await openTransactionLayer(options.iface, { tls: options.tls, userAgent: options.userAgent }));
  return new SipRegistrationClient(layer, options.resolver ?? new NextHopResolver(), options);
}

const TRANSPORT: Readonly<Record<NextHopTarget['transport'], TransportProtocol>> = { udp: 'UDP', tcp: 'TCP', tls: 'TLS' };

export class SipRegistrationClient implements RegistrationClient {
  /** Requests between register()/unregister() and their outcome. */
  private requestsUnderWay = 0;
  private stopping = false;
  private abortedWhileStopping = 0;
  private onIdle: (() => void) | undefined;
  private closed: Promise<void> | undefined;

  constructor(
    private readonly layer: TransactionLayer,
    private readonly resolver: NextHopResolver,
    private readonly options: Pick<SipClientOptions, 'authenticate' | 'userAgent'>,
  ) {}

  newDialog(): RegistrationDialog {
    return { callId: randomHex(16), fromTag: randomHex(8), cseq: FIRST_CSEQ };
  }

  register(dialog: RegistrationDialog, params: RegistrationParams): Promise<RegistrationOutcome> {
    return this.underWay(this.run(dialog as DialogState, params, false));
  }

  unregister(dialog: RegistrationDialog, params: RegistrationParams): Promise<RegistrationOutcome> {
    return this.underWay(this.run(dialog as DialogState, params, true));
  }

  /** Lets the requests under way finish (see the top of this file), then closes the transaction layer. */
  close(): Promise<void> {
    this.closed ??= this.stop();
    return this.closed;
  }

  private async stop(): Promise<void> {
    this.stopping = true;
    if (this.requestsUnderWay > 0) {
      // One line for all: a mass start can be thousands of accounts.
      log.info(`stopping: ${this.requestsUnderWay} registration request(s) under way; those that sent nothing yet are dropped`);
      await new Promise<void>((resolve) => (this.onIdle = resolve));
      if (this.abortedWhileStopping > 0) log.info(`stopping: ${this.abortedWhileStopping} registration request(s) not sent`);
    }
    await this.layer.close();
  }

  private async underWay(request: Promise<RegistrationOutcome>): Promise<RegistrationOutcome> {
    this.requestsUnderWay++;
    try {
      return await request;
    } finally {
      this.requestsUnderWay--;
      if (this.requestsUnderWay === 0) this.onIdle?.();
    }
  }

  private async run(dialog: DialogState, params: RegistrationParams, removing: boolean): Promise<RegistrationOutcome> {
    // The same for every transaction of this request (a digest re-send, a 423 retry, failover).
    const addressing = addressRegistration(params);
    if (typeof addressing === 'string') {
      return { code: 480, reason: `unable to send request: ${addressing}`, sent: false, retransmissions: 0, invalid: true };
    }
    const nextHop = params.outboundProxy || addressing.requestUri;
    let targets: NextHopTarget[];
    try {
      targets = await this.resolver.resolve(nextHop, addressing.transport);
    } catch (err) {
      const why = err instanceof ResolutionError ? err.message : String(err);
      log.info(`${params.user}@${params.domain}: cannot resolve ${nextHop}: ${why}`);
      return { code: 480, reason: 'unable to send request', sent: false, retransmissions: 0 };
    }

    const auth = this.options.authenticate ? new RequestAuthenticator(digestSessionOf(dialog, params)) : undefined;
    const tlsServerName = serverName(nextHop);
    let expires = removing ? 0 : Math.max(params.expires, dialog.minExpires ?? 0);
    let targetIndex = 0;
    let retransmissions = 0;
    let sentAny = false;
    let challenge: RegistrationOutcome['challenge'];
    let retriedTooBrief = false;
    /** RFC 3263 §4.3: the next target, if there is one, gets a new transaction; its challenges are its own. */
    const failOver = (): boolean => {
      if (targetIndex + 1 >= targets.length) return false;
      targetIndex++;
      auth?.nextTarget();
      return true;
    };

    for (let attempt = 0; attempt < MAX_TRANSACTIONS_PER_REQUEST; attempt++) {
      if (this.stopping && !sentAny) {
        this.abortedWhileStopping++;
        return ABORTED;
      }
      const target = targets[targetIndex] as NextHopTarget;
      const request = this.buildRequest(dialog, addressing, params.contact, expires, removing, auth);
      const sentAt = performance.now();
      const result = await this.layer.send(request, destination(target, tlsServerName));
      retransmissions += result.retransmissions;

      if (result.kind === 'transport-error') {
        this.resolver.reportTransportFailure(target);
        log.info(`${params.user}@${params.domain}: ${result.error.message}`);
        // Sent, then the connection was lost: like no answer (408), not "unable to send" (480).
        sentAny ||= result.requestSent;
        if (failOver()) continue;
        return sentAny
          ? { code: 408, reason: 'Timeout', sent: true, retransmissions, challenge }
          : { code: 480, reason: 'unable to send request', sent: false, retransmissions };
      }
      sentAny = true;
      if (result.kind === 'timeout') {
        if (failOver()) continue;
        return { code: 408, reason: 'Timeout', sent: true, retransmissions, challenge };
      }

      const reply = result.response;
      this.resolver.reportReachable(target);
      if (reply.status === 503 && failOver()) continue;
      if ((reply.status === 401 || reply.status === 407) && auth) {
        const header = reply.status === 401 ? 'www-authenticate' : 'proxy-authenticate';
        const verdict = auth.onChallenge(reply.status as ChallengeStatus, reply.headers.getAll(header));
        if (verdict.answer) {
          challenge = { code: reply.status, reason: detached(reply.reason) };
          continue;
        }
        log.debug(`${params.user}@${params.domain}: ${verdict.reason}`);
      }
      if (reply.status === 423 && !removing && !retriedTooBrief) {
        const verdict = interpretIntervalTooBrief(reply.headers.get('min-expires'), expires);
        if ('retryExpires' in verdict) {
          retriedTooBrief = true;
          expires = verdict.retryExpires;
          dialog.minExpires = verdict.retryExpires;
          continue;
        }
        log.info(`${params.user}@${params.domain}: ${verdict.failure}`);
      }
      return this.finalOutcome(reply, params, expires, removing, retransmissions, challenge, performance.now() - sentAt);
    }
    return { code: 500, reason: 'too many re-sends for one request', sent: true, retransmissions, challenge };
  }

  private buildRequest(
    dialog: DialogState, addressing: RequestAddressing, contact: string,
    expires: number, removing: boolean, auth: RequestAuthenticator | undefined,
  ): SipRequest {
    return buildRegisterRequest({
      requestUri: addressing.requestUri,
      aor: addressing.aor,
      route: addressing.route,
      fromTag: dialog.fromTag,
      callId: dialog.callId,
      cseq: dialog.cseq++,
      contact,
      contactExpires: removing ? 0 : undefined,
      expires,
      credentials: auth?.headers({ method: 'REGISTER', uri: addressing.requestUri }),
      userAgent: this.options.userAgent,
    });
  }

  private finalOutcome(
    reply: SipResponse, params: RegistrationParams, expires: number, removing: boolean,
    retransmissions: number, challenge: RegistrationOutcome['challenge'], answeredAfterMs: number,
  ): RegistrationOutcome {
    // The engine keeps reason and contacts per account: copies, not views into the reply.
    // Literals rather than spreads of a base object: one outcome per request.
    const code = reply.status;
    const reason = detached(reply.reason);
    if (code < 200 || code >= 300) return { code, reason, sent: true, retransmissions, challenge };
    const ok = interpretRegisterOk({
      contactHeaders: reply.headers.getAll('contact'),
      expiresHeader: reply.headers.get('expires'),
      ourContact: params.contact,
      requestedExpires: expires,
    });
    const contacts = detached(ok.contacts);
    if (removing) return { code, reason, sent: true, retransmissions, challenge, contacts };
    // A binding granted for 0 seconds is no binding (it would also refresh in a loop).
    if (!ok.found || !ok.grantedExpires) return { code, reason, sent: true, retransmissions, challenge, contacts, contactMissing: true };
    return { code, reason, sent: true, retransmissions, challenge, contacts, grantedExpires: ok.grantedExpires, answeredAfterMs };
  }
}

/**
 * The dialog's digest session; a new one when the digest user or password changed, so
 * no credentials made with the old ones are sent up front.
 */
function digestSessionOf(dialog: DialogState, params: RegistrationParams): DigestSession {
  if (!dialog.digest?.isFor(params.authUser, params.password)) {
    dialog.digest = new DigestSession({ username: params.authUser, password: params.password });
  }
  return dialog.digest;
}

/** The name a TLS server certificate must carry: the next hop's host, unless it is an IP literal. */
function serverName(nextHop: string): string | undefined {
  const host = parseSipUri(nextHop)?.host;
  return host && ipLiteral(host) === undefined ? host : undefined;
}

function destination(target: NextHopTarget, tlsServerName: string | undefined): Destination {
  return { transport: TRANSPORT[target.transport], host: target.address, port: target.port, tlsServerName };
}
