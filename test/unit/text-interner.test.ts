import { strict as assert } from 'node:assert';
import { TextInterner } from '../../src/core/text-interner';

describe('TextInterner', () => {
  it('returns the first copy of an equal text', () => {
    const interner = new TextInterner(10);
    const first = interner.of(['ex', 'ample.com'].join(''));
    const second = ['exa', 'mple.com'].join('');
    assert.equal(interner.of(second), first);
    assert.equal(interner.size, 1);
  });

  it('stops remembering at its capacity and still returns every text unchanged', () => {
    const interner = new TextInterner(2);
    for (const t of ['a', 'b', 'c', 'd']) assert.equal(interner.of(t), t);
    assert.equal(interner.size, 2);
  });
});
