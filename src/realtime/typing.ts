/**
 * Typing indicators: ephemeral (published, never stored). Only changes are published — "user X started/stopped
 * typing in room R" — and at most one per user and room per `throttleMs`: a change inside the window is held and
 * published when the window ends, if it still stands. `typing: true` expires after `timeoutMs` without another
 * `typing: true`, publishing `typing: false`.
 *
 * With REDIS_URL the state is one for every process, in Redis (a script on Redis's clock: src/realtime/cluster-state.ts),
 * so a user whose calls reach two processes is throttled and cleared as on one. Each process that served a call keeps a
 * timer for the next check the script names (the end of the window, the expiry); a check that finds nothing due does
 * nothing, so several such timers publish once. While Redis is down, typing is tracked in process as without it.
 */
import type { ClusterState } from './cluster-state.js';

export interface TypingOptions {
  throttleMs: number;
  timeoutMs: number;
  publish(roomId: string, userId: string, typing: boolean): void;
  cluster?: ClusterState | null;
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
  /** With REDIS_URL: this process's timers for the shared state's next check, per room and user. */
  private readonly checks = new Map<string, NodeJS.Timeout>();

  constructor(private readonly options: TypingOptions) {}

  set(roomId: string, userId: string, typing: boolean): void {
    if (this.options.cluster?.usable) void this.shared(roomId, userId, typing ? '1' : '0');
    else this.setLocal(roomId, userId, typing);
  }

  private setLocal(roomId: string, userId: string, typing: boolean): void {
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
        this.setLocal(roomId, userId, false);
      }, this.options.timeoutMs).unref();
    }
    this.flush(key, roomId, userId, state);
  }

  /** Forgets a user's state in a room without publishing (they left it). */
  forget(roomId: string, userId: string): void {
    const key = `${roomId}:${userId}`;
    clearTimeout(this.checks.get(key));
    this.checks.delete(key);
    void this.options.cluster?.forgetTyping(roomId, userId);
    const state = this.states.get(key);
    if (!state) return;
    if (state.flushTimer) clearTimeout(state.flushTimer);
    if (state.expiryTimer) clearTimeout(state.expiryTimer);
    this.states.delete(key);
  }

  close(): void {
    for (const timer of this.checks.values()) clearTimeout(timer);
    this.checks.clear();
    for (const key of [...this.states.keys()]) {
      const [roomId, userId] = key.split(':') as [string, string];
      this.forget(roomId, userId);
    }
  }

  /** One step of the shared state: a call ('1', '0') or a timer's check ('t'). */
  private async shared(roomId: string, userId: string, mode: '1' | '0' | 't'): Promise<void> {
    const { cluster, throttleMs, timeoutMs } = this.options;
    const reply = await cluster!.typing(roomId, userId, mode, throttleMs, timeoutMs);
    const key = `${roomId}:${userId}`;
    clearTimeout(this.checks.get(key));
    this.checks.delete(key);
    if (!reply) {
      // Redis failed: a call is tracked here; a check that cannot run clears the indicator rather than leave it set.
      if (mode === 't') this.options.publish(roomId, userId, false);
      else this.setLocal(roomId, userId, mode === '1');
      return;
    }
    const [publish, nextMs] = reply;
    if (publish >= 0) this.options.publish(roomId, userId, publish === 1);
    if (nextMs < 0) return;
    const timer = setTimeout(() => {
      this.checks.delete(key);
      void this.shared(roomId, userId, 't');
    }, nextMs).unref();
    this.checks.set(key, timer);
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
