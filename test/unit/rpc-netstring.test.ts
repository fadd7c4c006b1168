import { strict as assert } from 'node:assert';
import { NetstringDecoder, encodeNetstring } from '../../src/rpc/netstring';

const texts = (frames: Buffer[]): string[] => frames.map((f) => f.toString('utf8'));

describe('rpc netstring framing', () => {
  it('decodes one frame', () => {
    const result = new NetstringDecoder(100).push(Buffer.from('5:hello,'));
    assert.deepEqual(texts(result.frames), ['hello']);
    assert.equal(result.error, undefined);
  });

  it('decodes a frame split at every possible point', () => {
    const wire = Buffer.from('12:{"id":"äb"},');
    for (let cut = 1; cut < wire.length; cut++) {
      const decoder = new NetstringDecoder(100);
      const first = decoder.push(wire.subarray(0, cut));
      assert.deepEqual(first.frames, [], `cut ${cut}`);
      assert.equal(decoder.inFrame, true, `cut ${cut}`);
      const second = decoder.push(wire.subarray(cut));
      assert.deepEqual(texts(second.frames), ['{"id":"äb"}'], `cut ${cut}`);
      assert.equal(decoder.inFrame, false);
    }
  });

  it('decodes a frame delivered one byte at a time', () => {
    const decoder = new NetstringDecoder(100);
    const frames = [...Buffer.from('3:abc,')].flatMap((b) => decoder.push(Buffer.from([b])).frames);
    assert.deepEqual(texts(frames), ['abc']);
  });

  it('decodes several frames from one chunk, in order, with an empty one and leading zeros', () => {
    const result = new NetstringDecoder(100).push(Buffer.from('1:a,0:,003:bcd,2:ef,'));
    assert.deepEqual(texts(result.frames), ['a', '', 'bcd', 'ef']);
  });

  it('skips white space between frames (a client ending frames with a newline)', () => {
    const result = new NetstringDecoder(100).push(Buffer.from('1:a,\r\n 1:b,\n'));
    assert.deepEqual(texts(result.frames), ['a', 'b']);
    assert.equal(result.error, undefined);
  });

  it('counts the length in bytes, not characters', () => {
    assert.equal(encodeNetstring('ä€').toString('utf8'), '5:ä€,');
    assert.deepEqual(texts(new NetstringDecoder(10).push(encodeNetstring('ä€')).frames), ['ä€']);
  });

  const bad: Array<[string, string, RegExp]> = [
    ['bare JSON', '{"jsonrpc":"2.0"}', /invalid character/],
    ['a non-digit in the length', '1x:a,', /invalid character/],
    ['a colon without length', ':a,', /invalid character/],
    ['a sign', '-1:a,', /invalid character/],
    ['white space inside the length', '1 2:a,', /invalid character/],
    ['a missing comma', '1:ab', /not terminated/],
    ['more than 10 length digits', '00000000001:a,', /too many digits/],
  ];
  for (const [name, wire, message] of bad) {
    it(`rejects ${name}`, () => {
      const result = new NetstringDecoder(100).push(Buffer.from(wire));
      assert.deepEqual(result.frames, []);
      assert.match(result.error?.message ?? '', message);
    });
  }

  it('rejects a length above the limit before any payload arrives', () => {
    const decoder = new NetstringDecoder(1000);
    const result = decoder.push(Buffer.from('1001'));
    assert.match(result.error?.message ?? '', /limit of 1000 bytes/);
    assert.equal(decoder.inFrame, false);
  });

  it('accepts a frame exactly at the limit', () => {
    const payload = 'x'.repeat(1000);
    assert.deepEqual(texts(new NetstringDecoder(1000).push(Buffer.from(`1000:${payload},`)).frames), [payload]);
  });

  it('keeps the frames before a bad byte and decodes nothing after it', () => {
    const decoder = new NetstringDecoder(100);
    const result = decoder.push(Buffer.from('1:a,1:b;1:c,'));
    assert.deepEqual(texts(result.frames), ['a']);
    assert.ok(result.error);
    const later = decoder.push(Buffer.from('1:d,'));
    assert.deepEqual(later.frames, []);
    assert.equal(later.error, undefined);
  });
});
