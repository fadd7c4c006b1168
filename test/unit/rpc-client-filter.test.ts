import { strict as assert } from 'node:assert';
import { ClientFilter } from '../../src/rpc/client-filter';

describe('rpc client filter (allowed_clients)', () => {
  it('allows everyone when the list is empty', () => {
    const filter = ClientFilter.fromCidrs([]);
    for (const address of ['127.0.0.1', '203.0.113.9', '::1', '::ffff:10.0.0.1']) assert.equal(filter.allows(address), true);
  });

  it('matches IPv4 CIDR blocks and single addresses', () => {
    const filter = ClientFilter.fromCidrs(['10.0.0.0/8', '192.0.2.7']);
    assert.equal(filter.allows('10.255.1.2'), true);
    assert.equal(filter.allows('11.0.0.1'), false);
    assert.equal(filter.allows('192.0.2.7'), true);
    assert.equal(filter.allows('192.0.2.8'), false);
  });

  it('matches IPv4 rules against IPv4-mapped IPv6 peers (dual-stack listener)', () => {
    const filter = ClientFilter.fromCidrs(['127.0.0.0/8']);
    assert.equal(filter.allows('::ffff:127.0.0.1'), true);
    assert.equal(filter.allows('::ffff:7f00:2'), true);
    assert.equal(filter.allows('::ffff:128.0.0.1'), false);
    assert.equal(filter.allows('::1'), false);
  });

  it('matches IPv6 CIDR blocks', () => {
    const filter = ClientFilter.fromCidrs(['2001:db8::/32', '::1']);
    assert.equal(filter.allows('2001:db8:ffff::1'), true);
    assert.equal(filter.allows('2001:db9::1'), false);
    assert.equal(filter.allows('::1'), true);
    assert.equal(filter.allows('127.0.0.1'), false);
  });

  it('treats a block given with host bits as the whole block, and /0 as everything of that family', () => {
    assert.equal(ClientFilter.fromCidrs(['10.1.2.3/8']).allows('10.200.0.1'), true);
    const any4 = ClientFilter.fromCidrs(['0.0.0.0/0']);
    assert.equal(any4.allows('198.51.100.1'), true);
    assert.equal(any4.allows('::ffff:198.51.100.1'), true);
    assert.equal(any4.allows('2001:db8::1'), false);
  });

  it('refuses a peer without a usable address once rules exist', () => {
    const filter = ClientFilter.fromCidrs(['127.0.0.1']);
    assert.equal(filter.allows(undefined), false);
    assert.equal(filter.allows('not-an-ip'), false);
  });

  it('rejects malformed entries', () => {
    for (const entry of ['10.0.0.0/33', 'example.com', '::1/129', '10.0.0.0/x', '1.2.3.4/']) {
      assert.throws(() => ClientFilter.fromCidrs([entry]), /allowed_clients/, entry);
    }
  });
});
