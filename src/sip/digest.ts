/**
 * Digest access authentication, client side: RFC 2617 (MD5, MD5-sess, qop, RFC 2069
 * compatibility), RFC 7616 (SHA-256, SHA-256-sess) as SIP uses them (RFC 3261 §22.4,
 * RFC 8760).
 *
 * Pure functions parse challenges and compute credentials; two small classes hold the
 * state: `NonceCounter` (per registration, RFC 7616 §3.4 nonce-count) and
 * `RequestAuthenticator` (per request: which challenges were answered, and how often).
 */
import { hash } from 'node:crypto';
import { TOKEN, detached, parseParam, quote, splitOutsideQuotes } from './header-syntax';
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

/**
 * Per registration: how many requests were sent with each nonce (RFC 7616 §3.4 nonce-count).
 * One exists per account, and an account rarely holds more than one nonce, so the
 * entries live in one small array (nonce, count, nonce, count, ..., most recent last)
 * rather than a Map, whose hash table alone took ~240 bytes per account.
 */
export class NonceCounter {
  /** Replaced, never grown in place: an array built by push reserves room for 17 entries. */
  private entries: readonly (string | number)[] = [];

  /** @param capacity nonces remembered; the least recently used is forgotten first. */
  constructor(private readonly capacity = 4) {}

  /** The nc for the next request sent with `nonce`: 1, 2, 3, ... */
  next(nonce: string): number {
    const at = this.entries.indexOf(nonce);
    const count = at < 0 ? 1 : (this.entries[at + 1] as number) + 1;
    const others = at < 0 ? this.entries : this.entries.filter((_, i) => i !== at && i !== at + 1);
    const kept = others.length >= 2 * this.capacity ? others.slice(2) : others;
    this.entries = kept.concat(detached(nonce), count); // kept for the registration's life: not a view into the 401
    return count;
  }
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

export interface RequestAuthenticatorOptions {
  /** How many `stale=true` re-challenges of one kind are answered per request (default 2). */
  maxStaleAnswers?: number;
  /** cnonce source (default 128 random bits in hex). */
  newCnonce?: () => string;
}

interface AnsweredChallenge {
  challenge: DigestChallenge;
  /** Kept for the challenge's life: a -sess A1 depends on it. */
  cnonce: string;
  staleAnswers: number;
}

/**
 * The challenges answered during one request (its first send and its re-sends with
 * credentials). A challenge is answered once; a second 401 (or 407) after answering one
 * means the credentials were rejected, unless it carries `stale=true`, which is answered
 * again a bounded number of times (SPEC §4, RFC 7616 §3.3).
 */
export class RequestAuthenticator {
  private readonly answered = new Map<ChallengeStatus, AnsweredChallenge>();
  private readonly maxStaleAnswers: number;
  private readonly newCnonce: () => string;

  constructor(
    private readonly credentials: DigestCredentials,
    private readonly nonces: NonceCounter,
    options: RequestAuthenticatorOptions = {},
  ) {
    this.maxStaleAnswers = options.maxStaleAnswers ?? 2;
    this.newCnonce = options.newCnonce ?? (() => randomHex(16));
  }

  /** Decides whether a 401/407 (with its WWW-/Proxy-Authenticate values) is to be answered. */
  onChallenge(status: ChallengeStatus, challengeHeaderValues: readonly string[]): ChallengeVerdict {
    const headerName = CHALLENGE_HEADERS[status].challenge;
    const challenge = strongestChallenge(parseDigestChallenges(challengeHeaderValues));
    if (!challenge) return { answer: false, reason: `no supported Digest challenge in ${headerName}` };
    const previous = this.answered.get(status);
    if (previous && !challenge.stale) {
      return { answer: false, reason: `${status} after sending credentials: credentials rejected` };
    }
    const staleAnswers = previous ? previous.staleAnswers + 1 : 0;
    if (staleAnswers > this.maxStaleAnswers) {
      return { answer: false, reason: `${headerName} stale=true more than ${this.maxStaleAnswers} times` };
    }
    this.answered.set(status, { challenge, cnonce: this.newCnonce(), staleAnswers });
    return { answer: true };
  }

  /**
   * The credential headers for the next send of the request: one per challenge kind
   * answered so far. Call once per send: each call advances the nonce counts.
   */
  headers(request: { method: string; uri: string; body?: string }): AuthorizationHeader[] {
    const answers: AuthorizationHeader[] = [];
    // A loop and a literal, not map and spreads: this runs for every re-send of every account.
    for (const [status, { challenge, cnonce }] of this.answered) {
      const value = buildAuthorization({
        challenge,
        method: request.method,
        uri: request.uri,
        body: request.body,
        username: this.credentials.username,
        password: this.credentials.password,
        cnonce,
        nc: challenge.qop === undefined ? 1 : this.nonces.next(challenge.nonce), // no nc is sent without qop
      });
      answers.push({ name: CHALLENGE_HEADERS[status].answer, value });
    }
    return answers;
  }
}
