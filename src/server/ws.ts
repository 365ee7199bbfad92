/**
 * graphql-ws on `ws`, on the same port and path as HTTP: a thin adapter over the operation core. It alone sees
 * sockets: the upgrade's Origin check, the socket guard, `connection_init` (the connection's token, its per-user cap
 * and its handle for the realtime services) and the framing of the core's results and refusals as messages.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { GraphQLError, type ExecutionArgs, type ExecutionResult } from 'graphql';
import { CloseCode, handleProtocols, type Context as WsContext } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import type { FastifyBaseLogger } from 'fastify';
import { WebSocketServer, type WebSocket } from 'ws';
import { AuthenticationError } from '../auth/identity.js';
import { ErrorCode } from '../schema/shared/errors.js';
import { firstErrorCode } from './errors.js';
import { writeText } from './ws-frames.js';
import type { Admission, OperationCore, Refusal } from './operation.js';
import { isAllowedWebSocketOrigin } from './security.js';
import { AnonymousSockets, type ConnectionHandle } from '../realtime/connections.js';
import { CloseReason, type LiveClaims } from '../realtime/live-sessions.js';
import { renewalRequest, RENEWAL_REFUSED, closeForbidden, renewedPong } from './live-socket.js';
import type { Realtime } from '../realtime/realtime.js';
import type { WriteNext } from '../realtime/fanout.js';
import { traceHeaders } from '../tracing.js';
import { SLOW_SUBSCRIBER } from '../realtime/queue.js';
import { publishedAt as eventPublishedAt } from '../pubsub/pubsub.js';

export interface WsOptions {
  server: Server;
  path: string;
  core: OperationCore;
  log: FastifyBaseLogger;
  keepAliveMs: number;
  connectionInitWaitTimeoutMs: number;
  maxPayloadBytes: number;
  /** Allowed browser origins (CORS_ORIGINS) for the upgrade's `Origin` check. */
  corsOrigins: readonly string[];
  /** Connection registry and limits: connections per user, subscriptions per connection, outgoing buffer. */
  realtime: Realtime;
  /** The client's address (TRUST_PROXY applied): the key of the anonymous caps and of the anonymous budget. */
  clientAddress(request: IncomingMessage): string;
  /** Called once per socket dropped because its client stopped reading (the metrics count them). */
  onDrop?(): void;
  /** Called once per shared event written to its sockets: from its publication to the last write, and how many. */
  onFanout?(fanout: { ms: number; writes: number }): void;
}

/** Close code for a user's connection beyond WS_MAX_CONNECTIONS_PER_USER (RFC 6455 1008 Policy Violation). */
export const TOO_MANY_CONNECTIONS = { code: 1008, reason: 'Too many connections' } as const;
/** An address's socket beyond WS_MAX_ANONYMOUS_PER_ADDRESS that is not signed in. */
export const TOO_MANY_ANONYMOUS = { code: 1008, reason: 'Too many anonymous connections' } as const;
/** A socket beyond WS_MAX_ANONYMOUS_CONNECTIONS, all addresses together (RFC 6455 1013 Try Again Later). */
export const SERVER_BUSY = { code: 1013, reason: 'Try again later' } as const;
/**
 * A subscriber whose queue overflowed while its socket still drained (it reads, only too slowly): RFC 6455 1013 Try
 * Again Later, which graphql-ws's client retries, with the reason telling it to resubscribe with `after:` its last
 * `streamCursor`. A socket with unsent output is terminated instead (1006): its client would never read the frame.
 */
export const SLOW_SUBSCRIBER_CLOSE = { code: 1013, reason: SLOW_SUBSCRIBER } as const;
/** How long a closing slow subscriber has to answer the close frame before it is terminated. */
const SLOW_CLOSE_GRACE_MS = 1_000;

/** How often every socket's outgoing buffer is checked, besides at each event it is sent. */
const BUFFER_CHECK_MS = 1_000;

interface ConnectionState {
  connectionId: string;
  authorization: string | null;
  /** What services see of this connection, once `connection_init` was accepted. */
  handle: ConnectionHandle | null;
  /** Operations by id: admitted (running) or refused (its `error` message is being sent). */
  operations: Map<string, Admission | Refusal>;
  /** Operation ids holding one of the connection's subscription slots (taken when accepted, before admission ends). */
  slots: Set<string>;
  /** Aborted when the socket closes: its operations' running SQL statements are cancelled (src/db/cancellation.ts). */
  closed: AbortController;
}

