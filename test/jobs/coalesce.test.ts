/** The progress coalescing behind jobUpdated: at most one update per interval per job, forced states at once. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Coalescer } from '../../src/jobs/coalesce.js';
import { PROGRESS_UPDATES_PER_SECOND } from '../../src/jobs/runner.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('Coalescer', () => {
  it('publishes the first value at once and folds a burst into one trailing publication of the latest', () => {
    const published: number[] = [];
    const coalescer = new Coalescer<number>((value) => published.push(value), 1_000 / PROGRESS_UPDATES_PER_SECOND);
    for (let progress = 1; progress <= 100; progress += 1) coalescer.push(progress);
    expect(published).toEqual([1]);
    vi.advanceTimersByTime(249);
    expect(published).toEqual([1]);
    vi.advanceTimersByTime(1);
    expect(published).toEqual([1, 100]);
  });

  it('lets at most 4 updates a second through a steady stream', () => {
    const published: number[] = [];
    const coalescer = new Coalescer<number>((value) => published.push(value), 1_000 / PROGRESS_UPDATES_PER_SECOND);
    // One value every 10 ms for 2 s.
    for (let step = 0; step < 200; step += 1) {
      coalescer.push(step);
      vi.advanceTimersByTime(10);
    }
    vi.runAllTimers();
    expect(published.length).toBeLessThanOrEqual(2 * PROGRESS_UPDATES_PER_SECOND + 1);
    expect(published.at(-1)).toBe(199);
    expect(published).toEqual([...published].sort((a, b) => a - b));
  });

  it('sends a forced (terminal) value at once and drops what was pending, so nothing older follows it', () => {
    const published: string[] = [];
    const coalescer = new Coalescer<string>((value) => published.push(value), 250);
    coalescer.push('10%');
    coalescer.push('50%');
    coalescer.push('COMPLETED', true);
    vi.runAllTimers();
    expect(published).toEqual(['10%', 'COMPLETED']);
  });
});
