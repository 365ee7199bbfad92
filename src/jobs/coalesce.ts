/**
 * At most one publication per `intervalMs` for one job: progress in between is folded into a trailing publication of
 * the latest state. A forced state (a status change, and always a terminal one) goes out at once and drops whatever
 * was pending, so nothing older can follow it.
 */
export class Coalescer<T> {
  private lastAt = Number.NEGATIVE_INFINITY;
  private pending: T | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly publish: (value: T) => void,
    private readonly intervalMs: number,
  ) {}

  push(value: T, force = false): void {
    const now = performance.now();
    if (force) {
      this.cancel();
      this.emit(value, now);
      return;
    }
    if (this.timer === null && now - this.lastAt >= this.intervalMs) {
      this.emit(value, now);
      return;
    }
    this.pending = value;
    this.timer ??= setTimeout(
      () => {
        this.timer = null;
        const latest = this.pending;
        this.pending = null;
        if (latest !== null) this.emit(latest, performance.now());
      },
      Math.max(0, this.lastAt + this.intervalMs - now),
    );
  }

  /** Drops a pending publication. */
  cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.pending = null;
  }

  private emit(value: T, at: number): void {
    this.lastAt = at;
    this.publish(value);
  }
}
