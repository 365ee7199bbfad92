/**
 * Who is calling, established from the access token, the same on every transport:
 * - no token: anonymous (public operations only);
 * - a malformed, forged, expired, not-yet-valid, wrong-issuer/audience/kid token, or a token whose user is inactive
 *   or whose session was revoked: AuthenticationError — HTTP answers 401 UNAUTHENTICATED, graphql-ws closes 4403;
 * - otherwise the viewer, with the token's scopes intersected with the scopes of the user's CURRENT role.
 * The user row is read on every request/operation/event (one indexed lookup, batched across concurrent callers), so
 * deactivating a user, demoting them or revoking a session takes effect at once rather than when the token expires.
 * Services take an `Authentication`; they never see a request or a socket.
 *
 * A successful lookup (active user, live session) is reused for a short while (AUTH_CACHE_TTL_MS, 1 s by default;
 * never past the session's own expiry), because a client sends many requests a second with one token and the row
 * rarely changes. What could change it is always followed by a revocation (src/realtime/live-sessions.ts: logout,
 * logoutAll, revokeSession, deactivation, role or password change, deletion, a reused refresh token), and
 * `invalidate` drops the user's entries: in the process that made the change, synchronously, before its mutation
 * returns; in every other process as the revocation arrives over the pub/sub. A lookup that was in flight while an
 * invalidation happened is used once but not kept, so it cannot put back what the invalidation removed. A failed
 * lookup (inactive, unknown, revoked) is never kept: the next request reads the row again. Only a change made behind
 * the application's back (SQL by hand) waits for the entry to expire.
 */
import DataLoader from 'dataloader';
import { LRUCache } from 'lru-cache';
import { effectiveScopes, type Role } from './scopes.js';
import { InvalidTokenError, type AccessClaims } from './tokens.js';

export interface Viewer {
  /** User id (uuid). */
  id: string;
  username: string;
  role: Role;
}

/** Who is calling, as established from the access token. */
export interface Authentication {
  viewer: Viewer | null;
  scopes: ReadonlySet<string>;
  /** The session family (`sid`) of the access token; null when anonymous. */
  sessionId: string | null;
  claims: AccessClaims | null;
}

export class AuthenticationError extends Error {
  constructor(readonly reason: string) {
    super('Could not validate credentials');
    this.name = 'AuthenticationError';
  }
}

export const ANONYMOUS: Authentication = Object.freeze({
  viewer: null,
  scopes: new Set<string>(),
  sessionId: null,
  claims: null,
});

/** What the check needs about a token's user and session, in one indexed lookup. */
export interface AuthState {
  id: string;
  username: string;
  role: string;
  isActive: boolean;
  /** True when the token's session family has not been revoked and has not expired. */
  sessionLive: boolean;
  /** When the live session expires (ms since the epoch), if known: a cached state is not used past it. */
  sessionExpiresAt?: number;
}

/** Which users' cached states to drop (a revocation names one user, and possibly one session). */
export interface Invalidation {
  userId: string;
}

export interface AuthenticatorDeps {
  verifyAccessToken(token: string): Promise<AccessClaims>;
  /** The states of these (user, session) pairs, in key order. */
  authStates(keys: readonly { userId: string; sessionId: string }[]): Promise<AuthState[]>;
  /** How long a successful lookup is reused (ms); 0 reads the row on every request. */
  cacheTtlMs?: number;
}

/**
 * One event's checks, shared by its subscribers: the reads of (user, session) states by `userId NUL sessionId`, and
 * whole checks by token.
 */
export interface EventChecks {
  states: Map<string, Promise<AuthState>>;
  tokens: Map<string, Promise<Authentication>>;
}

/** Cached (user, session) states: one entry per signed-in client, about 200 bytes each. */
const AUTH_CACHE_MAX = 10_000;
export const DEFAULT_AUTH_CACHE_TTL_MS = 1_000;

const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i;

