/**
 * graphql-ws on `ws`, on the same port and path as HTTP. This adapter is the only code that sees sockets: it turns
 * `connection_init` into the shared context, applies the same validation rules and error masking as HTTP (Apollo's
 * plugins do not run here), and gives every subscription event fresh DataLoaders.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import {
  createSourceEventStream,
  execute,
  getOperationAST,
  Kind,
  getVariableValues,
  GraphQLError,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type GraphQLSchema,
} from 'graphql';
import { CloseCode, handleProtocols, type Context as WsContext } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import type { FastifyBaseLogger } from 'fastify';
import { WebSocketServer, type WebSocket } from 'ws';
import { AuthenticationError, type Context, type ContextBuilder } from '../auth/context.js';
import { scopeKey } from '../auth/scopes.js';
import { ErrorCode } from '../schema/shared/errors.js';
import { SHARED_EVENTS_EXTENSION } from '../schema/shared/shared-events.js';
import { firstErrorCode, formatError } from './errors.js';
import type { OperationPolicy } from './operation-policy.js';
import { costExtension, type CostExtension, type RateLimitGuard } from './rate-limit.js';
import { isAllowedWebSocketOrigin } from './security.js';
import { resolveTrustedDocument, type TrustedDocuments } from './trusted-documents.js';
import type { RateLimitContext } from '../schema/rate-limit/rate-limit.service.js';
import type { ConnectionHandle, RealtimeContext } from '../realtime/connections.js';
import type { Realtime } from '../realtime/realtime.js';

export interface WsOptions {
  server: Server;
  path: string;
  schema: GraphQLSchema;
  contextBuilder: ContextBuilder;
  policy: OperationPolicy;
  log: FastifyBaseLogger;
  keepAliveMs: number;
  connectionInitWaitTimeoutMs: number;
  maxPayloadBytes: number;
  exposeStack: boolean;
  /** Allowed browser origins (CORS_ORIGINS) for the upgrade's `Origin` check. */
  corsOrigins: readonly string[];
  rateLimits: RateLimitGuard;
  /** When set, only the manifest's documents run, by hash. */
  trusted: TrustedDocuments | null;
  hideSuggestions: boolean;
  /** Connection registry and limits: connections per user, subscriptions per connection, outgoing buffer. */
  realtime: Realtime;
}

/** Close code for a user's connection beyond WS_MAX_CONNECTIONS_PER_USER (RFC 6455 1008 Policy Violation). */
export const TOO_MANY_CONNECTIONS = { code: 1008, reason: 'Too many connections' } as const;

interface ConnectionState {
  connectionId: string;
  authorization: string | null;
  /** What services see of this connection, once `connection_init` was accepted. */
  handle: ConnectionHandle | null;
  /** `cost` is the rate-limit charge, sent in the operation's first result and then cleared. */
  operations: Map<
    string,
    { requestId: string; operationName: string | null; startedAt: number; cost?: CostExtension; subscription?: boolean }
  >;
}

type Extra = {
  socket: WebSocket;
  request: IncomingMessage;
  state?: ConnectionState;
};