type Extra = {
  socket: WebSocket;
  request: IncomingMessage;
  state?: ConnectionState;
};

const SERVER_ONLY_TYPE = /"type"\s*:\s*"(connection_ack|next|error)"/;

/** The type of a message only the server may send, or null. The regex spares a second JSON.parse of most messages. */
function serverOnlyType(data: unknown): string | null {
  const text = String(data);
  if (!SERVER_ONLY_TYPE.test(text)) return null;
  try {
    const type = (JSON.parse(text) as { type?: unknown } | null)?.type;
    return type === 'connection_ack' || type === 'next' || type === 'error' ? type : null;
  } catch {
    return null;
  }
}

/**
 * Shared `next` payloads. graphql-ws serializes each message itself (`onNext` returns an object, JSON.stringify'd
 * per subscriber); for a result shared by many subscribers `onNext` instead returns an empty placeholder payload and
 * files the frame under the placeholder's text, which the socket's `send` swaps for the frame: the payload is
 * serialized once per event, and each socket's frame differs only by its id. An empty payload is never a real
 * result (one always has `data` or `errors`), so no other message can match.
 */
const SHARED_PLACEHOLDER = Object.freeze({});
/** The text of a `next` message of subscription `id` up to its payload, as graphql-ws writes it; `}` closes it. */
const nextHead = (id: string) => `{"id":${JSON.stringify(id)},"type":"next","payload":`;
const sharedFrames = new WeakMap<WebSocket, Map<string, { frame: string; event: object }>>();

function spliceSharedFrames(socket: WebSocket, onWrite: (event: object) => void): void {
  const frames = new Map<string, { frame: string; event: object }>();
  sharedFrames.set(socket, frames);
  const send = socket.send.bind(socket) as (data: unknown, ...rest: unknown[]) => void;
  socket.send = ((data: unknown, ...rest: unknown[]) => {
    if (frames.size > 0 && typeof data === 'string') {
      const shared = frames.get(data);
      if (shared !== undefined) {
        frames.delete(data);
        send(shared.frame, ...rest);
        return onWrite(shared.event);
      }
    }
    return send(data, ...rest);
  }) as WebSocket['send'];
}

/** How often finished fan-outs are reported, and how long after its last write an event's fan-out counts as done. */
const FANOUT_REPORT_MS = 500;
/** One shared event's writes on this process: epoch ms, sub-millisecond. */
interface Fanout {
  publishedAt: number;
  lastWrite: number;
  writes: number;
}
const timeOrigin = performance.timeOrigin;
const epochNow = () => timeOrigin + performance.now();

