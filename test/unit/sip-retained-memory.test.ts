/**
 * What the SIP layer keeps for a registration's life must not pin the reply it was cut
 * from: V8 substrings are views into their parent string (src/sip/header-syntax.ts
 * detached()). Found by the memory run of bench/sip-register.ts: each remembered
 * nonce held its whole 401 alive, 2.7 kB per account after four registrations.
 */
import assert from 'node:assert/strict';
import { NonceCounter } from '../../src/sip/digest';
import { detached } from '../../src/sip/header-syntax';
import { randomHex } from '../../src/sip/random-token';
import { liveHeapBytes } from '../support/heap';

/** A unique 100 kB "reply" and a nonce cut out of it, as a parser would. */
function nonceCutFromBigReply(): string {
  const reply = `WWW-Authenticate: Digest nonce="${randomHex(16)}"\r\nX-Padding: ${'p'.repeat(100_000)}`;
  return reply.slice(32, 64);
}

describe('SIP layer: kept strings do not pin the received message', () => {
  it('detached() returns an equal string, also with non-ASCII text', () => {
    for (const text of ['', 'OK', 'Überweisung «ok» ✓', 'sip:alice@example.com;expires=60']) assert.equal(detached(text), text);
  });

  it('detached() strings of every length up to 40 keep nothing of a 100 kB reply (short ones are copies already)', () => {
    const before = liveHeapBytes();
    const kept: string[] = [];
    for (let length = 1; length <= 40; length++) {
      for (let i = 0; i < 12; i++) kept.push(detached(nonceCutFromBigReply().slice(0, length)));
    }
    const grown = liveHeapBytes() - before;
    assert.ok(grown < 5_000_000, `${(grown / 1e6).toFixed(1)} MB kept for ${kept.length} strings (48 MB if the replies were)`);
  });

  it('a NonceCounter keeps its nonces, not the 100 kB replies they were cut from', () => {
    const before = liveHeapBytes();
    const counters = Array.from({ length: 500 }, () => {
      const counter = new NonceCounter();
      counter.next(nonceCutFromBigReply());
      return counter;
    });
    const grown = liveHeapBytes() - before;
    assert.ok(grown < 5_000_000, `${(grown / 1e6).toFixed(1)} MB kept for ${counters.length} counters (50 MB if the replies were)`);
  });
});
