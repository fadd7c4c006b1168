import { strict as assert } from 'node:assert';
import { heapGrowthGivenToNode } from '../../src/process/heap-policy';

describe('heap policy', () => {
  it('leaves the heap growth to node when it was started with its own, in either spelling', () => {
    assert.equal(heapGrowthGivenToNode(['--heap-growing-percent=80']), true);
    assert.equal(heapGrowthGivenToNode(['--enable-source-maps', '--heap_growing_percent=80']), true);
  });

  it('sets it otherwise, whatever other V8 options node got', () => {
    assert.equal(heapGrowthGivenToNode([]), false);
    assert.equal(heapGrowthGivenToNode(['--max-old-space-size=512', '--heapsnapshot-signal=SIGUSR2']), false);
  });
});
