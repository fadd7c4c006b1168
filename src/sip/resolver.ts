/**
 * Next-hop selection, RFC 3263 §4 (SRV ordering per RFC 2782): the ordered list of
 * {transport, address, port} to try for a SIP URI, plus a memory of targets that failed
 * at transport level, shared by all registrations.
 *
 * Failover (RFC 3263 §4.3) is the caller's: it tries the targets in order, moving on
 * after a timeout, a 503 or a transport error. Only a transport error is reported back
 * (`reportTransportFailure`), and it only moves that target behind the others for a while;
 * a target is never dropped, so a lone next hop is still tried. A 503 or a timeout
 * answered to one account thus never fails another (SEMS does, SPEC §8).
 */
import { logger } from '../process/log';
import { CachingDnsClient, systemDnsClient, type AddressFamily, type DnsClient, type SrvAnswer } from './dns-cache';
import { ipLiteral, parseSipUri, type SipUri } from './uri';

export type SipTransport = 'udp' | 'tcp' | 'tls';

export interface NextHopTarget {
  transport: SipTransport;
  address: string;
  port: number;
}

export class ResolutionError extends Error {
  override readonly name = 'ResolutionError';
}

const log = logger('sip-resolver');

const DEFAULT_PORT: Readonly<Record<SipTransport, number>> = { udp: 5060, tcp: 5060, tls: 5061 };

/** RFC 3263 §4.1 NAPTR services (upper-cased) and their transports. */
const NAPTR_SERVICES: ReadonlyMap<string, SipTransport> = new Map([
  ['SIP+D2U', 'udp'],
  ['SIP+D2T', 'tcp'],
  ['SIPS+D2T', 'tls'],
] as const);

/** RFC 3263 §4.2 SRV service and protocol labels; TLS uses `_sips` whatever the URI scheme. */
const SRV_PREFIX: Readonly<Record<SipTransport, string>> = { udp: '_sip._udp', tcp: '_sip._tcp', tls: '_sips._tcp' };

/**
 * RFC 2782 ordering: ascending priority; inside a priority, a weighted random draw
 * (weight-0 records first in the pool, so they keep a small chance against heavier ones).
 * `random` returns a number in [0, 1).
 */
export function orderSrvRecords(records: readonly SrvAnswer[], random: () => number): SrvAnswer[] {
  const priorities = [...new Set(records.map((record) => record.priority))].sort((a, b) => a - b);
  return priorities.flatMap((priority) => {
    const group = records.filter((record) => record.priority === priority);
    const pool = [...group.filter((record) => record.weight === 0), ...group.filter((record) => record.weight > 0)];
    const ordered: SrvAnswer[] = [];
    while (pool.length > 0) {
      const threshold = Math.floor(random() * (pool.reduce((sum, record) => sum + record.weight, 0) + 1));
      let runningSum = 0;
      const index = pool.findIndex((record) => (runningSum += record.weight) >= threshold);
      ordered.push(...pool.splice(index, 1));
    }
    return ordered;
  });
}

function targetKey({ transport, address, port }: NextHopTarget): string {
  return `${transport} [${address}]:${port}`;
}

/** Transport failures, per target: such a target is tried after the others until `holdMs` has passed. */
class TransportFailures {
  private readonly failedAt = new Map<string, number>();

  constructor(
    private readonly holdMs: number,
    private readonly now: () => number,
    private readonly capacity = 1000,
  ) {}

  record(target: NextHopTarget): void {
    const key = targetKey(target);
    this.failedAt.delete(key);
    this.failedAt.set(key, this.now());
    if (this.failedAt.size > this.capacity) this.failedAt.delete(this.failedAt.keys().next().value as string);
  }

  clear(target: NextHopTarget): void {
    if (this.failedAt.size > 0) this.failedAt.delete(targetKey(target)); // called for every reply
  }

  /** Stable: healthy targets in their order, then the recently failed ones in theirs. */
  order(targets: readonly NextHopTarget[]): NextHopTarget[] {
    if (this.failedAt.size === 0) return [...targets]; // the usual case, asked once per request
    const failed = targets.filter((target) => this.isHeld(target));
    return [...targets.filter((target) => !failed.includes(target)), ...failed];
  }