export function createAuthenticator(deps: AuthenticatorDeps) {
  // The loader itself keeps nothing (the short cache is `lookup`'s): each load reads the row afresh; concurrent loads
  // in one tick (a broadcast event reaching many subscribers, parallel requests) share one query.
  const authStates = new DataLoader<{ userId: string; sessionId: string }, AuthState, string>((keys) => deps.authStates(keys), {
    cache: false,
    maxBatchSize: 500,
  });

  const ttlMs = deps.cacheTtlMs ?? DEFAULT_AUTH_CACHE_TTL_MS;
  const cache = ttlMs > 0 ? new LRUCache<string, AuthState>({ max: AUTH_CACHE_MAX, ttl: ttlMs }) : null;
  // Bumped by every invalidation: a lookup that started before one is not cached (it may have read the old row).
  let generation = 0;
  const cacheKey = (userId: string, sessionId: string) => `${userId}\u0000${sessionId}`;

  /** The cached state of a (user, session), while it is not past the session's expiry. */
  function cached(key: string): AuthState | undefined {
    const state = cache?.get(key);
    return state && (state.sessionExpiresAt === undefined || state.sessionExpiresAt > Date.now()) ? state : undefined;
  }

  async function lookup(userId: string, sessionId: string): Promise<AuthState> {
    if (!cache) return authStates.load({ userId, sessionId });
    const key = cacheKey(userId, sessionId);
    const hit = cached(key);
    if (hit) return hit;
    const started = generation;
    const state = await authStates.load({ userId, sessionId });
    if (state.isActive && state.sessionLive && generation === started) {
      const untilExpiry = state.sessionExpiresAt === undefined ? ttlMs : state.sessionExpiresAt - Date.now();
      if (untilExpiry > 0) cache.set(key, state, { ttl: Math.min(ttlMs, Math.ceil(untilExpiry)) });
    }
    return state;
  }

  /**
   * The viewer of still-valid claims, read as they are now. `shared` holds the checks of one subscription event: its
   * subscribers of one (user, session) share one read, and those of one token one whole check.
   */
  async function fromClaims(claims: AccessClaims, shared?: EventChecks): Promise<Authentication> {
    let read: Promise<AuthState> | undefined;
    if (shared) {
      const sharedKey = cacheKey(claims.sub, claims.sid);
      read = shared.states.get(sharedKey);
      if (!read) shared.states.set(sharedKey, (read = lookup(claims.sub, claims.sid)));
    }
    return authenticationOf(claims, await (read ?? lookup(claims.sub, claims.sid)));
  }

  /** Claims as their (user, session) state now allows them; throws for an inactive user or a dead session. */
  function authenticationOf(claims: AccessClaims, state: AuthState): Authentication {
    if (!state.isActive) throw new AuthenticationError('inactive or unknown user');
    if (!state.sessionLive) throw new AuthenticationError('session revoked or expired');
    const role = state.role as Role;
    return {
      viewer: { id: state.id, username: state.username, role },
      scopes: effectiveScopes(role, claims.scopes),
      sessionId: claims.sid,
      claims,
    };
  }

  return {
    /** Throws AuthenticationError for a token that is present but not valid. */
    async authenticate(authorization: string | null | undefined): Promise<Authentication> {
      if (authorization == null || authorization.trim() === '') return ANONYMOUS;
      const match = BEARER.exec(authorization.trim());
      if (!match) throw new AuthenticationError('malformed authorization');
      let claims: AccessClaims;
      try {
        claims = await deps.verifyAccessToken(match[1]!);
      } catch (error) {
        if (error instanceof InvalidTokenError) throw new AuthenticationError(error.reason);
        throw error;
      }
      return fromClaims(claims);
    },

    /**
     * The same caller checked again (a subscription event): expired claims and revoked sessions throw. Checks for
     * one event pass the same `shared` map, so each (user, session) is read once per event.
     */
    async recheck(claims: AccessClaims, shared?: EventChecks): Promise<Authentication> {
      if (claims.exp * 1_000 <= Date.now()) throw new AuthenticationError('expired');
      if (!shared) return fromClaims(claims);
      // One token (its jti) on many connections: one check, whose claims are the same token's.
      const tokenKey = `${claims.sub}\u0000${claims.sid}\u0000${claims.jti}\u0000${claims.exp}`;
      let check = shared.tokens.get(tokenKey);
      if (!check) shared.tokens.set(tokenKey, (check = fromClaims(claims, shared)));
      return check;
    },

    /**
     * `recheck` without waiting, when it needs no read: the claims expired (an AuthenticationError), or their (user,
     * session) state is in the short cache (the Authentication, or the AuthenticationError it implies). Undefined
     * when the state must be read: call `recheck`.
     */
    recheckCached(claims: AccessClaims): Authentication | AuthenticationError | undefined {
      if (claims.exp * 1_000 <= Date.now()) return new AuthenticationError('expired');
      const state = cached(cacheKey(claims.sub, claims.sid));
      if (!state) return undefined;
      try {
        return authenticationOf(claims, state);
      } catch (error) {
        if (error instanceof AuthenticationError) return error;
        throw error;
      }
    },

    /** Drops the cached states of a user whose account or sessions changed; synchronous. */
    invalidate({ userId }: Invalidation): void {
      generation += 1;
      if (!cache) return;
      const prefix = cacheKey(userId, '');
      for (const key of [...cache.keys()]) if (key.startsWith(prefix)) cache.delete(key);
    },
  };
}

export type Authenticator = ReturnType<typeof createAuthenticator>;
