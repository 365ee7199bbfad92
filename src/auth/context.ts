/**
 * The one context builder for both transports: HTTP builds it per request, graphql-ws per operation (and again per
 * subscription event). Resolvers and services see this typed object, never a socket or a request.
 *
 * Token rules, the same on both transports:
 * - no token: anonymous (public operations only);
 * - a malformed, forged, expired, not-yet-valid, wrong-issuer/audience/kid token, or a token whose user is inactive
 *   or whose session was revoked: AuthenticationError — HTTP answers 401 UNAUTHENTICATED, graphql-ws closes 4403;
 * - otherwise the viewer, with the token's scopes intersected with the scopes of the user's CURRENT role.
 * The user row is read on every request/operation/event (one indexed lookup, batched across concurrent callers), so
 * deactivating a user, demoting them or revoking a session takes effect at once rather than when the token expires.
 */
import DataLoader from 'dataloader';
import type { FastifyBaseLogger } from 'fastify';
import type { Container, Loaders, Services } from '../schema/container.js';
import type { AuthState } from '../schema/user/user.repo.js';
import { effectiveScopes, type Role } from './scopes.js';
import { InvalidTokenError, type AccessClaims } from './tokens.js';

export type Transport = 'http' | 'ws' | 'sse';

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

export interface Context extends Authentication {
  requestId: string;
  transport: Transport;
  services: Services;
  loaders: Loaders;
  log: FastifyBaseLogger;
}

export interface ContextRequest {
  requestId: string;
  transport: Transport;
  /** The `Authorization` header (HTTP) or the `authorization` field of `connection_init` (graphql-ws). */
  authorization: string | null;
  /** Already established for this request (HTTP authenticates before Apollo runs); skips a second lookup. */
  authentication?: Authentication;
  log: FastifyBaseLogger;
  /** Called when a later check (a subscription event) finds the token no longer valid; ws closes the socket. */
  onRevoked?: () => void;
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

const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i;

export function createContextBuilder(container: Container) {
  const tokens = container.services.tokens;
  // No cache: each load reads the row afresh; concurrent loads in one tick (a broadcast event reaching many
  // subscribers, parallel requests) share one query.
  const authStates = new DataLoader<{ userId: string; sessionId: string }, AuthState, string>(
    (keys) => container.repos.users.authStates(keys),
    { cache: false, maxBatchSize: 500 },
  );
  const revocations = new WeakMap<Context, () => void>();

  async function fromClaims(claims: AccessClaims): Promise<Authentication> {
    const state = await authStates.load({ userId: claims.sub, sessionId: claims.sid });
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

  async function authenticate(authorization: string | null | undefined): Promise<Authentication> {
    if (authorization == null || authorization.trim() === '') return ANONYMOUS;
    const match = BEARER.exec(authorization.trim());
    if (!match) throw new AuthenticationError('malformed authorization');
    let claims: AccessClaims;
    try {
      claims = await tokens.verifyAccessToken(match[1]!);
    } catch (error) {
      if (error instanceof InvalidTokenError) throw new AuthenticationError(error.reason);
      throw error;
    }
    return fromClaims(claims);
  }

  return {
    authenticate,

    /** Throws AuthenticationError for a token that is present but not valid. */
    async build(request: ContextRequest): Promise<Context> {
      const authentication = request.authentication ?? (await authenticate(request.authorization));
      const context: Context = {
        ...authentication,
        requestId: request.requestId,
        transport: request.transport,
        services: container.services,
        loaders: container.newLoaders(),
        log: authentication.viewer ? request.log.child({ userId: authentication.viewer.id }) : request.log,
      };
      if (request.onRevoked) revocations.set(context, request.onRevoked);
      return context;
    },

    /**
     * The context for one subscription event: fresh DataLoaders, and the viewer checked again, so an event is
     * authorized for the subscriber as they are now. A token that expired or whose user was deactivated meanwhile
     * leaves the event anonymous (the resolver's rule refuses it) and tells the transport (ws closes with 4403).
     */
    async forEvent(context: Context): Promise<Context> {
      const fresh = { ...context, loaders: container.newLoaders() };
      if (!context.claims) return fresh;
      try {
        if (context.claims.exp * 1_000 <= Date.now()) throw new AuthenticationError('expired');
        return { ...fresh, ...(await fromClaims(context.claims)) };
      } catch (error) {
        if (!(error instanceof AuthenticationError)) throw error;
        revocations.get(context)?.();
        return { ...fresh, ...ANONYMOUS };
      }
    },
  };
}

export type ContextBuilder = ReturnType<typeof createContextBuilder>;
