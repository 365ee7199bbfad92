/**
 * The context every resolver sees, built by the operation core for each request, graphql-ws or SSE operation, and
 * again for each subscription event: who is calling (src/auth/identity.ts), the services, this operation's
 * DataLoaders and its logger. Resolvers and services never see a socket or a request.
 */
import type { Logger } from '../log.js';
import { ANONYMOUS, AuthenticationError, createAuthenticator, type Authentication, type EventChecks } from '../auth/identity.js';
import type { AccessClaims } from '../auth/tokens.js';
import type { StatementScope } from '../db/statement-scope.js';
import { Topic } from '../pubsub/topics.js';
import type { Container, Loaders, Services } from './container.js';

export type Transport = 'http' | 'ws' | 'sse';

export interface Context extends Authentication {
  requestId: string;
  transport: Transport;
  /** The client's address (TRUST_PROXY applied): the key of per-address limits. */
  clientAddress: string;
  services: Services;
  loaders: Loaders;
  log: Logger;
}

export interface ContextRequest {
  requestId: string;
  transport: Transport;
  clientAddress: string;
  /** Already established for this operation by the operation core. */
  authentication: Authentication;
  log: Logger;
  /** Called when a later check (a subscription event) finds the token no longer valid; ws closes the socket. */
  onRevoked?: (reason: string) => void;
  /** What the operation's statements are counted in and cancelled with (a query's or mutation's). */
  statements?: StatementScope;
}

export interface ContextBuilderOptions {
  /** How long a successful user + session lookup is reused, ms (AUTH_CACHE_TTL_MS); 0 reads it on every request. */
  authCacheTtlMs?: number;
}

export function createContextBuilder(container: Container, options: ContextBuilderOptions = {}) {
  const authenticator = createAuthenticator({
    verifyAccessToken: (token) => container.services.tokens.verifyAccessToken(token),
    authStates: (keys) => container.repos.users.authStates(keys),
    cacheTtlMs: options.authCacheTtlMs,
  });
  // Every revocation (logout, role change, deactivation, deletion, revoked session…) drops the user's cached identity:
  // this process's synchronously before its mutation returns, other processes' as it arrives over the pub/sub.
  const stopRevocations = container.services.realtime.sessions.onRevocation((revocation) => authenticator.invalidate(revocation));
  // A profile change (a new username) is not a revocation; it is dropped as its `userUpdated` event arrives.
  const userUpdates = container.pubsub.subscribe(Topic.UserUpdated)[Symbol.asyncIterator]();
  void (async () => {
    for (let next = await userUpdates.next(); !next.done; next = await userUpdates.next()) {
      authenticator.invalidate({ userId: next.value.user.id });
    }
  })().catch(() => {});
  const revocations = new WeakMap<Context, (reason: string) => void>();

  return {
    authenticate: authenticator.authenticate,

    /** Stops listening for invalidations (at shutdown). */
    close(): void {
      stopRevocations();
      void userUpdates.return?.();
    },

    build(request: ContextRequest): Context {
      const { authentication } = request;
      const { services, loaders } = container.forOperation(request.statements ?? {});
      const context: Context = {
        ...authentication,
        requestId: request.requestId,
        transport: request.transport,
        clientAddress: request.clientAddress,
        services,
        loaders,
        log: authentication.viewer ? request.log.child({ userId: authentication.viewer.id }) : request.log,
      };
      if (request.onRevoked) revocations.set(context, request.onRevoked);
      container.services.realtime.sessions.touch(authentication.sessionId);
      return context;
    },

    /**
     * The context for one subscription event: fresh DataLoaders, and the viewer checked again, so an event is
     * authorized for the subscriber as they are now. A token that expired or whose user was deactivated meanwhile
     * leaves the event anonymous (the resolver's rule refuses it) and tells the transport (ws closes with 4403).
     */
    async forEvent(context: Context, renewed?: AccessClaims | null, shared?: EventChecks): Promise<Context> {
      return eventContext(context, eventAuthentication(context, await checkEvent(renewed ?? context.claims, shared)));
    },

    checkEvent,
    checkEventNow,
    eventAuthentication,
    eventContext,
  };

  /**
   * One subscription event's check of a token, for every subscriber that holds it: its expiry, and its user and
   * session read again (once per event for the checks that pass the same `shared`). No token: nothing to check.
   * A token that no longer passes is an outcome, not a failure; any other error (the database) rejects.
   */
  function checkEvent(claims: AccessClaims | null | undefined, shared?: EventChecks): Promise<EventCheck> {
    if (!claims) return Promise.resolve(null);
    return authenticator.recheck(claims, shared).catch((error: unknown) => {
      if (error instanceof AuthenticationError) return error;
      throw error;
    });
  }

  /** `checkEvent` when it needs no read (no token, an expired one, a cached state); undefined otherwise. */
  function checkEventNow(claims: AccessClaims | null | undefined): EventCheck | undefined {
    if (!claims) return null;
    return authenticator.recheckCached(claims);
  }

  /**
   * Who a subscriber is for one event, from its token's check (a token renewed in-band on the connection replaces the
   * one the subscription started with): as checked, as subscribed when anonymous, or anonymous when the token no
   * longer passes (and the transport is told).
   */
  function eventAuthentication(context: Context, check: EventCheck): Authentication {
    if (check === null) return context;
    if (!(check instanceof AuthenticationError)) return check;
    revocations.get(context)?.(check.reason);
    return ANONYMOUS;
  }

  /** A subscriber's context for one event: its own, with fresh DataLoaders, as `authentication`. */
  function eventContext(context: Context, authentication: Authentication): Context {
    if (authentication === context) return { ...context, loaders: container.newLoaders() };
    return { ...context, loaders: container.newLoaders(), ...authentication };
  }
}

export type ContextBuilder = ReturnType<typeof createContextBuilder>;

/** A token's check for one subscription event: passed, no longer valid (why), or no token at all (null). */
export type EventCheck = Authentication | AuthenticationError | null;
