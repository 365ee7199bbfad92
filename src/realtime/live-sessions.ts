/**
 * Live sessions: every open realtime connection (graphql-ws socket, SSE stream) of a signed-in user, indexed by user
 * and by session, so that a session's end reaches its connections at once instead of at their next event.
 *
 * Threat model. A socket's token used to be checked only at its next operation or event: after `logoutAll`, a stolen
 * session's idle sockets stayed open (holding the user's connection slots), and a socket whose token expired sat
 * "connected" until its next event. Here:
 * - a revocation (logout, logoutAll, refresh-token reuse, deactivation, role or password change, revokeSession,
 *   deleteUser) is published on the pub/sub after its transaction committed. With REDIS_URL that is a Redis channel,
 *   so every process receives it; each closes its own matching connections (ws 4403 + the reason, SSE a final event)
 *   and frees their connection slots before the close handshake ends, so the owner can reconnect at once;
 * - every connection carries a timer at its token's `exp`: it is closed with "token expired" unless the client renewed
 *   the token in-band first (`renew`), which may only replace a token by one of the same user and session.
 * Transports register connections and say how to close them; services only publish revocations. Nothing here sees a
 * socket.
 */
import type { PubSub } from '../pubsub/pubsub.js';
import type { AccessClaims } from '../auth/tokens.js';
import { Topic, type SessionRevocation, type Topics } from '../pubsub/topics.js';
import type { ConnectionRegistry } from './connections.js';

/** Why a connection was closed: the reasons clients see (the ws close reason, the SSE final event's message). */
export const CloseReason = {
  LOGGED_OUT: 'session logged out',
  LOGGED_OUT_EVERYWHERE: 'all sessions logged out',
  REFRESH_REUSED: 'refresh token reused; session revoked',
  DEACTIVATED: 'account deactivated',
  ROLE_CHANGED: 'role changed',
  PASSWORD_CHANGED: 'password changed',
  SESSION_REVOKED: 'session revoked',
  DELETED: 'account deleted',
  EXPIRED: 'token expired',
} as const;
export type CloseReason = (typeof CloseReason)[keyof typeof CloseReason];

/** One open connection of a signed-in user, as the transport registers it. */
export interface LiveConnection {
  id: string;
  transport: 'ws' | 'sse';
  userId: string;
  sessionId: string;
  /** Ends the connection with this reason (ws: close 4403; SSE: a final event). Called at most once. */
  close(reason: string): void;
}

/**
 * A registered connection's claims, as `renew` replaces them: what its transport reads at each event without a
 * lookup by id (the subscription fan-out reads it for every subscriber of an event).
 */
export interface LiveClaims {
  readonly claims: AccessClaims;
}

interface Entry extends LiveClaims {
  connection: LiveConnection;
  claims: AccessClaims;
  timer: NodeJS.Timeout | null;
}

/** What `sessions` shows of a session's connections. */
export interface SessionActivity {
  openSockets: number;
  lastActivityAt: Date | null;
}

/**
 * How long a revocation is remembered for connections still being set up: one whose token was checked before the
 * revocation arrived, and registered after it, is closed as it registers.
 */
const RECENT_MS = 10_000;

/** setTimeout's largest delay (about 24.8 days); an access token lives at most a day (ACCESS_TOKEN_TTL_*). */
const MAX_TIMER_MS = 2 ** 31 - 1;

function matches(revocation: SessionRevocation, connection: LiveConnection): boolean {
  if (revocation.userId !== connection.userId) return false;
  if (revocation.sessionId && revocation.sessionId !== connection.sessionId) return false;
  return !(revocation.exceptSessionId && revocation.exceptSessionId === connection.sessionId);
}

export class LiveSessions {
  private readonly entries = new Map<string, Entry>();
  private readonly byUser = new Map<string, Set<string>>();
  /** Last operation or event per session seen by this process. Bounded: cleared past the cap (only a display value). */
  private readonly activity = new Map<string, number>();
  private readonly recent: Array<{ revocation: SessionRevocation; at: number }> = [];
  private readonly listeners = new Set<(revocation: SessionRevocation) => void>();
  private readonly listening: Promise<void>;
  private readonly stop: () => void;

  constructor(
    private readonly deps: {
      pubsub: PubSub<Topics>;
      /** The per-user connection caps: a closed connection's slot is freed at once, not after the close handshake. */
      connections: ConnectionRegistry;
    },
  ) {
    const source = deps.pubsub.subscribe(Topic.SessionRevoked);
    const iterator = source[Symbol.asyncIterator]();
    this.stop = () => void iterator.return?.();
    this.listening = (async () => {
      for (;;) {
        const next = await iterator.next();
        if (next.done) return;
        this.apply(next.value);
      }
    })();
  }

