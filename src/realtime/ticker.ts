/**
 * One shared timer per interval: all subscribers of `dashboardStats(intervalMs: n)` are served by one computation
 * every n ms; the timer starts with the first subscriber and stops with the last, so nothing is computed while nobody
 * listens. A new subscriber gets the latest figures at once (computing them when it starts the timer).
 */
import { EventQueue } from './queue.js';

interface Tick<T> {
  subscribers: Set<EventQueue<T>>;
  timer: NodeJS.Timeout;
  latest: T | null;
}

export class SharedTicker<T> {
  private readonly ticks = new Map<number, Tick<T>>();
  /** How many times the figures were computed (tests read it). */
  computations = 0;

  constructor(
    private readonly compute: () => Promise<T>,
    private readonly queueLimit: number,
    private readonly onError?: (error: unknown) => void,
  ) {}

  get activeIntervals(): number {
    return this.ticks.size;
  }

  subscribe(intervalMs: number, onOverflow?: () => void): AsyncIterableIterator<T> {
    let tick = this.ticks.get(intervalMs);
    const start = !tick;
    if (!tick) {
      const created: Tick<T> = { subscribers: new Set(), latest: null, timer: setInterval(() => void this.run(created), intervalMs) };
      created.timer.unref();
      this.ticks.set(intervalMs, created);
      tick = created;
    }
    const current = tick;
    const queue: EventQueue<T> = new EventQueue<T>(this.queueLimit, {
      onOverflow,
      onEnd: () => {
        current.subscribers.delete(queue);
        if (current.subscribers.size === 0) {
          clearInterval(current.timer);
          if (this.ticks.get(intervalMs) === current) this.ticks.delete(intervalMs);
        }
      },
    });
    current.subscribers.add(queue);
    if (start) void this.run(current);
    else if (current.latest) queue.push(current.latest);
    return queue;
  }

  close(): void {
    for (const tick of [...this.ticks.values()]) for (const queue of [...tick.subscribers]) queue.end();
  }

  private async run(tick: Tick<T>): Promise<void> {
    if (tick.subscribers.size === 0) return;
    this.computations += 1;
    try {
      const value = await this.compute();
      tick.latest = value;
      for (const queue of tick.subscribers) queue.push(value);
    } catch (error) {
      // A failed computation ends this interval's subscriptions (clients see them complete and may resubscribe).
      this.onError?.(error);
      for (const queue of [...tick.subscribers]) queue.end();
    }
  }
}
