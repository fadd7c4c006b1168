/**
 * Digest access authentication, client side: RFC 2617 (MD5, MD5-sess, qop, RFC 2069
 * compatibility), RFC 7616 (SHA-256, SHA-256-sess) as SIP uses them (RFC 3261 §22.4,
 * RFC 8760).
 *
 * Pure functions parse challenges and compute credentials; two small classes hold the
 * state: `DigestSession` (per registration dialog: the challenges answered, sent again
 * up front with later requests, and their nonce counts) and `RequestAuthenticator`
 * (per request: which challenges it answered, and how often).
 */
import { hash } from 'node:crypto';
import { TOKEN, detached, parseParam, quote, splitOutsideQuotes } from './header-syntax';
import { TextInterner } from '../core/text-interner';
import { randomHex } from './random-token';

export type DigestAlgorithm = 'MD5' | 'MD5-sess' | 'SHA-256' | 'SHA-256-sess';
export type DigestQop = 'auth' | 'auth-int';

/** A Digest challenge we can answer. */
export interface DigestChallenge {
  realm: string;
  nonce: string;
  opaque?: string;
  algorithm: DigestAlgorithm;
  /** The `algorithm` parameter as received, echoed in the answer; absent means MD5 (RFC 7616 §3.3). */
  algorithmAsReceived?: string;
  /** The qop we answer with; absent: the server offered none (RFC 2069 mode). */
  qop?: DigestQop;
  /** RFC 7616 §3.3: the nonce expired but the credentials were right. */
  stale: boolean;
}

interface AlgorithmSpec {
  name: DigestAlgorithm;
  hash: 'md5' | 'sha256';
  /** -sess variants hash the nonce and cnonce into A1 (RFC 7616 §3.4.2). */
  session: boolean;
  /** Higher is preferred when a reply offers several challenges. */
  strength: number;
}

/** Supported algorithms keyed by upper-cased name (the token compares case-insensitively). */
const ALGORITHMS: ReadonlyMap<string, AlgorithmSpec> = new Map([
  ['MD5', { name: 'MD5', hash: 'md5', session: false, strength: 1 }],
  ['MD5-SESS', { name: 'MD5-sess', hash: 'md5', session: true, strength: 1 }],
  ['SHA-256', { name: 'SHA-256', hash: 'sha256', session: false, strength: 2 }],
  ['SHA-256-SESS', { name: 'SHA-256-sess', hash: 'sha256', session: true, strength: 2 }],
] as const);

function algorithmSpec(name: DigestAlgorithm): AlgorithmSpec {
  return ALGORITHMS.get(name.toUpperCase()) as AlgorithmSpec;
}

interface RawChallenge {
  scheme: string;
  params: Map<string, string | null>;
}

/** A list item that opens a challenge: `scheme`, optionally followed by its first parameter. */
const CHALLENGE_START = new RegExp(`^(${TOKEN})(?:\\s+(?!=)(.*))?$`, 's');

/**
 * Splits WWW-Authenticate / Proxy-Authenticate values into challenges (RFC 7235 §4.1:
 * one header may carry several, comma-separated, and commas inside quoted-strings do
 * not separate). The first occurrence of a parameter wins.
 */
function parseRawChallenges(headerValues: readonly string[]): RawChallenge[] {
  const challenges: RawChallenge[] = [];
  for (const item of headerValues.flatMap((value) => splitOutsideQuotes(value, ','))) {
    const start = CHALLENGE_START.exec(item);
    let paramText: string | undefined = item;
    if (start) {
      challenges.push({ scheme: start[1], params: new Map() });
      paramText = start[2];
    }
    const current = challenges.at(-1);
    const param = paramText === undefined ? undefined : parseParam(paramText);
    if (current && param && !current.params.has(param[0])) current.params.set(param[0], param[1]);
  }
  return challenges;
}

/**
 * RFC 7616 §3.3 qop-options: prefer `auth` (no body to protect), else `auth-int`.
 * undefined: none offered (RFC 2069 mode); null: none we support.
 */
function chooseQop(offered: string | null | undefined): DigestQop | undefined | null {
  if (offered === undefined || offered === null) return undefined;
  const options = offered.split(',').map((option) => option.trim().toLowerCase());
  if (options.includes('auth')) return 'auth';
  if (options.includes('auth-int')) return 'auth-int';
  return null;
}