  private isHeld(target: NextHopTarget): boolean {
    const key = targetKey(target);
    const at = this.failedAt.get(key);
    if (at === undefined) return false;
    if (this.now() - at < this.holdMs) return true;
    this.failedAt.delete(key);
    return false;
  }
}

export interface NextHopResolverOptions {
  /** DNS look-ups (default: the system's, behind a CachingDnsClient). */
  dns?: DnsClient;
  /** Transports we can send on, in order of preference (default udp, tcp, tls). */
  transports?: readonly SipTransport[];
  /** Address families to look up, in order of preference (default IPv4, then IPv6). */
  families?: readonly AddressFamily[];
  /** How long a transport failure moves a target behind the others, ms (default 30000). */
  transportFailureHoldMs?: number;
  /** For tests: [0, 1) source for the SRV weighting and the clock in ms. */
  random?: () => number;
  now?: () => number;
}

/** Distinct IP-literal hops remembered at most (one per registrar/proxy in practice). */
const MAX_REMEMBERED_LITERAL_HOPS = 1024;

export class NextHopResolver {
  private readonly dns: DnsClient;
  private readonly transports: readonly SipTransport[];
  private readonly families: readonly AddressFamily[];
  private readonly random: () => number;
  private readonly failures: TransportFailures;
  /** `uri preferredTransport` → targets, for hops given as IP addresses. */
  private readonly literalTargets = new Map<string, NextHopTarget[]>();

  constructor(options: NextHopResolverOptions = {}) {
    this.dns = options.dns ?? new CachingDnsClient(systemDnsClient());
    this.transports = options.transports ?? ['udp', 'tcp', 'tls'];
    this.families = options.families ?? [4, 6];
    this.random = options.random ?? Math.random;
    this.failures = new TransportFailures(options.transportFailureHoldMs ?? 30_000, options.now ?? Date.now);
  }

  /**
   * The targets for `uri` (the outbound proxy, else `sip:<realm>`), best first.
   * `preferredTransport` (the `;transport=` of our Contact) applies when the URI names
   * none. Rejects with ResolutionError when there is nothing to try.
   */
  async resolve(uri: string, preferredTransport?: string): Promise<NextHopTarget[]> {
    const memoKey = `${uri} ${preferredTransport ?? ''}`;
    const known = this.literalTargets.get(memoKey);
    if (known) return this.failures.order(known);
    const parsed = parseSipUri(uri);
    if (!parsed) throw new ResolutionError(`not a SIP URI: '${uri}'`);
    const targets = await this.targetsFor(parsed, this.explicitTransport(parsed, preferredTransport));
    const unique = [...new Map(targets.map((target) => [targetKey(target), target])).values()];
    if (unique.length === 0) throw new ResolutionError(`no address found for '${uri}'`);
    if (ipLiteral(parsed.params.get('maddr') ?? parsed.host) !== undefined) this.rememberLiteral(memoKey, unique);
    return this.failures.order(unique);
  }

  /**
   * Targets of a hop given as an IP address never change (no DNS): kept, so that the
   * requests of thousands of accounts behind one registrar do not work them out again.
   */
  private rememberLiteral(memoKey: string, targets: NextHopTarget[]): void {
    if (this.literalTargets.size >= MAX_REMEMBERED_LITERAL_HOPS) this.literalTargets.clear();
    this.literalTargets.set(memoKey, targets);
  }

  /** A transport-level failure (send error, connection refused, TLS failure): try `target` last for a while. */
  reportTransportFailure(target: NextHopTarget): void {
    this.failures.record(target);
  }

  /** A reply came from `target`: any earlier transport failure is forgotten. */
  reportReachable(target: NextHopTarget): void {
    this.failures.clear(target);
  }

  /** RFC 3263 §4.1: the URI's transport parameter, else the preference; a SIPS URI means TLS. */
  private explicitTransport(uri: SipUri, preferred: string | undefined): SipTransport | undefined {
    const requested = (uri.params.get('transport') ?? preferred)?.toLowerCase();
    if (requested === undefined) return undefined;
    const transport = uri.scheme === 'sips' && requested === 'tcp' ? 'tls' : requested;
    if (!this.transports.includes(transport as SipTransport)) {
      throw new ResolutionError(`transport '${requested}' is not available`);
    }
    if (uri.scheme === 'sips' && transport !== 'tls') {
      throw new ResolutionError(`a sips: URI cannot use transport '${requested}'`);
    }
    return transport as SipTransport;
  }

