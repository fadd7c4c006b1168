/**
 * What the SIP layer keeps for a registration's life must not pin the reply it was cut
 * from: V8 substrings are views into their parent string (src/sip/header-syntax.ts
 * detached()). Found by the memory run of bench/sip-register.ts: each remembered
 * nonce held its whole 401 alive, 2.7 kB per account after four registrations.
 */
import assert from 'node:assert/strict';
import { DigestSession, parseDigestChallenges, type DigestChallenge } from '../../src/sip/digest';
import { detached } from '../../src/sip/header-syntax';
import { randomHex } from '../../src/sip/random-token';
import { liveHeapBytes } from '../support/heap';

/** A unique 100 kB "reply" and a nonce cut out of it, as a parser would. */
function nonceCutFromBigReply(): string {
  const reply = `WWW-Authenticate: Digest nonce="${randomHex(16)}"\r\nX-Padding: ${'p'.repeat(100_000)}`;
  return reply.slice(32, 64);
}

/** A challenge parsed from a header value cut out of a unique 100 kB "reply", as the parser cuts it. */
function challengeCutFromBigReply(): DigestChallenge {
  const value = `Digest realm="realm-${randomHex(8)}", nonce="${randomHex(16)}", opaque="${randomHex(16)}", algorithm=SHA-256-sess`;
  const reply = `WWW-Authenticate: ${value}\r\nX-Padding: ${'p'.repeat(100_000)}`;
  const [challenge] = parseDigestChallenges(reply.slice('WWW-Authenticate: '.length, 'WWW-Authenticate: '.length + value.length));
  assert.ok(challenge);
  return challenge;
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

  it('a DigestSession keeps its challenge, not the 100 kB replies it was parsed from', () => {
    const before = liveHeapBytes();
    const sessions = Array.from({ length: 500 }, () => {
      const session = new DigestSession({ username: 'alice', password: 'pw' });
      session.remember(401, challengeCutFromBigReply());
      return session;
    });
    const grown = liveHeapBytes() - before;
    assert.ok(grown < 5_000_000, `${(grown / 1e6).toFixed(1)} MB kept for ${sessions.length} sessions (50 MB if the replies were)`);
  });
});
