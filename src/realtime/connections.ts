/**
 * Open realtime connections, as services see them: an id, the signed-in user and a way to drop the connection.
 * The transport (src/server/ws.ts) registers and unregisters them; services never see a socket. Counts are per
 * process (with REDIS_URL, each process counts its own connections).
 */
import type { AccessClaims } from '../auth/tokens.js';

export interface ConnectionHandle {
  readonly id: string;
  /** The signed-in user's id; null for an anonymous connection. */
  readonly viewerId: string | null;
  /** Closes the connection at once (used for a subscriber that stopped reading). */
  drop(reason: string): void;
  /** The connection's current token claims, when renewed in-band since the operation started (see LiveSessions). */
  currentClaims?(): AccessClaims | null;
  /**
   * A transport that carries one subscription and its resume point itself (SSE: `Last-Event-ID`) offers the cursor
   * here, used when the subscription has no `after` argument, and hears of each event's cursor as it is delivered.
   */
  readonly lastEventId?: string | null;
  delivered?(cursor: string): void;
}

/** Carried by the context of every graphql-ws operation and subscription event. */
export interface RealtimeContext {
  connection?: ConnectionHandle;
}

export class ConnectionRegistry {
  private readonly open = new Map<string, ConnectionHandle>();
  private readonly perUser = new Map<string, number>();

  add(handle: ConnectionHandle): void {
    if (this.open.has(handle.id)) return;
    this.open.set(handle.id, handle);
    if (handle.viewerId) this.perUser.set(handle.viewerId, (this.perUser.get(handle.viewerId) ?? 0) + 1);
  }

  remove(id: string): void {
    const handle = this.open.get(id);
    if (!handle) return;
    this.open.delete(id);
    if (!handle.viewerId) return;
    const left = (this.perUser.get(handle.viewerId) ?? 1) - 1;
    if (left > 0) this.perUser.set(handle.viewerId, left);
    else this.perUser.delete(handle.viewerId);
  }

  /** Open connections of one user. */
  countFor(userId: string): number {
    return this.perUser.get(userId) ?? 0;
  }

  get openConnections(): number {
    return this.open.size;
  }

  /** Distinct signed-in users with at least one open connection. */
  get onlineUsers(): number {
    return this.perUser.size;
  }
}