/** Maps an async iterator without the async-generator trap: `return()` must not wait for the next event. */
function mapAsyncIterator<T, U>(source: AsyncIterable<T>, map: (value: T) => Promise<U> | U): AsyncIterableIterator<U> {
  const iterator = source[Symbol.asyncIterator]();
  const done = { value: undefined, done: true } as IteratorReturnResult<undefined>;
  return {
    async next() {
      const result = await iterator.next();
      return result.done ? done : { value: await map(result.value), done: false };
    },
    async return() {
      await iterator.return?.();
      return done;
    },
    async throw(error: unknown) {
      if (iterator.throw) await iterator.throw(error);
      throw error;
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  } as AsyncIterableIterator<U>;
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof (value as AsyncIterable<unknown>)?.[Symbol.asyncIterator] === 'function';
}

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

/** Results of one event, per document + variables + scopes; dropped with the event object. */
const sharedExecutions = new WeakMap<object, Map<string, Promise<ExecutionResult> | ExecutionResult>>();
const documentIds = new WeakMap<DocumentNode, number>();
let nextDocumentId = 0;

/** The share key of a subscription whose root fields are all @SharedEvents; null when its events may differ per viewer. */
function sharedEventsKey(args: ExecutionArgs): string | null {
  const operation = getOperationAST(args.document, args.operationName);
  const fields = args.schema.getSubscriptionType()?.getFields();
  if (!operation || !fields) return null;
  for (const selection of operation.selectionSet.selections) {
    if (selection.kind !== Kind.FIELD || fields[selection.name.value]?.extensions?.[SHARED_EVENTS_EXTENSION] !== true) return null;
  }
  let documentId = documentIds.get(args.document);
  if (documentId === undefined) documentIds.set(args.document, (documentId = nextDocumentId++));
  return `${documentId}\u0000${args.operationName ?? ''}\u0000${JSON.stringify(args.variableValues ?? {})}`;
}

export function attachGraphqlWs(options: WsOptions) {
  const { contextBuilder, policy, log } = options;
  const wss = new WebSocketServer({ noServer: true, maxPayload: options.maxPayloadBytes, handleProtocols });
  // Client faults graphql-ws would treat as its own internal errors (printed to the console, closed with 4500),
  // handled here first — this listener is registered before graphql-ws's own 'connection' listener:
  // - a frame that breaks the WebSocket framing (over maxPayload: 1009, invalid UTF-8: 1007, …): `ws` has already
  //   closed the socket with the right code when it emits the error, so it is only logged;
  // - a message of a type only the server sends (connection_ack, next, error): the protocol says a message of the
  //   wrong type or format closes the socket with 4400 (graphql-ws PROTOCOL.md), graphql-ws throws instead.
  wss.on('connection', (socket: WebSocket) => {
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
    wss.handleUpgrade(request, socket, head, (ws) => wss.emit('connection', ws, request));
  };
  options.server.on('upgrade', onUpgrade);

  const state = (ctx: WsContext<Record<string, unknown> | undefined, Extra>): ConnectionState => {
    ctx.extra.state ??= { connectionId: randomUUID(), authorization: null, handle: null, operations: new Map() };
    return ctx.extra.state;
  };

  const finish = (ctx: WsContext<Record<string, unknown> | undefined, Extra>, id: string, errorCode?: string) => {
    const operation = state(ctx).operations.get(id);
    if (!operation) return;
    state(ctx).operations.delete(id);
    log.info(
      {
        requestId: operation.requestId,
        transport: 'ws',
        operationName: operation.operationName,
        durationMs: Math.round((performance.now() - operation.startedAt) * 100) / 100,
        ...(errorCode ? { errorCode } : {}),
      },
      'graphql operation',
    );
  };

  const dispose = useServer<Record<string, unknown> | undefined, Extra>(
    {
      schema: options.schema,
      connectionInitWaitTimeout: options.connectionInitWaitTimeoutMs,
      // A token that is present but invalid closes the socket with 4403 Forbidden (returning false does that); the
      // graphql-ws client retries 4403, re-reading connectionParams, so a client can refresh its token and reconnect.
      // No token: an anonymous connection, limited to public operations.
      async onConnect(ctx) {
        const raw = ctx.connectionParams?.authorization ?? ctx.connectionParams?.Authorization;
        state(ctx).authorization = typeof raw === 'string' ? raw : null;
        if (raw !== undefined && raw !== null && typeof raw !== 'string') return false;
        try {
          const { viewer } = await contextBuilder.authenticate(state(ctx).authorization);
          const { connections, config: limits } = options.realtime;
          if (viewer && connections.countFor(viewer.id) >= limits.maxConnectionsPerUser) {
            log.info({ connectionId: state(ctx).connectionId, userId: viewer.id }, 'websocket refused: too many connections');
            ctx.extra.socket.close(TOO_MANY_CONNECTIONS.code, TOO_MANY_CONNECTIONS.reason);
            return false;
          }
          const socket = ctx.extra.socket;
          const handle: ConnectionHandle = {
            id: state(ctx).connectionId,
            viewerId: viewer?.id ?? null,
            // No close frame: a client that stopped reading would never receive it.
            drop: (reason) => {
              log.warn({ connectionId: handle.id, userId: handle.viewerId, reason }, 'websocket dropped');
              socket.terminate();
            },
          };
          state(ctx).handle = handle;
          connections.add(handle);
          return true;
        } catch (error) {
          if (!(error instanceof AuthenticationError)) throw error;
          log.info({ connectionId: state(ctx).connectionId, reason: error.reason }, 'access token refused');
          return false;
        }
      },
      async onSubscribe(ctx, id, payload) {
        const requestId = randomUUID();
        state(ctx).operations.set(id, {
          requestId,
          operationName: payload.operationName ?? null,
          startedAt: performance.now(),
        });
        let query: unknown = payload.query;
        if (options.trusted) {
          // Trusted mode: the manifest's text runs, named by hash; the client's query text is never parsed.
          const resolved = resolveTrustedDocument(options.trusted, {
            documentId: (payload as { documentId?: unknown }).documentId,
            extensions: payload.extensions,
          });
          if (resolved.error) return [resolved.error];
          query = resolved.query;
        }
        const prepared = policy.prepare(query);
        // Returned errors reach the client as one `error` message, through onError below; the socket stays open.
        if (prepared.errors) return prepared.errors;
        const operation = getOperationAST(prepared.document, payload.operationName);
        state(ctx).operations.get(id)!.operationName = payload.operationName ?? operation?.name?.value ?? null;
        if (operation?.operation === 'subscription') {
          const open = [...state(ctx).operations.values()].filter((entry) => entry.subscription).length;
          const max = options.realtime.config.maxSubscriptionsPerConnection;
          if (open >= max) {
            return [
              new GraphQLError(`Too many subscriptions on this connection (at most ${max})`, {
                extensions: { code: ErrorCode.RATE_LIMITED, limit: max },
              }),
            ];
          }
          state(ctx).operations.get(id)!.subscription = true;
        }
        if (operation) {
          // Variables are coerced before anything runs, as over HTTP: a wrong value is the client's error
          // (BAD_USER_INPUT), not an execution failure that the masking would turn into an internal error.
          const coerced = getVariableValues(options.schema, operation.variableDefinitions ?? [], payload.variables ?? {}, {
            maxErrors: 25,
          });
          if (coerced.errors) {
            return coerced.errors.map(
              (error) => new GraphQLError(error.message, { nodes: error.nodes, extensions: { code: ErrorCode.BAD_USER_INPUT } }),
            );
          }
        }
        const { cost, error: costError } = policy.cost(prepared.document, payload.operationName, payload.variables);
        if (costError) return [costError];
        let contextValue: Context;
        try {
          // The token is checked again for every operation: it may have expired, or its user been deactivated.
          contextValue = await contextBuilder.build({
            requestId,
            transport: 'ws',
            authorization: state(ctx).authorization,
            log,
            onRevoked: () => ctx.extra.socket.close(CloseCode.Forbidden, 'Forbidden'),
          });
        } catch (error) {
          if (!(error instanceof AuthenticationError)) throw error;
          log.info({ requestId, reason: error.reason }, 'access token refused');
          ctx.extra.socket.close(CloseCode.Forbidden, 'Forbidden');
          return [new GraphQLError(error.message, { extensions: { code: ErrorCode.UNAUTHENTICATED } })];
        }
        // Charged before anything executes; a subscription is charged once, when it starts.
        const refused = await options.rateLimits.charge({
          context: contextValue,
          clientIp: ctx.extra.request.socket.remoteAddress ?? 'unknown',
          document: prepared.document,
          operationName: payload.operationName,
          cost,
        });
        if (refused) return [refused];
        if (state(ctx).handle) (contextValue as RealtimeContext).connection = state(ctx).handle!;
        const entry = state(ctx).operations.get(id);
        if (entry && (contextValue as RateLimitContext).rateLimit) entry.cost = costExtension((contextValue as RateLimitContext).rateLimit!);
        return {
          schema: options.schema,
          document: prepared.document as DocumentNode,
          operationName: payload.operationName,
          variableValues: payload.variables,
          contextValue,
        } satisfies ExecutionArgs;
      },
      // Subscription events are executed with a fresh context each (new DataLoaders, the viewer checked again).
      // For subscriptions marked @SharedEvents, subscribers with the same document, variables and scopes share one
      // execution of each event: the pub/sub hands every subscriber the same event object, which keys the share.
      async subscribe(args) {
        const stream = await createSourceEventStream(args);
        if (!isAsyncIterable(stream)) return stream as ExecutionResult;
        const shareKey = sharedEventsKey(args);
        return mapAsyncIterator(stream, async (payload) => {
          const contextValue = await contextBuilder.forEvent(args.contextValue as Context);
          const run = () => execute({ ...args, rootValue: payload, contextValue });
          if (shareKey === null || payload === null || typeof payload !== 'object') return run();
          const key = `${shareKey}\u0000${scopeKey(contextValue.scopes)}`;
          let executions = sharedExecutions.get(payload);
          if (!executions) sharedExecutions.set(payload, (executions = new Map()));
          let result = executions.get(key);
          if (!result) executions.set(key, (result = Promise.resolve(run())));
          return result;
        });
      },
      execute: (args) => execute(args),
      onNext(ctx, id, _payload, args, result) {
        // Bounded outgoing buffer: a client that stops reading is dropped, so the server's memory stays flat.
        if (ctx.extra.socket.bufferedAmount > options.realtime.config.maxBufferedBytes) {
          state(ctx).handle?.drop('outgoing buffer over limit') ?? ctx.extra.socket.terminate();
          return undefined;
        }
        const requestId = (args.contextValue as Context).requestId;
        const errors = result.errors?.map((error) =>
          formatError(error, {
            requestId,
            log,
            defaultCode: ErrorCode.BAD_USER_INPUT,
            exposeStack: options.exposeStack,
            hideSuggestions: options.hideSuggestions,
          }),
        );
        const entry = state(ctx).operations.get(id);
        const cost = entry?.cost;
        if (entry) entry.cost = undefined;
        if (errors) finish(ctx, id, firstErrorCode(errors));
        if (!errors && !cost) return undefined;
        return { ...result, ...(errors ? { errors } : {}), ...(cost ? { extensions: { ...result.extensions, cost } } : {}) };
      },
      onError(ctx, id, _payload, errors) {
        const requestId = state(ctx).operations.get(id)?.requestId;
        const formatted = errors.map((error) =>
          formatError(error instanceof GraphQLError ? error : new GraphQLError(String(error)), {
            requestId,
            log,
            defaultCode: ErrorCode.GRAPHQL_VALIDATION_FAILED,
            exposeStack: options.exposeStack,
            hideSuggestions: options.hideSuggestions,
          }),
        );
        finish(ctx, id, firstErrorCode(formatted));
        return formatted;
      },
      onComplete(ctx, id) {
        finish(ctx, id);
      },
      onClose(ctx) {
        const handle = ctx.extra.state?.handle;
        if (handle) options.realtime.connections.remove(handle.id);
      },
    },
    wss,
    options.keepAliveMs,
  );

  return {
    wss,
    /** Closes every socket with 1001 Going Away and stops accepting new ones. */
    async close() {
      options.server.off('upgrade', onUpgrade);
      await dispose.dispose();
    },
    get connectionCount() {
      return wss.clients.size;
    },
  };
}

export { CloseCode };