  /**
   * Registers a connection and arms its expiry timer. `checkedAt` is when its token was checked: a revocation that
   * arrived since (while the transport was still setting the connection up) closes it at once.
   */
  add(connection: LiveConnection, claims: AccessClaims, checkedAt: number = Date.now()): LiveClaims {
    const entry: Entry = { connection, claims, timer: null };
    this.entries.set(connection.id, entry);
    let ids = this.byUser.get(connection.userId);
    if (!ids) this.byUser.set(connection.userId, (ids = new Set()));
    ids.add(connection.id);
    this.arm(entry);
    this.touch(connection.sessionId);
    const missed = this.recent.find(({ revocation, at }) => at >= checkedAt && matches(revocation, connection));
    if (missed) this.end(entry, missed.revocation.reason);
    return entry;
  }

  remove(id: string): void {
    const entry = this.entries.get(id);
    if (!entry) return;
    if (entry.timer) clearTimeout(entry.timer);
    this.entries.delete(id);
    const ids = this.byUser.get(entry.connection.userId);
    ids?.delete(id);
    if (ids?.size === 0) this.byUser.delete(entry.connection.userId);
  }

  /**
   * In-band renewal: the connection's claims are replaced and its expiry timer re-armed. Only a token of the same user
   * and session may replace the current one (a stolen socket cannot be re-bound to another session); false otherwise.
   */
  renew(id: string, claims: AccessClaims): boolean {
    const entry = this.entries.get(id);
    if (!entry) return false;
    if (claims.sub !== entry.connection.userId || claims.sid !== entry.connection.sessionId) return false;
    entry.claims = claims;
    this.arm(entry);
    this.touch(entry.connection.sessionId);
    return true;
  }

  /**
   * Publishes a revocation to every process (this one included); resolves once it was published. This process's
   * listeners hear it first, synchronously, so what they cache is dropped before the revoking mutation returns.
   */
  async revoke(revocation: SessionRevocation): Promise<void> {
    this.notify(revocation);
    await this.deps.pubsub.publish(Topic.SessionRevoked, revocation);
  }

  /**
   * Calls `listener` with every revocation: synchronously for this process's own (in `revoke`), and as each
   * arrives over the pub/sub from any process (this one's again included). The identity cache listens.
   */
  onRevocation(listener: (revocation: SessionRevocation) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Records an operation on a session (for `sessions`' last activity). */
  touch(sessionId: string | null): void {
    if (!sessionId) return;
    if (this.activity.size >= 100_000 && !this.activity.has(sessionId)) this.activity.clear();
    this.activity.set(sessionId, Date.now());
  }

  /** Open connections of a session on this process, and its last activity seen here. */
  activityOf(userId: string, sessionId: string): SessionActivity {
    let openSockets = 0;
    for (const id of this.byUser.get(userId) ?? []) if (this.entries.get(id)?.connection.sessionId === sessionId) openSockets += 1;
    const at = this.activity.get(sessionId);
    return { openSockets, lastActivityAt: at === undefined ? null : new Date(at) };
  }

  /** Open connections of a user on this process. */
  countFor(userId: string): number {
    return this.byUser.get(userId)?.size ?? 0;
  }

  async close(): Promise<void> {
    for (const entry of this.entries.values()) if (entry.timer) clearTimeout(entry.timer);
    this.stop();
    await this.listening;
  }

  /** Closes this process's connections that a revocation names. */
  private apply(revocation: SessionRevocation): void {
    this.notify(revocation);
    const now = Date.now();
    while (this.recent.length > 0 && this.recent[0]!.at < now - RECENT_MS) this.recent.shift();
    this.recent.push({ revocation, at: now });
    for (const id of [...(this.byUser.get(revocation.userId) ?? [])]) {
      const entry = this.entries.get(id);
      if (entry && matches(revocation, entry.connection)) this.end(entry, revocation.reason);
    }
  }

  private notify(revocation: SessionRevocation): void {
    for (const listener of this.listeners) listener(revocation);
  }

  private end(entry: Entry, reason: string): void {
    this.remove(entry.connection.id);
    this.deps.connections.remove(entry.connection.id);
    entry.connection.close(reason);
  }

  /** The expiry timer at the token's `exp`, replacing any earlier one. */
  private arm(entry: Entry): void {
    if (entry.timer) clearTimeout(entry.timer);
    const delay = Math.min(Math.max(entry.claims.exp * 1_000 - Date.now(), 0), MAX_TIMER_MS);
    entry.timer = setTimeout(() => this.end(entry, CloseReason.EXPIRED), delay);
    entry.timer.unref();
  }
}
