import assert from 'node:assert/strict';
import { RefreshLoad, secondOf } from '../../src/agent/refresh-load';

const first = (): number => 0;
const last = (): number => 0.999999;

function addAt(load: RefreshLoad, second: number, times = 1): void {
  for (let i = 0; i < times; i++) load.added(undefined, second * 1000 + 500);
}

describe('RefreshLoad', () => {
  it('counts timers per whole second of their due time', () => {
    const load = new RefreshLoad();
    load.added('a', 5000);
    load.added('b', 5999.9);
    load.added('c', 6000);
    assert.equal(load.countAt(5), 2);
    assert.equal(load.countAt(6), 1);
    load.removed('a', 5000);
    assert.equal(load.countAt(5), 1);
    assert.equal(secondOf(-1), -1);
  });

  it('refuses to count below zero: an unbalanced observer is a bug', () => {
    const load = new RefreshLoad();
    assert.throws(() => load.removed('x', 1000));
    addAt(load, 3);
    load.removed('x', 3500);
    assert.throws(() => load.removed('x', 3500));
  });

  it('finds the emptiest second, first or last of equals depending on the draw', () => {
    const load = new RefreshLoad();
    for (let s = 100; s <= 110; s++) addAt(load, s, 2);
    load.removed(undefined, 104_500);
    load.removed(undefined, 108_500);
    assert.equal(load.emptiest(100, 110, first), 104);
    assert.equal(load.emptiest(100, 110, last), 108);
    assert.equal(load.emptiest(105, 110, first), 108);
    assert.equal(load.emptiest(100, 103, first), 100, 'all equal: the draw picks among all');
    assert.equal(load.emptiest(100, 103, last), 103);
  });

  it('treats seconds without any timer as empty, across block boundaries and below zero', () => {
    const load = new RefreshLoad();
    for (let s = 1000; s <= 3000; s++) if (s !== 2500) addAt(load, s);
    assert.equal(load.emptiest(1000, 3000, first), 2500);
    assert.equal(load.emptiest(1000, 3000, last), 2500);
    assert.equal(load.emptiest(2999, 3005, first), 3001);
    for (let s = -20; s <= 5; s++) if (s !== -7) addAt(load, s);
    assert.equal(load.emptiest(-20, 5, first), -7);
    assert.equal(load.emptiest(-20, 5, last), -7);
  });

  it('draws uniformly among equally empty seconds', () => {
    const load = new RefreshLoad();
    for (let s = 0; s < 2048; s++) if (s % 512 !== 0) addAt(load, s);
    const hits = new Map<number, number>();
    let state = 1;
    const random = (): number => {
      state = (state * 48271) % 2147483647;
      return state / 2147483647;
    };
    for (let i = 0; i < 4000; i++) {
      const s = load.emptiest(0, 2047, random);
      hits.set(s, (hits.get(s) ?? 0) + 1);
    }
    assert.deepEqual([...hits.keys()].sort((a, b) => a - b), [0, 512, 1024, 1536]);
    for (const count of hits.values()) assert.ok(count > 850 && count < 1150, `skewed draw: ${count} of 4000`);
  });

  it('rejects an empty span', () => {
    assert.throws(() => new RefreshLoad().emptiest(10, 9, first), RangeError);
  });
});