export function attachGraphqlWs(options: WsOptions) {
  const { core, log } = options;
  // Publish-to-last-write per shared event (epoch ms), reported once its writes stopped.
  const fanouts = new Map<object, Fanout>();
  const reportFanouts = setInterval(() => {
    const quiet = epochNow() - FANOUT_REPORT_MS;
    for (const [event, fanout] of fanouts) {
      if (fanout.lastWrite > quiet) continue;
      fanouts.delete(event);
      options.onFanout?.({ ms: fanout.lastWrite - fanout.publishedAt, writes: fanout.writes });
    }
  }, FANOUT_REPORT_MS);
  reportFanouts.unref();
  // The event whose frames are being written in the current synchronous run of writes (one fan-out loop), if any.
  let writing: { event: object; fanout: Fanout } | null = null;
  /**
   * A shared event's frame went out on a socket: its publish-to-last-write, for `onFanout`. A fan-out loop writes an
   * event's frames one after the other without yielding, so the clock is read once, in a microtask queued at its first
   * write: it runs once the loop is over, and stamps the end of the last write.
   */
  const wroteShared = (event: object) => {
    if (writing?.event === event) {
      writing.fanout.writes += 1;
      return;
    }
    const publishedAt = options.onFanout ? eventPublishedAt(event) : undefined;
    if (publishedAt === undefined) return;
    let fanout = fanouts.get(event);
    if (!fanout) fanouts.set(event, (fanout = { publishedAt, lastWrite: publishedAt, writes: 0 }));
    fanout.writes += 1;
    const run = (writing = { event, fanout });
    queueMicrotask(() => {
      run.fanout.lastWrite = epochNow();
      if (writing === run) writing = null;
    });
  };
  const sendShared = (socket: WebSocket, id: string, shared: { json: string; event: object }) => {
    const head = nextHead(id);
    sharedFrames.get(socket)?.set(`${head}{}}`, { frame: `${head}${shared.json}}`, event: shared.event });
    return SHARED_PLACEHOLDER;
  };
  // No permessage-deflate: fan-out frames are written to the upgraded socket itself (src/server/ws-frames.ts).
  const wss = new WebSocketServer({ noServer: true, maxPayload: options.maxPayloadBytes, handleProtocols, perMessageDeflate: false });
  /** The upgraded connection under each WebSocket, where the fan-out writes its frames. */
  const rawSockets = new WeakMap<WebSocket, Duplex>();
  // Client faults graphql-ws would treat as its own internal errors (printed to the console, closed with 4500),
  // handled here first — this listener is registered before graphql-ws's own 'connection' listener:
  // - a frame that breaks the WebSocket framing (over maxPayload: 1009, invalid UTF-8: 1007, …): `ws` has already
  //   closed the socket with the right code when it emits the error, so it is only logged;
  // - a message of a type only the server sends (connection_ack, next, error): the protocol says a message of the
  //   wrong type or format closes the socket with 4400 (graphql-ws PROTOCOL.md), graphql-ws throws instead.
  // Counted over every process with REDIS_URL: the answer then comes from Redis, after graphql-ws has the socket.
  const anonymous = new AnonymousSockets(options.realtime.cluster);
  const anonymousIds = new WeakMap<WebSocket, string>();
  wss.on('connection', (socket: WebSocket, request: IncomingMessage) => {
    const address = options.clientAddress(request);
    const anonymousId = randomUUID();
    anonymousIds.set(socket, anonymousId);
    const refuse = (cap: 'total' | 'address') => {
      const refused = cap === 'total' ? SERVER_BUSY : TOO_MANY_ANONYMOUS;
      log.info({ reason: refused.reason, address }, 'websocket refused');
      socket.close(refused.code, refused.reason);
      // Not kept for `ws`'s 30 s closing handshake: a flood of refused sockets would hold that long.
      setTimeout(() => socket.terminate(), 1_000).unref();
    };
    const admitted = anonymous.admit(anonymousId, address, options.realtime.config);
    if (typeof admitted === 'string') return refuse(admitted);
    socket.once('close', () => anonymous.release(anonymousId));
    if (admitted) void admitted.then((cap) => cap && refuse(cap));
    spliceSharedFrames(socket, wroteShared);
    const emit = socket.emit.bind(socket);
    socket.emit = ((event: string | symbol, ...args: unknown[]) => {
      const error = args[0] as { code?: unknown; message?: string } | undefined;
      if (event === 'error' && typeof error?.code === 'string' && error.code.startsWith('WS_ERR_')) {
        log.info({ code: error.code, reason: error.message }, 'WebSocket closed for a protocol violation');
        return true;
      }
      if (event === 'message') {
        const type = serverOnlyType(args[0]);
        if (type) {
          socket.close(CloseCode.BadRequest, `Invalid message received: a client may not send ${type}`);
          return true;
        }
        // In-band token renewal (a `ping` whose payload carries `authorization`) is answered here, not by graphql-ws,
        // which would echo the token back in its `pong`.
        const renewal = renewalRequest(args[0]);
        if (renewal !== null) {
          renew(socket, renewal).catch((error: unknown) => {
            log.error({ err: error }, 'token renewal failed');
            socket.close(CloseCode.InternalServerError, 'Internal server error');
          });
          return true;
        }
      }
      return emit(event, ...args);
    }) as WebSocket['emit'];
  });

  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    const { pathname } = new URL(request.url ?? '/', 'http://localhost');
    if (pathname !== options.path) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    // CORS does not cover WebSockets: without this check any site could open a socket from a visitor's browser.
    if (!isAllowedWebSocketOrigin(request.headers.origin, request.headers.host, options.corsOrigins)) {
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => {
      rawSockets.set(ws, socket);
      wss.emit('connection', ws, request);
    });
  };
  options.server.on('upgrade', onUpgrade);

  /** Each socket's state, for the metrics' count of open subscriptions. */
  const states = new WeakMap<WebSocket, ConnectionState>();
  const state = (ctx: WsContext<Record<string, unknown> | undefined, Extra>): ConnectionState => {
    if (!ctx.extra.state) {
      ctx.extra.state = {
        connectionId: randomUUID(),
        authorization: null,
        handle: null,
        operations: new Map(),
        slots: new Set(),
        closed: new AbortController(),
      };
      states.set(ctx.extra.socket, ctx.extra.state);
    }
    return ctx.extra.state;
  };

  /**
   * Replaces the connection's token by a fresh one of the same user and session: later operations run with it, every
   * running subscription authorizes its next events with its scopes, and the expiry timer moves to its `exp`. Any
   * other token (invalid, expired, of another user or session, or on an anonymous connection) closes the socket.
   */
  const renew = async (socket: WebSocket, authorization: string) => {
    const connection = states.get(socket);
    const handle = connection?.handle;
    if (!connection || !handle?.viewerId) return closeForbidden(socket, RENEWAL_REFUSED.notSignedIn);
    if (authorization.trim() === '') return closeForbidden(socket, RENEWAL_REFUSED.invalid);
    let authentication;
    try {
      authentication = await core.authenticate(authorization);
    } catch (error) {
      if (!(error instanceof AuthenticationError)) throw error;
      log.info({ connectionId: handle.id, reason: error.reason }, 'token renewal refused');
      return closeForbidden(socket, RENEWAL_REFUSED.invalid);
    }
    const claims = authentication.claims;
    if (!claims || !options.realtime.sessions.renew(handle.id, claims)) {
      log.info({ connectionId: handle.id, userId: handle.viewerId }, 'token renewal refused: another user or session');
      return closeForbidden(socket, RENEWAL_REFUSED.otherSession);
    }
    connection.authorization = authorization;
    if (socket.readyState === socket.OPEN) socket.send(renewedPong(claims));
  };

  const run = async <T>(args: ExecutionArgs, go: (admission: Admission) => Promise<T>): Promise<T | ExecutionResult> => {
    const admission = core.admissionOf(args.contextValue);
    if (!admission) throw new Error('graphql-ws ran an operation that the operation core did not admit');
    return go(admission);
  };

  const overBuffered = (socket: WebSocket) => socket.bufferedAmount > options.realtime.config.maxBufferedBytes;
  const dropStalled = (socket: WebSocket, handle: ConnectionHandle | null | undefined) => {
    if (handle) return handle.drop('outgoing buffer over limit');
    if (socket.readyState === socket.OPEN) options.onDrop?.();
    socket.terminate();
  };
  const handles = new WeakMap<WebSocket, ConnectionHandle>();
  /**
   * The frames of a subscription's shared events, written by the core's fan-out loop (src/realtime/fanout.ts) as
   * `onNext` would: nothing on a socket that is gone, a socket over its outgoing buffer dropped, and the payload,
   * serialized once per event, framed with this subscription's id.
   */
  const writers = new WeakMap<Admission, WriteNext>();
  const nextWriter = (ctx: WsContext<Record<string, unknown> | undefined, Extra>, id: string): WriteNext => {
    const head = Buffer.from(nextHead(id));
    const { socket } = ctx.extra;
    const raw = rawSockets.get(socket);
    return (json, event) => {
      if (!writable(ctx)) return;
      if (raw) writeText(socket, raw, head, payloadBytes(json));
      else socket.send(`${head.toString()}${json}}`);
      if (typeof event === 'object' && event !== null) wroteShared(event);
    };
  };
  // The payload of the event being written, encoded once for all its frames (a fan-out loop writes one after another).
  let encoded = { json: '', bytes: Buffer.alloc(0) };
  const payloadBytes = (json: string) => {
    if (encoded.json !== json) encoded = { json, bytes: Buffer.from(`${json}}`) };
    return encoded.bytes;
  };
  /**
   * Whether a result may go out on the socket: not when it is gone (graphql-ws's send would fail and report it as an
   * operation error), and not past the bounded outgoing buffer, where a client that stopped reading is dropped so
   * the server's memory stays flat.
   */
  const writable = (ctx: WsContext<Record<string, unknown> | undefined, Extra>): boolean => {
    const socket = ctx.extra.socket;
    if (socket.readyState !== socket.OPEN) return false;
    if (!overBuffered(socket)) return true;
    dropStalled(socket, state(ctx).handle);
    return false;
  };
  // The check at each event misses a socket that stalled with its buffer full and then got no further event (its
  // subscriptions' queues hold what follows): this timer finds it.
  const bufferCheck = setInterval(() => {
    for (const socket of wss.clients) if (overBuffered(socket)) dropStalled(socket, handles.get(socket));
  }, BUFFER_CHECK_MS);
  bufferCheck.unref();

  const dispose = useServer<Record<string, unknown> | undefined, Extra>(
    {
      connectionInitWaitTimeout: options.connectionInitWaitTimeoutMs,
      // A token that is present but invalid closes the socket with 4403 Forbidden (returning false does that); the
      // graphql-ws client retries 4403, re-reading connectionParams, so a client can refresh its token and reconnect.
      // No token: an anonymous connection, limited to public operations.
      async onConnect(ctx) {
        const raw = ctx.connectionParams?.authorization ?? ctx.connectionParams?.Authorization;
        state(ctx).authorization = typeof raw === 'string' ? raw : null;
        if (raw !== undefined && raw !== null && typeof raw !== 'string') return false;
        const checkedAt = Date.now();
        try {
          const { viewer, claims, sessionId } = await core.authenticate(state(ctx).authorization);
          const { connections, config: limits } = options.realtime;
          const socket = ctx.extra.socket;
          const { sessions } = options.realtime;
          let slowClose = false;
          // The connection's claims as renewed in-band, once registered with the live sessions below.
          let live: LiveClaims | null = null;
          const handle: ConnectionHandle = {
            id: state(ctx).connectionId,
            viewerId: viewer?.id ?? null,
            currentClaims: () => live?.claims ?? null,
            // No close frame for a client that stopped reading (it would never receive it); see SLOW_SUBSCRIBER_CLOSE.
            // Once: every subscription of a stalled socket finds it over its bound at about the same moment.
            drop: (reason) => {
              if (slowClose) return;
              if (socket.readyState !== socket.OPEN) return socket.terminate();
              log.warn({ connectionId: handle.id, userId: handle.viewerId, reason }, 'websocket dropped');
              options.onDrop?.();
              if (reason !== SLOW_SUBSCRIBER || socket.bufferedAmount > 0) return socket.terminate();
              slowClose = true;
              socket.close(SLOW_SUBSCRIBER_CLOSE.code, SLOW_SUBSCRIBER_CLOSE.reason);
              setTimeout(() => socket.terminate(), SLOW_CLOSE_GRACE_MS).unref();
            },
          };
          // The per-user cap, over every process with REDIS_URL (then answered by Redis: the socket may close meanwhile).
          const admitted = connections.admit(handle, limits.maxConnectionsPerUser);
          if (!(typeof admitted === 'boolean' ? admitted : await admitted)) {
            log.info({ connectionId: handle.id, userId: handle.viewerId }, 'websocket refused: too many connections');
            socket.close(TOO_MANY_CONNECTIONS.code, TOO_MANY_CONNECTIONS.reason);
            return false;
          }
          state(ctx).handle = handle;
          handles.set(socket, handle);
          if (socket.readyState !== socket.OPEN) {
            connections.remove(handle.id);
            return false;
          }
          // Logout, revocation and expiry close the socket at once (src/realtime/live-sessions.ts).
          if (viewer && claims && sessionId) {
            live = sessions.add(
              { id: handle.id, transport: 'ws', userId: viewer.id, sessionId, close: (reason) => closeForbidden(socket, reason) },
              claims,
              checkedAt,
            );
          }
          if (viewer) anonymous.release(anonymousIds.get(socket) ?? '');
          // Revoked while its token was being checked: closed by sessions.add already, no acknowledgement.
          if (socket.readyState !== socket.OPEN) return false;
          // The token's expiry in the acknowledgement: the client knows when to renew (see live-socket.ts).
          return claims ? { expiresAt: new Date(claims.exp * 1_000).toISOString() } : true;
        } catch (error) {
          if (!(error instanceof AuthenticationError)) throw error;
          log.info({ connectionId: state(ctx).connectionId, reason: error.reason }, 'access token refused');
          return false;
        }
      },
      async onSubscribe(ctx, id, payload) {
        const connection = state(ctx);
        const socket = ctx.extra.socket;
        const outcome = await core.admit({
          query: payload.query,
          documentId: (payload as { documentId?: unknown }).documentId,
          extensions: payload.extensions,
          variables: payload.variables,
          operationName: payload.operationName,
          // The token is checked again for every operation: it may have expired, or its user been deactivated.
          authorization: connection.authorization,
          client: {
            transport: 'ws',
            ip: options.clientAddress(ctx.extra.request),
            log,
            // The upgrade request's trace headers: the socket's operations join the trace that opened it.
            trace: traceHeaders(ctx.extra.request.headers),
            connection: connection.handle ?? undefined,
            signal: connection.closed.signal,
            // An event that found the token expired before the expiry timer ran says so, as the timer would have.
            onRevoked: (reason) => closeForbidden(socket, reason === 'expired' ? CloseReason.EXPIRED : 'Forbidden'),
            // Checked and taken in one synchronous step: concurrent subscribes on one socket cannot overshoot.
            accepts: (operation) => {
              if (operation.operation !== 'subscription') return null;
              const max = options.realtime.config.maxSubscriptionsPerConnection;
              if (connection.slots.size < max) {
                connection.slots.add(id);
                return null;
              }
              return {
                error: new GraphQLError(`Too many subscriptions on this connection (at most ${max})`, {
                  extensions: { code: ErrorCode.RATE_LIMITED, limit: max },
                }),
                status: 429,
              };
            },
          },
        });
        connection.operations.set(id, outcome);
        if (outcome.kind === 'refused') connection.slots.delete(id);
        else if (outcome.operation.operation === 'subscription') writers.set(outcome, nextWriter(ctx, id));
        // Reaches the client as one `error` message (formatted in onError); the socket stays open, but for a token
        // that is no longer valid, closed with 4403 once the message is out.
        if (outcome.kind === 'refused') return outcome.errors;
        return core.executionArgs(outcome);
      },
      // graphql-ws hands back the arguments onSubscribe returned; their context names the admission.
      execute: (args) => run(args, (admission) => core.execute(admission)),
      subscribe: (args) => run(args, (admission) => core.subscribe(admission, writers.get(admission))),
      onNext(ctx, id, _payload, _args, result) {
        if (!writable(ctx)) return undefined;
        const admission = state(ctx).operations.get(id);
        if (admission?.kind !== 'admitted') return undefined;
        // One execution shared by many subscribers: its payload was serialized once, and goes out with this id.
        const shared = core.sharedPayload(result, admission);
        if (shared) return sendShared(ctx.extra.socket, id, shared);
        return core.complete(result, admission, { final: admission.operation.operation !== 'subscription' });
      },
      onError(ctx, id, _payload, errors) {
        const outcome = state(ctx).operations.get(id);
        state(ctx).operations.delete(id);
        state(ctx).slots.delete(id);
        if (outcome?.kind === 'refused') {
          if (outcome.unauthenticated) setImmediate(() => ctx.extra.socket.close(CloseCode.Forbidden, 'Forbidden'));
          return outcome.result.errors as never;
        }
        if (outcome?.kind !== 'admitted') return undefined;
        // A send that failed because the client went away (EPIPE, ECONNRESET, a dropped socket) is not the
        // operation's error: logging it would let one client write a stack trace per subscription on each disconnect.
        if (ctx.extra.socket.readyState !== ctx.extra.socket.OPEN) {
          core.finish(outcome);
          return undefined;
        }
        const graphqlErrors = errors.map((error) => (error instanceof GraphQLError ? error : new GraphQLError(String(error))));
        const formatted = core.formatErrors(graphqlErrors, outcome);
        core.finish(outcome, firstErrorCode(formatted));
        return formatted;
      },
      onComplete(ctx, id) {
        const outcome = state(ctx).operations.get(id);
        state(ctx).operations.delete(id);
        state(ctx).slots.delete(id);
        if (outcome?.kind === 'admitted') core.finish(outcome);
      },
      onClose(ctx) {
        const connection = ctx.extra.state;
        connection?.closed.abort();
        for (const outcome of connection?.operations.values() ?? []) if (outcome.kind === 'admitted') core.finish(outcome);
        if (connection?.handle) options.realtime.connections.remove(connection.handle.id);
        if (connection?.handle) options.realtime.sessions.remove(connection.handle.id);
      },
    },
    wss,
    options.keepAliveMs,
  );

  return {
    wss,
    /** Closes every socket with 1001 Going Away and stops accepting new ones. */
    async close() {
      clearInterval(bufferCheck);
      clearInterval(reportFanouts);
      options.server.off('upgrade', onUpgrade);
      await dispose.dispose();
    },
    get connectionCount() {
      return wss.clients.size;
    },
    /** Subscription slots held on open sockets (WS_MAX_SUBSCRIPTIONS counts the same). */
    get subscriptionCount() {
      let count = 0;
      for (const socket of wss.clients) count += states.get(socket)?.slots.size ?? 0;
      return count;
    },
  };
}
