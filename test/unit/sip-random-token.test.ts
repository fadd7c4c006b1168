/**
 * Random hex tokens from the pooled CSPRNG buffer (src/sip/random-token.ts): right
 * length and alphabet, never repeated across pool refills.
 */
import assert from 'node:assert/strict';
import { randomHex } from '../../src/sip/random-token';

describe('randomHex', () => {
  it('gives 2 × n lower-case hex digits, for 1 to 4096 bytes', () => {
    for (const bytes of [1, 8, 16, 4096]) assert.match(randomHex(bytes), new RegExp(`^[0-9a-f]{${2 * bytes}}$`));
  });

  it('never repeats a 128-bit token across many pool refills', () => {
    const tokens = Array.from({ length: 20_000 }, () => randomHex(16));
    assert.equal(new Set(tokens).size, tokens.length);
  });

  it('does not hand out the bytes of one pool twice when sizes mix', () => {
    const halves = Array.from({ length: 2_000 }, () => randomHex(7) + randomHex(9));
    assert.equal(new Set(halves).size, halves.length);
  });

  it('refuses sizes it cannot serve', () => {
    for (const bytes of [0, -1, 1.5, 4097]) assert.throws(() => randomHex(bytes), RangeError);
  });
});