  /** Transports that may carry a request to `uri`, in preference order (RFC 3263 §4.1: SIPS only over TLS). */
  private candidateTransports(uri: SipUri): SipTransport[] {
    return this.transports.filter((transport) => uri.scheme === 'sip' || transport === 'tls');
  }

  private async targetsFor(uri: SipUri, explicit: SipTransport | undefined): Promise<NextHopTarget[]> {
    const host = uri.params.get('maddr') ?? uri.host; // RFC 3263 §4: maddr, when present, is the TARGET
    const fallbackTransport = explicit ?? this.candidateTransports(uri)[0];
    if (fallbackTransport === undefined) throw new ResolutionError('no transport available for a sips: URI');
    const address = ipLiteral(host);
    // §4.1/§4.2: an IP address or an explicit port: no NAPTR, no SRV.
    if (address !== undefined) {
      return [{ transport: fallbackTransport, address, port: uri.port ?? DEFAULT_PORT[fallbackTransport] }];
    }
    if (uri.port !== undefined) return this.addressTargets(host, fallbackTransport, uri.port);
    // §4.1: an explicit transport skips NAPTR; otherwise NAPTR decides, if the domain has any.
    const viaNaptr = explicit ? [] : await this.naptrTargets(host, uri);
    if (viaNaptr.length > 0) return viaNaptr;
    const srvTransports = explicit ? [explicit] : this.candidateTransports(uri);
    const viaSrv = (
      await Promise.all(srvTransports.map((transport) => this.srvTargets(`${SRV_PREFIX[transport]}.${host}`, transport)))
    ).flat();
    // §4.2: no SRV records either: A/AAAA of the host at the default port.
    return viaSrv.length > 0 ? viaSrv : this.addressTargets(host, fallbackTransport, DEFAULT_PORT[fallbackTransport]);
  }

  /**
   * §4.1: NAPTR records with flag "s" and a service we support (only SIPS+D2T for a
   * SIPS URI), by order then preference; each replacement is an SRV name. Records of a
   * higher order come after, as failover targets.
   */
  private async naptrTargets(host: string, uri: SipUri): Promise<NextHopTarget[]> {
    const candidates = this.candidateTransports(uri);
    const usable = (await this.lookUp(`NAPTR ${host}`, () => this.dns.naptr(host)))
      .map((record) => ({ record, transport: NAPTR_SERVICES.get(record.service.toUpperCase()) }))
      .filter(({ record, transport }) => record.flags.toLowerCase() === 's' && transport && candidates.includes(transport))
      .sort((a, b) => a.record.order - b.record.order || a.record.preference - b.record.preference);
    const perRecord = await Promise.all(
      usable.map(({ record, transport }) => this.srvTargets(record.replacement, transport as SipTransport)),
    );
    return perRecord.flat();
  }

  /** SRV records of `name` in RFC 2782 order, each expanded to its addresses. */
  private async srvTargets(name: string, transport: SipTransport): Promise<NextHopTarget[]> {
    const records = (await this.lookUp(`SRV ${name}`, () => this.dns.srv(name))).filter(
      (record) => record.name !== '' && record.name !== '.',
    );
    const perRecord = await Promise.all(
      orderSrvRecords(records, this.random).map((record) => this.addressTargets(record.name, transport, record.port)),
    );
    return perRecord.flat();
  }

  /** A and/or AAAA records of `host`, in family preference order. */
  private async addressTargets(host: string, transport: SipTransport, port: number): Promise<NextHopTarget[]> {
    const perFamily = await Promise.all(
      this.families.map((family) => this.lookUp(`${family === 4 ? 'A' : 'AAAA'} ${host}`, () => this.dns.addresses(host, family))),
    );
    return perFamily.flat().map(({ address }) => ({ transport, address, port }));
  }

  /** A failed look-up counts as no records, so the other branches still get their chance. */
  private async lookUp<T>(what: string, query: () => Promise<T[]>): Promise<T[]> {
    try {
      return await query();
    } catch (err) {
      log.debug(`DNS look-up ${what} failed: ${(err as Error).message}`);
      return [];
    }
  }
}
