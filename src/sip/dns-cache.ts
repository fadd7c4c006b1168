/**
 * The DNS queries of RFC 3263 behind one small interface (tests answer them with a fake),
 * the system implementation (node:dns/promises), and a TTL cache in front of either.
 */
import { Resolver, lookup } from 'node:dns/promises';

export interface NaptrAnswer {
  order: number;
  preference: number;
  flags: string;
  service: string;
  regexp: string;
  replacement: string;
  ttl?: number;
}

export interface SrvAnswer {
  priority: number;
  weight: number;
  port: number;
  /** Target host name; "." (or empty) means the service is not offered (RFC 2782). */
  name: string;
  ttl?: number;
}

export interface AddressAnswer {
  address: string;
  ttl?: number;
}

export type AddressFamily = 4 | 6;

/**
 * The look-ups the resolver makes. A name without such records (NXDOMAIN, NODATA)
 * resolves to []; a rejection means the look-up itself failed (timeout, SERVFAIL).
 * `ttl` is in seconds and optional: node's NAPTR/SRV answers and getaddrinfo carry none.
 */
export interface DnsClient {
  naptr(name: string): Promise<NaptrAnswer[]>;
  srv(name: string): Promise<SrvAnswer[]>;
  addresses(name: string, family: AddressFamily): Promise<AddressAnswer[]>;
}

/** node:dns error codes that mean "no such name or record", as opposed to a failed look-up. */
const NO_RECORDS_CODES = new Set(['ENOTFOUND', 'ENODATA']);

async function emptyIfNoRecords<T>(query: Promise<T[]>): Promise<T[]> {
  try {
    return await query;
  } catch (err) {
    if (NO_RECORDS_CODES.has((err as NodeJS.ErrnoException).code ?? '')) return [];
    throw err;
  }
}

/**
 * NAPTR and SRV from the configured name servers; addresses through getaddrinfo, so that
 * /etc/hosts applies to a realm or proxy name as operators expect.
 */
export function systemDnsClient(
  resolver: Pick<Resolver, 'resolveNaptr' | 'resolveSrv'> = new Resolver({ timeout: 2000, tries: 2 }),
): DnsClient {
  return {
    naptr: (name) => emptyIfNoRecords(resolver.resolveNaptr(name)),
    srv: (name) => emptyIfNoRecords(resolver.resolveSrv(name)),
    addresses: async (name, family) =>
      (await emptyIfNoRecords(lookup(name, { all: true, family }))).map(({ address }) => ({ address })),
  };
}

export interface DnsCacheOptions {
  /** Floor and ceiling applied to record TTLs, seconds (defaults 5 and 3600). */
  minTtl?: number;
  maxTtl?: number;
  /** Lifetime of answers that carry no TTL, seconds (default 60). */
  defaultTtl?: number;
  /** Lifetime of "no such records" answers, seconds (default 30). */
  negativeTtl?: number;
  /** Answers kept; the least recently used goes first (default 1000). */
  maxEntries?: number;
  /** Clock in milliseconds (default Date.now). */
  now?: () => number;
}

interface CacheEntry {
  expiresAt: number;
  answer: readonly { ttl?: number }[];
}

/**
 * Caches another DnsClient's answers: positive ones for their smallest record TTL
 * (clamped), empty ones for `negativeTtl`; failed look-ups are not cached. Concurrent
 * look-ups of one name share one query, so a mass start asks the DNS once per name.
 */
export class CachingDnsClient implements DnsClient {
  private readonly entries = new Map<string, CacheEntry>();
  private readonly inFlight = new Map<string, Promise<readonly { ttl?: number }[]>>();
  private readonly options: Required<DnsCacheOptions>;

  constructor(
    private readonly inner: DnsClient,
    options: DnsCacheOptions = {},
  ) {
    this.options = { minTtl: 5, maxTtl: 3600, defaultTtl: 60, negativeTtl: 30, maxEntries: 1000, now: Date.now, ...options };
  }

  naptr(name: string): Promise<NaptrAnswer[]> {
    return this.cached(`NAPTR ${name.toLowerCase()}`, () => this.inner.naptr(name));
  }

  srv(name: string): Promise<SrvAnswer[]> {
    return this.cached(`SRV ${name.toLowerCase()}`, () => this.inner.srv(name));
  }

  addresses(name: string, family: AddressFamily): Promise<AddressAnswer[]> {
    return this.cached(`${family === 4 ? 'A' : 'AAAA'} ${name.toLowerCase()}`, () => this.inner.addresses(name, family));
  }

  /** Number of answers held (expired ones included until they are next asked for or evicted). */
  get size(): number {
    return this.entries.size;
  }

  private async cached<T extends { ttl?: number }>(key: string, query: () => Promise<T[]>): Promise<T[]> {
    const entry = this.entries.get(key);
    this.entries.delete(key);
    if (entry && entry.expiresAt > this.options.now()) {
      this.entries.set(key, entry);
      return [...entry.answer] as T[];
    }
    let pending = this.inFlight.get(key);
    if (!pending) {
      pending = this.queryAndStore(key, query).finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, pending);
    }
    return [...(await pending)] as T[];
  }

  private async queryAndStore<T extends { ttl?: number }>(key: string, query: () => Promise<T[]>): Promise<T[]> {
    const answer = await query();
    this.entries.set(key, { answer, expiresAt: this.options.now() + this.lifetimeSeconds(answer) * 1000 });
    if (this.entries.size > this.options.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
    return answer;
  }

  private lifetimeSeconds(answer: readonly { ttl?: number }[]): number {
    const { minTtl, maxTtl, defaultTtl, negativeTtl } = this.options;
    if (answer.length === 0) return negativeTtl;
    const ttls = answer.map((record) => record.ttl).filter((ttl): ttl is number => ttl !== undefined);
    const ttl = ttls.length > 0 ? Math.min(...ttls) : defaultTtl;
    return Math.min(maxTtl, Math.max(minTtl, ttl));
  }
}
