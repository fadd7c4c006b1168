import assert from 'node:assert/strict';
import {
  CachingDnsClient,
  systemDnsClient,
  type AddressAnswer,
  type AddressFamily,
  type DnsClient,
  type NaptrAnswer,
  type SrvAnswer,
} from '../../src/sip/dns-cache';
import { NextHopResolver, ResolutionError, orderSrvRecords, type NextHopResolverOptions, type NextHopTarget } from '../../src/sip/resolver';

interface Zone {
  naptr?: Record<string, NaptrAnswer[]>;
  srv?: Record<string, SrvAnswer[]>;
  a?: Record<string, string[]>;
  aaaa?: Record<string, string[]>;
  /** Queries ("SRV _sip._udp.example.com") that fail like a SERVFAIL. */
  failing?: string[];
}

/** Answers from a fixed zone and records every query asked. */
class FakeDns implements DnsClient {
  readonly queries: string[] = [];

  constructor(private readonly zone: Zone) {}

  naptr(name: string): Promise<NaptrAnswer[]> {
    return this.answer(`NAPTR ${name}`, this.zone.naptr?.[name]);
  }

  srv(name: string): Promise<SrvAnswer[]> {
    return this.answer(`SRV ${name}`, this.zone.srv?.[name]);
  }

  addresses(name: string, family: AddressFamily): Promise<AddressAnswer[]> {
    const records = family === 4 ? this.zone.a?.[name] : this.zone.aaaa?.[name];
    return this.answer(`${family === 4 ? 'A' : 'AAAA'} ${name}`, records?.map((address) => ({ address })));
  }

  private async answer<T>(query: string, records: T[] | undefined): Promise<T[]> {
    this.queries.push(query);
    if (this.zone.failing?.includes(query)) throw Object.assign(new Error(`${query}: SERVFAIL`), { code: 'ESERVFAIL' });
    return records ?? [];
  }
}

const naptr = (order: number, preference: number, service: string, replacement: string, flags = 's'): NaptrAnswer => ({
  order, preference, service, replacement, flags, regexp: '',
});
const srv = (priority: number, weight: number, port: number, name: string): SrvAnswer => ({ priority, weight, port, name });
const target = (transport: NextHopTarget['transport'], address: string, port: number): NextHopTarget => ({ transport, address, port });

function resolverOver(zone: Zone, options: NextHopResolverOptions = {}): {
  resolver: NextHopResolver;
  dns: FakeDns;
} {
  const dns = new FakeDns(zone);
  return { dns, resolver: new NextHopResolver({ dns, random: () => 0, ...options }) };
}

async function rejectsWith(promise: Promise<unknown>, message: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => err instanceof ResolutionError && message.test(err.message));
}

