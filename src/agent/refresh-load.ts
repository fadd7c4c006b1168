/**
 * How many timers fall into each 1-second bucket, and which bucket of a span of
 * seconds is the emptiest — the load map behind SPEC §5's least-loaded refresh
 * placement.
 *
 * It is fed by the timer queue (it is the queue's observer), so every timer counts
 * from the moment it is scheduled until it fires, is cancelled or is moved; the map
 * cannot drift from what is really planned. That includes retry timers: they send a
 * REGISTER in their second too, as in SEMS, whose buckets hold every timer.
 *
 * Seconds are grouped in blocks of BLOCK_SECONDS, created on first use and dropped
 * when empty. Each block is a segment tree holding, per node, the lowest count below
 * it and how many seconds have that count; finding the emptiest second (and the k-th
 * of several equally empty ones) costs O(log BLOCK_SECONDS) per block in the span
 * instead of a scan of every second.
 */
import type { TimerQueueObserver } from './timer-queue';

/** Refresh windows span hundreds to a few thousand seconds: one to a few blocks. */
const BLOCK_SECONDS = 1024;

/** Counts of BLOCK_SECONDS consecutive seconds, as a min/min-count segment tree. */
class LoadBlock {
  /** Sum of the counts: the block is dropped at zero. */
  total = 0;
  /** Node i covers children 2i and 2i+1; leaves (the counts) sit at BLOCK_SECONDS + offset. */
  private readonly min = new Int32Array(2 * BLOCK_SECONDS);
  private readonly minCount = new Int32Array(2 * BLOCK_SECONDS);

  constructor() {
    this.minCount.fill(1, BLOCK_SECONDS);
    for (let node = BLOCK_SECONDS - 1; node >= 1; node--) this.pull(node);
  }

  countAt(offset: number): number {
    return this.min[BLOCK_SECONDS + offset];
  }

  change(offset: number, delta: number): void {
    let node = BLOCK_SECONDS + offset;
    if (this.min[node] + delta < 0) throw new Error(`load of second offset ${offset} would drop below zero`);
    this.min[node] += delta;
    this.total += delta;
    for (node >>= 1; node >= 1; node >>= 1) this.pull(node);
  }

  /** Lowest count among offsets first..last and how many offsets have it. */
  lowest(first: number, last: number): { min: number; count: number } {
    let min = Infinity;
    let count = 0;
    for (const node of this.cover(first, last)) {
      if (this.min[node] < min) {
        min = this.min[node];
        count = this.minCount[node];
      } else if (this.min[node] === min) {
        count += this.minCount[node];
      }
    }
    return { min, count };
  }

  /** The k-th (from 0, left to right) offset in first..last whose count is `min`. */
  select(first: number, last: number, min: number, k: number): number {
    for (let node of this.cover(first, last)) {
      if (this.min[node] !== min) continue;
      if (k >= this.minCount[node]) {
        k -= this.minCount[node];
        continue;
      }
      while (node < BLOCK_SECONDS) {
        const left = 2 * node;
        const inLeft = this.min[left] === min ? this.minCount[left] : 0;
        if (k < inLeft) {
          node = left;
        } else {
          k -= inLeft;
          node = left + 1;
        }
      }
      return node - BLOCK_SECONDS;
    }
    throw new Error(`no offset with count ${min} at rank ${k} in ${first}..${last}`);
  }

  private pull(node: number): void {
    const left = 2 * node;
    const right = left + 1;
    const min = Math.min(this.min[left], this.min[right]);
    this.min[node] = min;
    this.minCount[node] =
      (this.min[left] === min ? this.minCount[left] : 0) + (this.min[right] === min ? this.minCount[right] : 0);
  }

  /** The tree nodes that exactly cover offsets first..last, left to right. */
  private cover(first: number, last: number): number[] {
    const fromLeft: number[] = [];
    const fromRight: number[] = [];
    let lo = BLOCK_SECONDS + first;
    let hi = BLOCK_SECONDS + last + 1;
    while (lo < hi) {
      if (lo & 1) fromLeft.push(lo++);
      if (hi & 1) fromRight.push(--hi);
      lo >>= 1;
      hi >>= 1;
    }
    return fromLeft.concat(fromRight.reverse());
  }
}

/** The bucket (whole second of clock time) a due time falls into. */
export function secondOf(ms: number): number {
  return Math.floor(ms / 1000);
}

interface SpanPart {
  base: number;
  first: number;
  last: number;
  block: LoadBlock | undefined;
  min: number;
  count: number;
}

export class RefreshLoad implements TimerQueueObserver<unknown> {
  private readonly blocks = new Map<number, LoadBlock>();

  added(_key: unknown, dueAt: number): void {
    this.change(secondOf(dueAt), +1);
  }

  removed(_key: unknown, dueAt: number): void {
    this.change(secondOf(dueAt), -1);
  }

  /** Timers planned in that second. */
  countAt(second: number): number {
    const index = Math.floor(second / BLOCK_SECONDS);
    return this.blocks.get(index)?.countAt(second - index * BLOCK_SECONDS) ?? 0;
  }

  /**
   * The emptiest second in first..last (inclusive). Equally empty seconds are chosen
   * between uniformly with `random` (a function like Math.random).
   */
  emptiest(first: number, last: number, random: () => number): number {
    if (!(first <= last)) throw new RangeError(`empty span of seconds ${first}..${last}`);
    const parts = this.parts(first, last);
    const min = parts.reduce((lowest, part) => Math.min(lowest, part.min), Infinity);
    const candidates = parts.filter((part) => part.min === min);
    const total = candidates.reduce((sum, part) => sum + part.count, 0);
    let k = Math.min(total - 1, Math.floor(random() * total));
    for (const part of candidates) {
      if (k < part.count) {
        const offset = part.block ? part.block.select(part.first, part.last, min, k) : part.first + k;
        return part.base + offset;
      }
      k -= part.count;
    }
    throw new Error('unreachable: rank beyond the candidates');
  }

  /** first..last cut at block boundaries, each with its lowest count. */
  private parts(first: number, last: number): SpanPart[] {
    const parts: SpanPart[] = [];
    for (let index = Math.floor(first / BLOCK_SECONDS); index * BLOCK_SECONDS <= last; index++) {
      const base = index * BLOCK_SECONDS;
      const partFirst = Math.max(first, base) - base;
      const partLast = Math.min(last, base + BLOCK_SECONDS - 1) - base;
      const block = this.blocks.get(index);
      const { min, count } = block ? block.lowest(partFirst, partLast) : { min: 0, count: partLast - partFirst + 1 };
      parts.push({ base, first: partFirst, last: partLast, block, min, count });
    }
    return parts;
  }

  private change(second: number, delta: number): void {
    const index = Math.floor(second / BLOCK_SECONDS);
    let block = this.blocks.get(index);
    if (!block) {
      if (delta < 0) throw new Error(`load of second ${second} would drop below zero`);
      block = new LoadBlock();
      this.blocks.set(index, block);
    }
    block.change(second - index * BLOCK_SECONDS, delta);
    if (block.total === 0) this.blocks.delete(index);
  }
}
