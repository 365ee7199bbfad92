/**
 * Typing indicators: ephemeral (published, never stored). Only changes are published — "user X started/stopped
 * typing in room R" — and at most one per user and room per `throttleMs`: a change inside the window is held and
 * published when the window ends, if it still stands. `typing: true` expires after `timeoutMs` without another
 * `typing: true`, publishing `typing: false`. State is per process (with REDIS_URL, per process that served the call).
 */
export interface TypingOptions {
  throttleMs: number;
  timeoutMs: number;
  publish(roomId: string, userId: string, typing: boolean): void;
}

interface TypingState {
  /** What subscribers were last told. */
  published: boolean;
  /** What the user last said. */
  desired: boolean;
  lastPublishedAt: number;
  flushTimer: NodeJS.Timeout | null;
  expiryTimer: NodeJS.Timeout | null;
}

export class TypingTracker {
  private readonly states = new Map<string, TypingState>();

  constructor(private readonly options: TypingOptions) {}

  set(roomId: string, userId: string, typing: boolean): void {
    const key = `${roomId}:${userId}`;
    let state = this.states.get(key);
    if (!state) {
      if (!typing) return;
      state = { published: false, desired: false, lastPublishedAt: -Infinity, flushTimer: null, expiryTimer: null };
      this.states.set(key, state);
    }
    state.desired = typing;
    if (state.expiryTimer) clearTimeout(state.expiryTimer);
    state.expiryTimer = null;
    if (typing) {
      state.expiryTimer = setTimeout(() => {
        state.expiryTimer = null;
        this.set(roomId, userId, false);
      }, this.options.timeoutMs).unref();
    }
    this.flush(key, roomId, userId, state);
  }

  /** Forgets a user's state in a room without publishing (they left it). */
  forget(roomId: string, userId: string): void {
    const key = `${roomId}:${userId}`;
    const state = this.states.get(key);
    if (!state) return;
    if (state.flushTimer) clearTimeout(state.flushTimer);
    if (state.expiryTimer) clearTimeout(state.expiryTimer);
    this.states.delete(key);
  }

  close(): void {
    for (const key of [...this.states.keys()]) {
      const [roomId, userId] = key.split(':') as [string, string];
      this.forget(roomId, userId);
    }
  }

  private flush(key: string, roomId: string, userId: string, state: TypingState): void {
    if (state.flushTimer) return; // a publish is already scheduled for the end of the window
    if (state.desired === state.published) {
      if (!state.published && !state.expiryTimer && Date.now() - state.lastPublishedAt >= this.options.throttleMs) {
        this.states.delete(key);
      }
      return;
    }
    const wait = state.lastPublishedAt + this.options.throttleMs - Date.now();
    if (wait > 0) {
      state.flushTimer = setTimeout(() => {
        state.flushTimer = null;
        this.flush(key, roomId, userId, state);
      }, wait).unref();
      return;
    }
    state.published = state.desired;
    state.lastPublishedAt = Date.now();
    this.options.publish(roomId, userId, state.published);
    // Keeps the window's start until it ends, then forgets an idle state.
    state.flushTimer = setTimeout(() => {
      state.flushTimer = null;
      this.flush(key, roomId, userId, state);
    }, this.options.throttleMs).unref();
  }
}
