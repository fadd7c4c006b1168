import assert from 'node:assert/strict';
import { parseCSeq } from '../../src/sip/message/cseq';
import { BRANCH_MAGIC_COOKIE, formatHostPort, formatVia, newBranch, parseVia } from '../../src/sip/message/via';

describe('SIP messages: Via (RFC 3261 §20.42, §8.1.1.7) and CSeq (§20.16)', () => {
  it('formats our Via with transport, sent-by, branch and rport', () => {
    assert.equal(formatVia('UDP', '192.0.2.1', 5060, 'z9hG4bKx'), 'SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKx;rport');
    assert.equal(formatVia('TLS', '2001:db8::1', 5061, 'z9hG4bKy'), 'SIP/2.0/TLS [2001:db8::1]:5061;branch=z9hG4bKy;rport');
    assert.equal(formatHostPort('registrar.example.com', 5060), 'registrar.example.com:5060');
  });

  it('makes a fresh branch with the magic cookie every time', () => {
    const branches = new Set(Array.from({ length: 1000 }, newBranch));
    assert.equal(branches.size, 1000);
    for (const branch of branches) assert.match(branch, new RegExp(`^${BRANCH_MAGIC_COOKIE}[0-9a-f]{32}$`));
  });

  it('reads a Via: transport, host, port and parameters', () => {
    const via = parseVia('SIP/2.0/udp 192.0.2.1:5060;branch=z9hG4bKx;rport=40000;received=198.51.100.9');
    assert.deepEqual(via && { ...via, params: Object.fromEntries(via.params) }, {
      transport: 'UDP', host: '192.0.2.1', port: 5060,
      params: { branch: 'z9hG4bKx', rport: '40000', received: '198.51.100.9' },
    });
  });

  it('reads IPv6 sent-by, flag parameters, no port and white space around separators', () => {
    const v6 = parseVia('SIP/2.0/TCP [::1]:5061;rport;branch=z9hG4bKv6;received=::1');
    assert.equal(v6?.host, '[::1]');
    assert.equal(v6?.port, 5061);
    assert.equal(v6?.params.get('rport'), null);
    assert.equal(v6?.params.get('received'), '::1');
    const spaced = parseVia('SIP / 2.0 / UDP  host.example.com ; BRANCH = z9hG4bKs ; rport');
    assert.equal(spaced?.host, 'host.example.com');
    assert.equal(spaced?.port, undefined);
    assert.equal(spaced?.params.get('branch'), 'z9hG4bKs');
  });

  it('returns undefined for a malformed Via', () => {
    for (const bad of ['', 'SIP/2.0 1.2.3.4', 'SIP/1.0/UDP 1.2.3.4', 'SIP/2.0/UDP', 'SIP/2.0/UDP 1.2.3.4:port', 'SIP/2.0/UDP 1.2.3.4;=x']) {
      assert.equal(parseVia(bad), undefined, bad);
    }
  });

  it('reads a CSeq and refuses malformed ones or numbers from 2**31', () => {
    assert.deepEqual(parseCSeq(' 50  REGISTER '), { seq: 50, method: 'REGISTER' });
    assert.deepEqual(parseCSeq('2147483647 REGISTER'), { seq: 2 ** 31 - 1, method: 'REGISTER' });
    for (const bad of ['', 'REGISTER', '50', '-1 REGISTER', '2147483648 REGISTER', '5 REG ISTER', '5 REGISTER;x']) {
      assert.equal(parseCSeq(bad), undefined, bad);
    }
  });
});
