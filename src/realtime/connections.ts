/**
 * Open realtime connections, as services see them: an id, the signed-in user and a way to drop the connection.
 * The transports (src/server/ws.ts, sse.ts) register and unregister them; services never see a socket. Without
 * REDIS_URL the counts are this process's; with it, the per-user cap and the counts are over every process
 * (src/realtime/cluster-state.ts), each process still holding its own connections.
 */
import type { AccessClaims } from '../auth/tokens.js';
import type { ClusterState, SharedCounter } from './cluster-state.js';

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
  /** With REDIS_URL: every process's connections, keyed by user ('' for an anonymous connection). */
  private readonly shared: SharedCounter | null;

  constructor(private readonly cluster: ClusterState | null = null) {
    this.shared = cluster?.counter('conn') ?? null;
  }

  /**
   * Registers the connection unless its user already holds `maxPerUser` (over every process with REDIS_URL). Without
   * REDIS_URL the check and the registration are one synchronous step: concurrent connections cannot overshoot; with
   * it, one atomic script in Redis.
   */
  admit(handle: ConnectionHandle, maxPerUser: number): boolean | Promise<boolean> {
    if (!this.shared) {
      if (handle.viewerId && this.countFor(handle.viewerId) >= maxPerUser) return false;
      this.add(handle);
      return true;
    }
    if (this.open.has(handle.id)) return true;
    const caps = handle.viewerId ? { perKey: maxPerUser } : {};
    this.add(handle);
    return this.shared.acquire(handle.id, handle.viewerId ?? '', caps).then(({ admitted }) => {
      if (!admitted) this.remove(handle.id);
      return admitted;
    });
  }

  /** Registers a connection without a cap check. */
  add(handle: ConnectionHandle): void {
    if (this.open.has(handle.id)) return;
    this.open.set(handle.id, handle);
    if (handle.viewerId) this.perUser.set(handle.viewerId, (this.perUser.get(handle.viewerId) ?? 0) + 1);
  }

  remove(id: string): void {
    const handle = this.open.get(id);
    if (!handle) return;
    this.open.delete(id);
    void this.shared?.release(id);
    if (!handle.viewerId) return;
    const left = (this.perUser.get(handle.viewerId) ?? 1) - 1;
    if (left > 0) this.perUser.set(handle.viewerId, left);
    else this.perUser.delete(handle.viewerId);
  }

  /** Open connections of one user on this process. */
  countFor(userId: string): number {
    return this.perUser.get(userId) ?? 0;
  }

  get openConnections(): number {
    return this.open.size;
  }

  /** Distinct signed-in users with at least one open connection on this process. */
  get onlineUsers(): number {
    return this.perUser.size;
  }

  /** Online users and open connections over every process (this process's without REDIS_URL or while Redis is down). */
  async counts(): Promise<{ onlineUsers: number; connections: number }> {
    return (await this.cluster?.counts()) ?? this.localCounts();
  }

  /** The same, as last read from Redis (the metrics gauges read synchronously). */
  get cachedCounts(): { onlineUsers: number; connections: number } {
    return this.cluster?.cachedCounts ?? this.localCounts();
  }

  private localCounts() {
    return { onlineUsers: this.onlineUsers, connections: this.openConnections };
  }
}

/**
 * Sockets that are not signed in, per client address and in all (over every process with REDIS_URL): a socket counts
 * from the moment it opens until its `connection_init` carries a user's token (a signed-in user has a cap of their
 * own), or it closes.
 */
export class AnonymousSockets {
  private readonly perAddress = new Map<string, number>();
  private total = 0;
  private readonly counted = new Map<string, string>();
  private readonly shared: SharedCounter | null;

  constructor(cluster: ClusterState | null = null) {
    this.shared = cluster?.counter('anon') ?? null;
  }

  /** Counts socket `id`, or names the cap it would exceed: 'total' (all addresses) or 'address'. */
  admit(id: string, address: string, limits: { maxAnonymousPerAddress: number; maxAnonymous: number }) {
    if (this.shared) {
      return this.shared
        .acquire(id, address, { perKey: limits.maxAnonymousPerAddress, total: limits.maxAnonymous })
        .then(({ admitted, refusedBy }) => (admitted ? null : refusedBy === 'total' ? 'total' : 'address'));
    }
    if (this.total >= limits.maxAnonymous) return 'total';
    const count = this.perAddress.get(address) ?? 0;
    if (count >= limits.maxAnonymousPerAddress) return 'address';
    this.perAddress.set(address, count + 1);
    this.total++;
    this.counted.set(id, address);
    return null;
  }

  release(id: string): void {
    if (this.shared) {
      void this.shared.release(id);
      return;
    }
    const address = this.counted.get(id);
    if (address === undefined) return;
    this.counted.delete(id);
    this.total--;
    const left = (this.perAddress.get(address) ?? 1) - 1;
    if (left > 0) this.perAddress.set(address, left);
    else this.perAddress.delete(address);
  }
}