/** A Digest challenge we can answer, or undefined (other scheme, unknown algorithm or qop, no realm/nonce). */
function toDigestChallenge({ scheme, params }: RawChallenge): DigestChallenge | undefined {
  const realm = params.get('realm');
  const nonce = params.get('nonce');
  const algorithmAsReceived = params.get('algorithm') ?? undefined;
  const spec = ALGORITHMS.get((algorithmAsReceived ?? 'MD5').toUpperCase());
  const qop = chooseQop(params.get('qop'));
  if (scheme.toLowerCase() !== 'digest' || realm == null || nonce == null || !spec || qop === null) {
    return undefined;
  }
  return {
    realm,
    nonce,
    opaque: params.get('opaque') ?? undefined,
    algorithm: spec.name,
    algorithmAsReceived,
    qop,
    stale: params.get('stale')?.toLowerCase() === 'true',
  };
}

/** The Digest challenges we can answer, in the order received, from one or several header values. */
export function parseDigestChallenges(headerValues: string | readonly string[]): DigestChallenge[] {
  const values = typeof headerValues === 'string' ? [headerValues] : headerValues;
  return parseRawChallenges(values)
    .map(toDigestChallenge)
    .filter((challenge): challenge is DigestChallenge => challenge !== undefined);
}

/**
 * The challenge to answer: the strongest algorithm (SHA-256 over MD5), the first one
 * received among equals (RFC 8760 §2.4 leaves the choice to local policy).
 */
export function strongestChallenge(challenges: readonly DigestChallenge[]): DigestChallenge | undefined {
  return challenges.reduce<DigestChallenge | undefined>(
    (best, candidate) =>
      best && algorithmSpec(best.algorithm).strength >= algorithmSpec(candidate.algorithm).strength ? best : candidate,
    undefined,
  );
}

export interface DigestAnswerInput {
  challenge: DigestChallenge;
  method: string;
  /** The digest-uri: the Request-URI as sent. */
  uri: string;
  username: string;
  password: string;
  /** Message body, for qop=auth-int; REGISTER has none. */
  body?: string;
  /** Nonce count, 1 for the first request with this nonce. */
  nc: number;
  cnonce: string;
}

/** The nonce count as sent: 8 hex digits (RFC 7616 §3.4). */
export function formatNonceCount(nc: number): string {
  if (!Number.isInteger(nc) || nc < 1 || nc > 0xffffffff) throw new RangeError(`nonce count out of range: ${nc}`);
  return nc.toString(16).padStart(8, '0');
}

/** The request-digest (RFC 7616 §3.4.1; RFC 2617 §3.2.2.1 and, without qop, RFC 2069). */
export function digestResponse(input: DigestAnswerInput): string {
  const { challenge, method, uri, username, password, body = '', nc, cnonce } = input;
  const spec = algorithmSpec(challenge.algorithm);
  const h = (data: string): string => hash(spec.hash, data, 'hex');
  // RFC 7616 §3.4.2: A1, hashed once more with nonce and cnonce for the -sess variants.
  const credentialsHash = h(`${username}:${challenge.realm}:${password}`);
  const ha1 = spec.session ? h(`${credentialsHash}:${challenge.nonce}:${cnonce}`) : credentialsHash;
  // RFC 7616 §3.4.3: A2, with the body's hash for auth-int.
  const ha2 = h(challenge.qop === 'auth-int' ? `${method}:${uri}:${h(body)}` : `${method}:${uri}`);
  if (challenge.qop === undefined) return h(`${ha1}:${challenge.nonce}:${ha2}`);
  return h(`${ha1}:${challenge.nonce}:${formatNonceCount(nc)}:${cnonce}:${challenge.qop}:${ha2}`);
}

/**
 * The Authorization / Proxy-Authorization value answering `challenge` (RFC 7616 §3.4),
 * its parameters in SEMS's order (uac_auth): username, realm, nonce, uri, opaque, qop,
 * cnonce, nc, response, algorithm. The algorithm is always named, as SEMS and
 * Kamailio's uac do (echoed as received, else MD5). Without qop, nc and qop are
 * omitted; cnonce too, unless a -sess algorithm needs it for A1 (RFC 2617 leaves that
 * combination undefined; sending what we hashed is the only answer a server can verify).
 */