describe('next-hop resolver (RFC 3263)', () => {
  describe('IP literals and explicit ports: no NAPTR, no SRV', () => {
    it('goes straight to an IPv4 literal with UDP on 5060, asking no DNS', async () => {
      const { resolver, dns } = resolverOver({});
      assert.deepEqual(await resolver.resolve('sip:192.0.2.10'), [target('udp', '192.0.2.10', 5060)]);
      assert.deepEqual(dns.queries, []);
    });

    it('goes straight to an IPv6 reference, TLS on 5061 for sips:', async () => {
      const { resolver, dns } = resolverOver({});
      assert.deepEqual(await resolver.resolve('sip:[2001:db8::1]:5070'), [target('udp', '2001:db8::1', 5070)]);
      assert.deepEqual(await resolver.resolve('sips:[2001:db8::1]'), [target('tls', '2001:db8::1', 5061)]);
      assert.deepEqual(dns.queries, []);
    });

    it('honours the transport of the URI or, failing that, the preference', async () => {
      const { resolver } = resolverOver({});
      assert.deepEqual(await resolver.resolve('sip:192.0.2.10;transport=TCP', 'udp'), [target('tcp', '192.0.2.10', 5060)]);
      assert.deepEqual(await resolver.resolve('sip:192.0.2.10', 'tls'), [target('tls', '192.0.2.10', 5061)]);
      assert.deepEqual(await resolver.resolve('sips:192.0.2.10;transport=tcp'), [target('tls', '192.0.2.10', 5061)]);
    });

    it('gives the same answer for a literal hop asked again, per preferred transport; a caller cannot change it', async () => {
      const { resolver } = resolverOver({});
      const first = await resolver.resolve('sip:192.0.2.10', 'tcp');
      first.pop(); // the caller's array, not the remembered one
      assert.deepEqual(await resolver.resolve('sip:192.0.2.10', 'tcp'), [target('tcp', '192.0.2.10', 5060)]);
      assert.deepEqual(await resolver.resolve('sip:192.0.2.10'), [target('udp', '192.0.2.10', 5060)]);
      assert.deepEqual(await resolver.resolve('sip:192.0.2.10', 'tls'), [target('tls', '192.0.2.10', 5061)]);
      await rejectsWith(resolver.resolve('sips:192.0.2.10', 'udp'), /cannot use transport 'udp'/);
    });

    it('looks up only A/AAAA for a host name with a port', async () => {
      const { resolver, dns } = resolverOver({ a: { 'reg.example.com': ['192.0.2.1'] }, aaaa: { 'reg.example.com': ['2001:db8::5'] } });
      assert.deepEqual(await resolver.resolve('sip:reg.example.com:5080'), [
        target('udp', '192.0.2.1', 5080), target('udp', '2001:db8::5', 5080),
      ]);
      assert.deepEqual(dns.queries, ['A reg.example.com', 'AAAA reg.example.com']);
    });

    it('uses maddr as the target when present', async () => {
      const { resolver, dns } = resolverOver({});
      assert.deepEqual(await resolver.resolve('sip:proxy.example.com;maddr=192.0.2.99;lr'), [target('udp', '192.0.2.99', 5060)]);
      assert.deepEqual(dns.queries, []);
    });
  });

  describe('NAPTR', () => {
    const zone: Zone = {
      naptr: {
        'example.com': [
          naptr(20, 10, 'SIPS+D2T', '_sips._tcp.example.com'),
          naptr(10, 20, 'SIP+D2U', '_sip._udp.example.com'),
          naptr(10, 10, 'SIP+D2T', '_sip._tcp.example.com'),
          naptr(5, 10, 'E2U+sip', 'ignored.example.com'),
          naptr(5, 10, 'SIP+D2U', 'ignored-flag.example.com', 'u'),
        ],
      },
      srv: {
        '_sip._tcp.example.com': [srv(10, 0, 5060, 'tcp.example.com')],
        '_sip._udp.example.com': [srv(10, 0, 5062, 'udp.example.com')],
        '_sips._tcp.example.com': [srv(10, 0, 5061, 'tls.example.com')],
      },
      a: { 'tcp.example.com': ['192.0.2.1'], 'udp.example.com': ['192.0.2.2'], 'tls.example.com': ['192.0.2.3'] },
    };

    it('follows supported "s" records by order then preference, each through SRV to addresses', async () => {
      const { resolver, dns } = resolverOver(zone, { families: [4] });
      assert.deepEqual(await resolver.resolve('sip:example.com'), [
        target('tcp', '192.0.2.1', 5060), target('udp', '192.0.2.2', 5062), target('tls', '192.0.2.3', 5061),
      ]);
      assert.equal(dns.queries[0], 'NAPTR example.com');
      assert.ok(!dns.queries.some((q) => q.includes('ignored')), 'unsupported services and flags are not followed');
    });

    it('keeps only SIPS+D2T for a sips: URI', async () => {
      const { resolver } = resolverOver(zone, { families: [4] });
      assert.deepEqual(await resolver.resolve('sips:example.com'), [target('tls', '192.0.2.3', 5061)]);
    });

    it('keeps only the transports we support', async () => {
      const { resolver } = resolverOver(zone, { families: [4], transports: ['udp'] });
      assert.deepEqual(await resolver.resolve('sip:example.com'), [target('udp', '192.0.2.2', 5062)]);
    });

    it('skips NAPTR when a transport is explicit, asking that transport\'s SRV only', async () => {
      const { resolver, dns } = resolverOver(zone, { families: [4] });
      assert.deepEqual(await resolver.resolve('sip:example.com', 'udp'), [target('udp', '192.0.2.2', 5062)]);
      assert.deepEqual(dns.queries, ['SRV _sip._udp.example.com', 'A udp.example.com']);
    });

    it('falls back to SRV when the NAPTR look-up fails', async () => {
      const { resolver } = resolverOver({ ...zone, failing: ['NAPTR example.com'] }, { families: [4] });
      assert.deepEqual(await resolver.resolve('sip:example.com'), [
        target('udp', '192.0.2.2', 5062), target('tcp', '192.0.2.1', 5060), target('tls', '192.0.2.3', 5061),
      ]);
    });
  });

  describe('SRV without NAPTR', () => {
    it('queries _sip._udp, _sip._tcp and _sips._tcp and lists them in our transport preference', async () => {
      const { resolver, dns } = resolverOver({
        srv: {
          '_sip._tcp.example.net': [srv(10, 0, 5070, 'b.example.net')],
          '_sip._udp.example.net': [srv(20, 0, 5060, 'a.example.net'), srv(10, 0, 5060, 'b.example.net')],
        },
        a: { 'a.example.net': ['198.51.100.1'], 'b.example.net': ['198.51.100.2'] },
      }, { families: [4] });
      assert.deepEqual(await resolver.resolve('sip:example.net'), [
        target('udp', '198.51.100.2', 5060), target('udp', '198.51.100.1', 5060), target('tcp', '198.51.100.2', 5070),
      ]);
      assert.deepEqual(dns.queries.slice(0, 4), [
        'NAPTR example.net', 'SRV _sip._udp.example.net', 'SRV _sip._tcp.example.net', 'SRV _sips._tcp.example.net',
      ]);
    });

    it('asks _sips._tcp for TLS, also for a sip: URI', async () => {
      const { resolver, dns } = resolverOver({
        srv: { '_sips._tcp.example.net': [srv(1, 0, 5081, 'tls.example.net')] },
        a: { 'tls.example.net': ['198.51.100.9'] },
      }, { families: [4] });
      assert.deepEqual(await resolver.resolve('sip:example.net;transport=tls'), [target('tls', '198.51.100.9', 5081)]);
      assert.deepEqual(dns.queries, ['SRV _sips._tcp.example.net', 'A tls.example.net']);
    });

    it('skips a "." target (service not offered) and drops duplicate targets', async () => {
      const { resolver, dns } = resolverOver({
        srv: { '_sip._udp.example.net': [srv(1, 0, 5060, '.'), srv(2, 0, 5060, 'a.example.net'), srv(3, 0, 5060, 'a.example.net')] },
        a: { 'a.example.net': ['198.51.100.1'] },
      }, { families: [4] });
      assert.deepEqual(await resolver.resolve('sip:example.net'), [target('udp', '198.51.100.1', 5060)]);
      assert.ok(!dns.queries.includes('A .'), 'no address look-up for "."');
    });

    it('lists addresses in family preference order', async () => {
      const { resolver } = resolverOver({
        a: { 'example.org': ['192.0.2.1'] }, aaaa: { 'example.org': ['2001:db8::1'] },
      }, { families: [6, 4] });
      assert.deepEqual(await resolver.resolve('sip:example.org'), [
        target('udp', '2001:db8::1', 5060), target('udp', '192.0.2.1', 5060),
      ]);
    });
  });

  describe('A/AAAA fallback', () => {
    it('uses the host with UDP on 5060 when there are no NAPTR and no SRV records', async () => {
      const { resolver, dns } = resolverOver({ a: { 'example.org': ['192.0.2.1'] } }, { families: [4] });
      assert.deepEqual(await resolver.resolve('sip:example.org'), [target('udp', '192.0.2.1', 5060)]);
      assert.deepEqual(dns.queries.at(-1), 'A example.org');
    });

    it('uses TLS on 5061 for a sips: URI', async () => {
      const { resolver, dns } = resolverOver({ a: { 'example.org': ['192.0.2.1'] } }, { families: [4] });
      assert.deepEqual(await resolver.resolve('sips:example.org'), [target('tls', '192.0.2.1', 5061)]);
      assert.ok(!dns.queries.includes('SRV _sip._udp.example.org'), 'no SIP-only SRV for a sips: URI');
    });

    it('uses the explicit transport at its default port', async () => {
      const { resolver } = resolverOver({ a: { 'example.org': ['192.0.2.1'] } }, { families: [4] });
      assert.deepEqual(await resolver.resolve('sip:example.org;transport=tcp'), [target('tcp', '192.0.2.1', 5060)]);
    });
  });

  describe('errors', () => {
    it('rejects a URI that is not SIP, a name with no records, and impossible transports', async () => {
      const { resolver } = resolverOver({}, { transports: ['udp', 'tcp'] });
      await rejectsWith(resolver.resolve('tel:+15551234'), /not a SIP URI/);
      await rejectsWith(resolver.resolve('sip:nowhere.invalid'), /no address found for 'sip:nowhere.invalid'/);
      await rejectsWith(resolver.resolve('sip:192.0.2.1;transport=sctp'), /transport 'sctp' is not available/);
      await rejectsWith(resolver.resolve('sip:192.0.2.1', 'tls'), /transport 'tls' is not available/);
      await rejectsWith(resolver.resolve('sips:192.0.2.1'), /no transport available for a sips: URI/);
    });

    it('rejects a sips: URI over UDP', async () => {
      const { resolver } = resolverOver({});
      await rejectsWith(resolver.resolve('sips:192.0.2.1;transport=udp'), /sips: URI cannot use transport 'udp'/);
    });

    it('still tries the other branches when one look-up fails', async () => {
      const { resolver } = resolverOver({
        failing: ['SRV _sip._udp.example.org'], a: { 'example.org': ['192.0.2.1'] },
      }, { families: [4] });
      assert.deepEqual(await resolver.resolve('sip:example.org'), [target('udp', '192.0.2.1', 5060)]);
    });
  });

  describe('transport failures (never failing other accounts)', () => {
    const zone: Zone = {
      srv: { '_sip._udp.example.com': [srv(10, 0, 5060, 'a.example.com'), srv(20, 0, 5060, 'b.example.com')] },
      a: { 'a.example.com': ['192.0.2.1'], 'b.example.com': ['192.0.2.2'] },
    };
    const first = target('udp', '192.0.2.1', 5060);
    const second = target('udp', '192.0.2.2', 5060);

    it('moves a target that failed at transport level behind the others for new requests', async () => {
      const { resolver } = resolverOver(zone, { families: [4], transports: ['udp'] });
      resolver.reportTransportFailure(first);
      assert.deepEqual(await resolver.resolve('sip:example.com'), [second, first]);
    });

    it('keeps offering a lone target after its transport failure', async () => {
      const { resolver } = resolverOver({});
      const only = target('udp', '192.0.2.7', 5060);
      resolver.reportTransportFailure(only);
      assert.deepEqual(await resolver.resolve('sip:192.0.2.7'), [only]);
    });

    it('restores the order once the hold time has passed or the target answered', async () => {
      let now = 1_000_000;
      const { resolver } = resolverOver(zone, { families: [4], transports: ['udp'], transportFailureHoldMs: 30_000, now: () => now });
      resolver.reportTransportFailure(first);
      now += 29_999;
      assert.deepEqual(await resolver.resolve('sip:example.com'), [second, first]);
      now += 1;
      assert.deepEqual(await resolver.resolve('sip:example.com'), [first, second]);
      resolver.reportTransportFailure(first);
      resolver.reportReachable(first);
      assert.deepEqual(await resolver.resolve('sip:example.com'), [first, second]);
    });

    it('holds only the failed transport/address/port', async () => {
      const { resolver } = resolverOver(zone, { families: [4], transports: ['udp'] });
      resolver.reportTransportFailure(target('tcp', '192.0.2.1', 5060));
      resolver.reportTransportFailure(target('udp', '192.0.2.1', 5070));
      assert.deepEqual(await resolver.resolve('sip:example.com'), [first, second]);
    });
  });

  describe('RFC 2782 SRV ordering', () => {
    it('orders by ascending priority', () => {
      const ordered = orderSrvRecords([srv(30, 5, 1, 'c'), srv(10, 5, 1, 'a'), srv(20, 5, 1, 'b')], Math.random);
      assert.deepEqual(ordered.map((r) => r.name), ['a', 'b', 'c']);
    });

    it('draws by weight inside a priority, zero-weight records keeping a small chance', () => {
      const records = [srv(10, 90, 1, 'heavy'), srv(10, 0, 1, 'zero'), srv(10, 10, 1, 'light')];
      const firstPicks = new Map<string, number>();
      for (let i = 0; i < 1000; i++) {
        const name = orderSrvRecords(records, () => i / 1000)[0].name;
        firstPicks.set(name, (firstPicks.get(name) ?? 0) + 1);
      }
      // thresholds 0..100 are drawn uniformly: 0 → zero, 1..90 → heavy, 91..100 → light
      assert.equal(firstPicks.get('zero'), 10);
      assert.equal(firstPicks.get('heavy'), 891);
      assert.equal(firstPicks.get('light'), 99);
    });

    it('returns every record exactly once', () => {
      const records = [srv(1, 3, 1, 'a'), srv(1, 0, 1, 'b'), srv(1, 7, 1, 'c'), srv(2, 1, 1, 'd')];
      const ordered = orderSrvRecords(records, () => 0.999);
      assert.deepEqual(ordered.map((r) => r.name).sort(), ['a', 'b', 'c', 'd']);
      assert.equal(ordered[3].name, 'd');
      assert.equal(ordered[0].name, 'c', 'the top of the range picks the last of the pool');
    });
  });

  describe('CachingDnsClient', () => {
    /** A DnsClient whose answers are set per test, counting the queries that reach it. */
    function countingDns(answer: (query: string) => Promise<AddressAnswer[]>): { dns: DnsClient; asked: string[] } {
      const asked: string[] = [];
      const ask = (query: string): Promise<never[]> => {
        asked.push(query);
        return answer(query) as Promise<never[]>;
      };
      return {
        asked,
        dns: { naptr: (name) => ask(`NAPTR ${name}`), srv: (name) => ask(`SRV ${name}`), addresses: (name, family) => ask(`${family} ${name}`) },
      };
    }

    function cacheWith(answer: (query: string) => Promise<AddressAnswer[]>, options: ConstructorParameters<typeof CachingDnsClient>[1] = {}) {
      const clock = { now: 0 };
      const { dns, asked } = countingDns(answer);
      return { cache: new CachingDnsClient(dns, { now: () => clock.now, ...options }), asked, clock };
    }

    it('serves an answer for its TTL, then asks again', async () => {
      const { cache, asked, clock } = cacheWith(async () => [{ address: '192.0.2.1', ttl: 20 }, { address: '192.0.2.2', ttl: 10 }]);
      await cache.addresses('h', 4);
      clock.now = 9_999;
      assert.deepEqual(await cache.addresses('h', 4), [{ address: '192.0.2.1', ttl: 20 }, { address: '192.0.2.2', ttl: 10 }]);
      assert.equal(asked.length, 1, 'the smallest TTL (10 s) has not passed');
      clock.now = 10_000;
      await cache.addresses('h', 4);
      assert.equal(asked.length, 2);
    });

    it('clamps TTLs between the floor and the ceiling and gives TTL-less answers the default', async () => {
      const ttls: Record<string, number | undefined> = { '4 short': 1, '4 long': 999_999, '4 none': undefined };
      const { cache, asked, clock } = cacheWith(async (q) => [{ address: '192.0.2.1', ttl: ttls[q] }], {
        minTtl: 5, maxTtl: 100, defaultTtl: 50,
      });
      const askAll = () => Promise.all(['short', 'long', 'none'].map((name) => cache.addresses(name, 4)));
      await askAll();
      clock.now = 4_999;
      await askAll();
      assert.equal(asked.length, 3, 'nothing expires before the floor');
      clock.now = 5_000;
      await askAll();
      assert.deepEqual(asked.slice(3), ['4 short']);
      clock.now = 5_000 + 50_000;
      await askAll();
      assert.deepEqual(asked.slice(4), ['4 short', '4 none']);
      clock.now = 100_000;
      await askAll();
      assert.ok(asked.slice(6).includes('4 long'), 'the ceiling applies');
    });

    it('caches "no records" for the negative TTL', async () => {
      const { cache, asked, clock } = cacheWith(async () => [], { negativeTtl: 30 });
      assert.deepEqual(await cache.srv('_sip._udp.nowhere'), []);
      clock.now = 29_999;
      await cache.srv('_sip._udp.nowhere');
      assert.equal(asked.length, 1);
      clock.now = 30_000;
      await cache.srv('_sip._udp.nowhere');
      assert.equal(asked.length, 2);
    });

    it('does not cache failed look-ups', async () => {
      const { cache, asked } = cacheWith(() => Promise.reject(Object.assign(new Error('timeout'), { code: 'ETIMEOUT' })));
      await assert.rejects(cache.naptr('example.com'), /timeout/);
      await assert.rejects(cache.naptr('example.com'), /timeout/);
      assert.equal(asked.length, 2);
    });

    it('shares one query among concurrent look-ups of a name', async () => {
      let release: (answer: AddressAnswer[]) => void = () => undefined;
      const { cache, asked } = cacheWith(() => new Promise((resolve) => { release = resolve; }));
      const lookups = [cache.addresses('h', 4), cache.addresses('H', 4), cache.addresses('h', 4)];
      release([{ address: '192.0.2.1' }]);
      const answers = await Promise.all(lookups);
      assert.equal(asked.length, 1);
      assert.deepEqual(answers, [[{ address: '192.0.2.1' }], [{ address: '192.0.2.1' }], [{ address: '192.0.2.1' }]]);
    });

    it('keeps separate entries per record type and family', async () => {
      const { cache, asked } = cacheWith(async () => [{ address: '192.0.2.1' }]);
      await Promise.all([cache.addresses('h', 4), cache.addresses('h', 6), cache.srv('h'), cache.naptr('h')]);
      assert.equal(asked.length, 4);
    });

    it('holds at most maxEntries answers, forgetting the least recently used', async () => {
      const { cache, asked } = cacheWith(async () => [{ address: '192.0.2.1' }], { maxEntries: 2 });
      await cache.addresses('a', 4);
      await cache.addresses('b', 4);
      await cache.addresses('a', 4); // a is now the most recently used
      await cache.addresses('c', 4); // evicts b
      assert.equal(cache.size, 2);
      await cache.addresses('a', 4);
      assert.deepEqual(asked, ['4 a', '4 b', '4 c']);
      await cache.addresses('b', 4);
      assert.deepEqual(asked, ['4 a', '4 b', '4 c', '4 b']);
    });

    it('hands out copies, so a caller cannot alter the cached answer', async () => {
      const { cache } = cacheWith(async () => [{ address: '192.0.2.1' }]);
      (await cache.addresses('h', 4)).pop();
      assert.equal((await cache.addresses('h', 4)).length, 1);
    });
  });

  describe('system DNS client', () => {
    const failingWith = (code: string) => () => Promise.reject(Object.assign(new Error(code), { code }));

    it('turns NXDOMAIN and NODATA into no records, and passes other failures on', async () => {
      const notFound = systemDnsClient({ resolveNaptr: failingWith('ENOTFOUND'), resolveSrv: failingWith('ENODATA') });
      assert.deepEqual(await notFound.naptr('example.invalid'), []);
      assert.deepEqual(await notFound.srv('_sip._udp.example.invalid'), []);
      const broken = systemDnsClient({ resolveNaptr: failingWith('ESERVFAIL'), resolveSrv: failingWith('ETIMEOUT') });
      await assert.rejects(broken.naptr('example.com'), /ESERVFAIL/);
      await assert.rejects(broken.srv('_sip._udp.example.com'), /ETIMEOUT/);
    });

    it('resolves loopback through the real system resolver (/etc/hosts, no network)', async () => {
      const resolver = new NextHopResolver({ families: [4] });
      assert.deepEqual(await resolver.resolve('sip:127.0.0.1'), [target('udp', '127.0.0.1', 5060)]);
      const viaHosts = await resolver.resolve('sip:localhost:5070;transport=tcp');
      assert.deepEqual(viaHosts[0], target('tcp', '127.0.0.1', 5070));
      assert.ok(viaHosts.every((t) => t.address.startsWith('127.')), JSON.stringify(viaHosts));
    });
  });
});
