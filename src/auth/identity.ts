/**
 * Who is calling, established from the access token, the same on every transport:
 * - no token: anonymous (public operations only);
 * - a malformed, forged, expired, not-yet-valid, wrong-issuer/audience/kid token, or a token whose user is inactive
 *   or whose session was revoked: AuthenticationError — HTTP answers 401 UNAUTHENTICATED, graphql-ws closes 4403;
 * - otherwise the viewer, with the token's scopes intersected with the scopes of the user's CURRENT role.
 * The user row is read on every request/operation/event (one indexed lookup, batched across concurrent callers), so
 * deactivating a user, demoting them or revoking a session takes effect at once rather than when the token expires.
 * Services take an `Authentication`; they never see a request or a socket.
 */
import DataLoader from 'dataloader';
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
}

export interface AuthenticatorDeps {
  verifyAccessToken(token: string): Promise<AccessClaims>;
  /** The states of these (user, session) pairs, in key order. */
  authStates(keys: readonly { userId: string; sessionId: string }[]): Promise<AuthState[]>;
}

/**
 * One event's checks, shared by its subscribers: the reads of (user, session) states by `userId NUL sessionId`, and
 * whole checks by token.
 */
export interface EventChecks {
  states: Map<string, Promise<AuthState>>;
  tokens: Map<string, Promise<Authentication>>;
}

const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i;

export function createAuthenticator(deps: AuthenticatorDeps) {
  // No cache: each load reads the row afresh; concurrent loads in one tick (a broadcast event reaching many
  // subscribers, parallel requests) share one query.
  const authStates = new DataLoader<{ userId: string; sessionId: string }, AuthState, string>((keys) => deps.authStates(keys), {
    cache: false,
    maxBatchSize: 500,
  });

  /**
   * The viewer of still-valid claims, read as they are now. `shared` holds the checks of one subscription event: its
   * subscribers of one (user, session) share one read, and those of one token one whole check.
   */
  async function fromClaims(claims: AccessClaims, shared?: EventChecks): Promise<Authentication> {
    const key = { userId: claims.sub, sessionId: claims.sid };
    let read: Promise<AuthState> | undefined;
    if (shared) {
      const sharedKey = `${claims.sub}\u0000${claims.sid}`;
      read = shared.states.get(sharedKey);
      if (!read) shared.states.set(sharedKey, (read = authStates.load(key)));
    }
    const state = await (read ?? authStates.load(key));
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
  };
}

export type Authenticator = ReturnType<typeof createAuthenticator>;