export function buildAuthorization(input: DigestAnswerInput): string {
  const { challenge, uri, username, nc, cnonce } = input;
  const parts = [
    `username=${quote(username)}`,
    `realm=${quote(challenge.realm)}`,
    `nonce=${quote(challenge.nonce)}`,
    `uri=${quote(uri)}`,
  ];
  if (challenge.opaque !== undefined) parts.push(`opaque=${quote(challenge.opaque)}`);
  if (challenge.qop !== undefined) parts.push(`qop=${challenge.qop}`);
  if (challenge.qop !== undefined || algorithmSpec(challenge.algorithm).session) parts.push(`cnonce=${quote(cnonce)}`);
  if (challenge.qop !== undefined) parts.push(`nc=${formatNonceCount(nc)}`);
  parts.push(`response=${quote(digestResponse(input))}`, `algorithm=${challenge.algorithmAsReceived ?? challenge.algorithm}`);
  return `Digest ${parts.join(', ')}`;
}

/** The header pairs of RFC 3261 §22.2 (401) and §22.3 (407). */
export const CHALLENGE_HEADERS = {
  401: { challenge: 'WWW-Authenticate', answer: 'Authorization' },
  407: { challenge: 'Proxy-Authenticate', answer: 'Proxy-Authorization' },
} as const;
export type ChallengeStatus = keyof typeof CHALLENGE_HEADERS;

export interface DigestCredentials {
  username: string;
  password: string;
}

export type ChallengeVerdict = { answer: true } | { answer: false; reason: string };

export interface AuthorizationHeader {
  name: (typeof CHALLENGE_HEADERS)[ChallengeStatus]['answer'];
  value: string;
}

/** 128 random bits in hex. */
function randomCnonce(): string {
  return randomHex(16);
}

/**
 * A challenge a registration answered, kept to answer it again up front: the challenge
 * itself (one object, not a wrapper around a copy: one exists per account) and its use.
 */
interface RememberedChallenge extends DigestChallenge {
  readonly status: ChallengeStatus;
  /** Requests sent with this nonce so far (RFC 7616 §3.4 nonce-count). */
  nc: number;
  /** -sess algorithms only: their A1 hashes the cnonce in, so one is kept for the nonce's life. */
  readonly sessionCnonce: string | undefined;
}

/**
 * Realms and algorithm names: the same few texts for many registrations. Bounded; opaque
 * values stay out (a registrar may send a new one per challenge and fill the table).
 */
const challengeTexts = new TextInterner(1024);

/**
 * What a session keeps of `challenge` for the registration's life: it must not keep the
 * reply it was parsed from alive, and at 100 000 registrations each byte counts, so
 * shared texts are shared and only the nonce is the registration's own.
 */
function remembered(status: ChallengeStatus, challenge: DigestChallenge, nc: number, sessionCnonce: string | undefined): RememberedChallenge {
  const { realm, nonce, opaque, algorithm, algorithmAsReceived, qop, stale } = challenge;
  return {
    realm: challengeTexts.of(detached(realm)),
    nonce: detached(nonce),
    opaque: opaque === undefined ? undefined : detached(opaque), // may change per challenge: not for the shared table
    algorithm,
    algorithmAsReceived: algorithmAsReceived === undefined ? undefined : challengeTexts.of(algorithmAsReceived),
    qop,
    stale,
    status,
    nc,
    sessionCnonce,
  };
}

/**
 * Per registration dialog, as SEMS keeps one uac_auth handler per registration: the
 * challenges last answered (one per kind, 401 and 407), whose credentials go with every
 * later request of the dialog up front (refreshes and the de-REGISTER), the nonce count
 * going up and a fresh cnonce each time. While the registrar still accepts the nonce, a
 * refresh is one transaction. Made for one user name and password: when either changes,
 * the dialog needs a new session.
 */
export class DigestSession {
  /** One field per kind, not a list: one exists per account, and most hold a 401's only. */
  private www: RememberedChallenge | undefined;
  private proxy: RememberedChallenge | undefined;
  /** Answers go out in the order first answered. */
  private proxyFirst = false;

  /** The credentials' two texts, not the object they came in: one session exists per account. */
  private readonly username: string;
  private readonly password: string;

  constructor(
    credentials: DigestCredentials,
    private readonly newCnonce: () => string = randomCnonce,
  ) {
    this.username = credentials.username;
    this.password = credentials.password;
  }

  /** Whether this session answers with these credentials. */
  isFor(username: string, password: string): boolean {
    return this.username === username && this.password === password;
  }

  /** `challenge` is to be answered from now on; with the nonce already held, its count (and -sess cnonce) carry on. */
  remember(status: ChallengeStatus, challenge: DigestChallenge): void {
    const previous = status === 401 ? this.www : this.proxy;
    const carried = previous?.nonce === challenge.nonce ? previous : undefined;
    const sessionCnonce = algorithmSpec(challenge.algorithm).session ? (carried?.sessionCnonce ?? this.newCnonce()) : undefined;
    const entry = remembered(status, challenge, carried?.nc ?? 0, sessionCnonce);
    if (status === 401) {
      this.www = entry;
    } else {
      if (this.proxy === undefined) this.proxyFirst = this.www === undefined;
      this.proxy = entry;
    }
  }

  /** The registrar no longer accepts the `status` kind of challenge held: nothing of that kind is sent up front any more. */
  forget(status: ChallengeStatus): void {
    if (status === 401) this.www = undefined;
    else this.proxy = undefined;
  }

  /**
   * The credential headers for the next request (or re-send): one per remembered
   * challenge, in the order first answered. Call once per send: each call advances
   * the nonce counts.
   */
  headers(request: { method: string; uri: string; body?: string }): AuthorizationHeader[] {
    const answers: AuthorizationHeader[] = [];
    const first = this.proxyFirst ? this.proxy : this.www;
    const second = this.proxyFirst ? this.www : this.proxy;
    if (first) answers.push(this.answer(first, request));
    if (second) answers.push(this.answer(second, request));
    return answers;
  }

  private answer(entry: RememberedChallenge, request: { method: string; uri: string; body?: string }): AuthorizationHeader {
    // A literal, not spreads: this runs for every request of every account.
    const value = buildAuthorization({
      challenge: entry,
      method: request.method,
      uri: request.uri,
      body: request.body,
      username: this.username,
      password: this.password,
      cnonce: entry.sessionCnonce ?? this.newCnonce(),
      nc: ++entry.nc,
    });
    return { name: CHALLENGE_HEADERS[entry.status].answer, value };
  }
}

export interface RequestAuthenticatorOptions {
  /** How many `stale=true` re-challenges of one kind are answered per request and target (default 2). */
  maxStaleAnswers?: number;
}

/**
 * One request's use of its registration's DigestSession. A challenge is answered once
 * per request and target: the first 401 (or 407) brings a nonce to answer, also when
 * it answers credentials sent up front (SEMS: the nonce was no longer valid). A second
 * one of the same kind means the credentials were rejected, unless it carries
 * `stale=true`, which is answered again a bounded number of times (SPEC §4, RFC 7616
 * §3.3). A challenge refused is forgotten by the session.
 */
export class RequestAuthenticator {
  /** Challenge kinds answered at the current target, with the stale re-challenges answered since. */
  private readonly answered = new Map<ChallengeStatus, number>();
  private readonly maxStaleAnswers: number;

  constructor(
    private readonly session: DigestSession,
    options: RequestAuthenticatorOptions = {},
  ) {
    this.maxStaleAnswers = options.maxStaleAnswers ?? 2;
  }

  /** Decides whether a 401/407 (with its WWW-/Proxy-Authenticate values) is to be answered. */
  onChallenge(status: ChallengeStatus, challengeHeaderValues: readonly string[]): ChallengeVerdict {
    const headerName = CHALLENGE_HEADERS[status].challenge;
    const challenge = strongestChallenge(parseDigestChallenges(challengeHeaderValues));
    if (!challenge) return this.refuse(status, `no supported Digest challenge in ${headerName}`);
    const staleAnswers = this.answered.get(status);
    if (staleAnswers !== undefined && !challenge.stale) {
      return this.refuse(status, `${status} after sending credentials: credentials rejected`);
    }
    if (staleAnswers !== undefined && staleAnswers >= this.maxStaleAnswers) {
      return this.refuse(status, `${headerName} stale=true more than ${this.maxStaleAnswers} times`);
    }
    this.answered.set(status, staleAnswers === undefined ? 0 : staleAnswers + 1);
    this.session.remember(status, challenge);
    return { answer: true };
  }

  /** The credential headers for the next send of the request (see DigestSession.headers). */
  headers(request: { method: string; uri: string; body?: string }): AuthorizationHeader[] {
    return this.session.headers(request);
  }

  /** RFC 3263 failover: the next server's challenges are its own, each answered afresh. */
  nextTarget(): void {
    this.answered.clear();
  }

  private refuse(status: ChallengeStatus, reason: string): ChallengeVerdict {
    this.session.forget(status);
    return { answer: false, reason };
  }
}
