/**
 * GraphQL over Server-Sent Events (graphql-sse's "distinct connections" mode) on `/graphql`: a request with
 * `Accept: text/event-stream` runs its one operation through the operation core and streams the results as `next`
 * events, then `complete`. The same admission (limits, trusted documents, authentication from the `Authorization`
 * header, cost, rate limit), masking and per-event authorization as HTTP and graphql-ws hold here.
 *
 * Single-connection mode is off (`authenticate` returns null): its reservations are in-memory state of one process
 * that any caller could create without bound, and graphql-ws already multiplexes operations over one connection.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { GraphQLError } from 'graphql';
import { createHandler } from 'graphql-sse/lib/use/fastify';
import type { Authentication } from '../auth/identity.js';
import type { ConnectionHandle } from '../realtime/connections.js';
import type { Realtime } from '../realtime/realtime.js';
import { ErrorCode } from '../schema/shared/errors.js';
import { errorEnvelope } from './errors.js';
import type { Admission, OperationCore, TransportRefusal } from './operation.js';
import { getOnly, readParams, type OperationParams } from './params.js';
import { traceHeaders } from '../tracing.js';

export interface SseOptions {
  path: string;
  core: OperationCore;
  /** Connection registry and limits, shared with graphql-ws: connections per user, undelivered events. */
  realtime: Realtime;
  /** The Content-Security-Policy of API responses (set by an onSend hook, which a hijacked reply skips). */
  contentSecurityPolicy: string;
  /** Called once per stream dropped because its client stopped reading (the metrics count them). */
  onDrop?(): void;
}

interface StreamState {
  reply: FastifyReply;
  admission?: Admission;
  handle?: ConnectionHandle;
  /** Results handed to graphql-sse and results written to the socket: their difference is the undelivered queue. */
  produced: number;
  written: number;
  /** The request's parameters, read and checked before graphql-sse sees the request. */
  params: OperationParams;
  /** The stream cursor of the event being delivered, and those of the results not yet written, in order. */
  cursor?: string;
  ids: Array<string | undefined>;
}

/**
 * An event stream is what the client prefers: `text/event-stream` is its first (or only) accepted type. A client that
 * lists JSON first gets GraphQL over HTTP.
 */
export function wantsEventStream(request: FastifyRequest): boolean {
  const accept = request.headers.accept;
  // Every GraphQL request asks this: most name no event stream at all.
  if (accept === undefined || !/text\/event-stream/i.test(accept)) return false;
  const first = accept.split(',')[0]?.split(';')[0]?.trim().toLowerCase();
  return first === 'text/event-stream';
}

export function registerGraphqlSse(fastify: FastifyInstance, options: SseOptions) {
  const { core, realtime } = options;
  const streams = new WeakMap<FastifyRequest, StreamState>();
  /** Open event streams, ended at shutdown (an HTTP drain would otherwise wait for them until the grace period). */
  const open = new Set<StreamState>();
  let closing = false;

  /** GET runs queries and subscriptions (EventSource); mutations need POST. */
  const methodRule =
    (method: string) =>
    ({ operation }: { operation: string }): TransportRefusal | null =>
      getOnly(method, operation, ['query', 'subscription']);

  /**
   * A subscription holds its stream open like a socket: it counts against the same per-user cap, and is registered
   * in the same step as the check (synchronous in process, one Redis script with REDIS_URL), so concurrent streams of
   * one user cannot overshoot it.
   */
  const capRule =
    (stream: StreamState, handle: ConnectionHandle) =>
    (authentication: Authentication, { operation }: { operation: string }): TransportRefusal | null | Promise<TransportRefusal | null> => {
      const { viewer, claims, sessionId } = authentication;
      if (operation !== 'subscription') return null;
      const max = realtime.config.maxConnectionsPerUser;
      // Set before the answer: a stream that closes while Redis answers unregisters it (see `close`).
      const entry = (stream.handle = { ...handle, viewerId: viewer?.id ?? null });
      const decide = (admitted: boolean): TransportRefusal | null => {
        if (!admitted) {
          stream.handle = undefined;
          return {
            error: new GraphQLError('Too many connections', { extensions: { code: ErrorCode.RATE_LIMITED, limit: max } }),
            status: 429,
          };
        }
        // Closed while it waited: its `close` has run already.
        if (stream.reply.raw.destroyed) {
          realtime.connections.remove(entry.id);
          return null;
        }
        // Logout, revocation and expiry end the stream at once with a final event (src/realtime/live-sessions.ts).
        if (viewer && claims && sessionId) {
          realtime.sessions.add(
            { id: handle.id, transport: 'sse', userId: viewer.id, sessionId, close: (reason) => endRevoked(stream, reason) },
            claims,
          );
        }
        return null;
      };
      const admitted = realtime.connections.admit(entry, max);
      return typeof admitted === 'boolean' ? decide(admitted) : admitted.then(decide);
    };

  const close = (stream: StreamState) => {
    if (stream.admission) core.finish(stream.admission);
    if (stream.handle) realtime.connections.remove(stream.handle.id);
    if (stream.handle) realtime.sessions.remove(stream.handle.id);
  };

  /**
   * The end of a stream whose session was revoked or whose token expired: a last `next` event with an UNAUTHENTICATED
   * error naming the reason, then `complete`, so the client knows why it ended and does not simply reconnect with the
   * same token.
   */
  const endRevoked = (stream: StreamState, reason: string) => {
    const socket = stream.reply.raw;
    if (socket.writableEnded || socket.destroyed) return;
    const final = { errors: [{ message: 'Could not validate credentials', extensions: { code: ErrorCode.UNAUTHENTICATED, reason } }] };
    socket.write(`event: next\ndata: ${JSON.stringify(final)}\n\n`);
    socket.end('event: complete\ndata:\n\n');
  };

  const handler = createHandler({
    authenticate: () => null,
    async onSubscribe(req) {
      const request = req.raw;
      const stream = streams.get(request)!;
      const socket = stream.reply.raw;
      const lastEventId = request.headers['last-event-id'];
      const handle: ConnectionHandle = {
        id: randomUUID(),
        viewerId: null,
        // The EventSource reconnect header names the same resume point as a subscription's `after` argument.
        lastEventId: typeof lastEventId === 'string' && lastEventId !== '' ? lastEventId : null,
        delivered: (cursor) => {
          stream.cursor = cursor;
        },
        drop: (reason) => {
          if (socket.destroyed) return;
          request.log.warn({ connectionId: handle.id, reason }, 'event stream dropped');
          options.onDrop?.();
          socket.destroy();
        },
      };
      // The stream closed before its answer: the operation's SQL statements are cancelled (src/db/cancellation.ts).
      const gone = new AbortController();
      socket.once('close', () => socket.writableFinished || gone.abort());
      const outcome = await core.admit({
        ...stream.params,
        authorization: request.headers.authorization,
        client: {
          transport: 'sse',
          ip: request.ip,
          log: request.log,
          requestId: request.id,
          trace: traceHeaders(request.headers),
          accepts: methodRule(request.method),
          admitsCaller: capRule(stream, handle),
          onRevoked: () => socket.destroy(),
          signal: gone.signal,
        },
      });
      if (outcome.kind === 'refused') {
        if (stream.handle) realtime.connections.remove(stream.handle.id);
        stream.handle = undefined;
        return [
          JSON.stringify(outcome.result),
          {
            status: outcome.status,
            statusText: outcome.status === 200 ? 'OK' : 'Refused',
            headers: {
              'content-type': 'application/json; charset=utf-8',
              ...outcome.headers,
              ...(outcome.status === 401 ? { 'www-authenticate': 'Bearer error="invalid_token"' } : {}),
            },
          },
        ];
      }
      stream.admission = outcome;
      if (outcome.operation.operation !== 'subscription') return core.execute(outcome);
      if (stream.handle) outcome.context.connection = stream.handle;
      return core.subscribe(outcome);
    },
    onNext(_ctx, req, result) {
      const stream = streams.get(req.raw)!;
      const admission = stream.admission;
      if (!admission) return undefined;
      // Called once per result, after its event was taken from the stream and before the next one is: the cursor
      // delivered last is this result's, written as its SSE `id` (what EventSource sends back as Last-Event-ID).
      stream.ids.push(stream.cursor);
      stream.cursor = undefined;
      // A bounded queue per stream: graphql-sse buffers events without limit while the client does not read.
      stream.produced += 1;
      if (stream.produced - stream.written > realtime.config.subscriptionQueueLimit) {
        if (stream.handle) stream.handle.drop('undelivered events over limit');
        else if (!stream.reply.raw.destroyed) {
          options.onDrop?.();
          stream.reply.raw.destroy();
        }
        return undefined;
      }
      // graphql-sse sends what onNext returns as is: the masked, formatted result.
      return core.complete(result as never, admission, { final: admission.operation.operation !== 'subscription' }) as never;
    },
    onComplete(_ctx, req) {
      const stream = streams.get(req.raw);
      if (stream) close(stream);
    },
  });

  // Before the HTTP adapter's own preHandler: an event-stream request on the GraphQL path is SSE's. Every other
  // request passes on at once, without a promise.
  fastify.addHook('preHandler', (request, reply, done) => {
    if (request.routeOptions.url !== options.path || !wantsEventStream(request)) return done();
    openStream(request, reply).then(() => done(), done);
  });

  // A reply sent here ends the request: Fastify runs no further hook or handler once a reply is sent or hijacked.
  async function openStream(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    if (closing) {
      void reply
        .code(503)
        .header('retry-after', '1')
        .send(errorEnvelope('The server is shutting down', ErrorCode.BAD_REQUEST, request.id));
      return;
    }
    // Anything but one well-formed request is refused here: graphql-sse would read a body Fastify already consumed
    // (and wait for it forever) or answer without a code.
    const read = readParams(request);
    if ('error' in read) {
      void reply.code(400).send(errorEnvelope(read.error, ErrorCode.BAD_REQUEST, request.id));
      return;
    }
    const stream: StreamState = { reply, produced: 0, written: 0, params: read.params, ids: [] };
    streams.set(request, stream);
    const write = reply.raw.write.bind(reply.raw) as (...args: unknown[]) => boolean;
    reply.raw.write = ((chunk: unknown, ...rest: unknown[]) => {
      if (typeof chunk === 'string' && chunk.startsWith('event: next')) {
        stream.written += 1;
        const id = stream.ids.shift();
        if (id) return write(`id: ${id}\n${chunk}`, ...rest);
      }
      return write(chunk, ...rest);
    }) as typeof reply.raw.write;
    open.add(stream);
    reply.raw.once('close', () => {
      open.delete(stream);
      close(stream);
    });
    // graphql-sse insists on a `query` string; a trusted or persisted document is named by hash instead.
    if (typeof read.params.query !== 'string') {
      if (request.method === 'GET') request.raw.url = `${request.raw.url}${request.raw.url?.includes('?') ? '&' : '?'}query=`;
      else (request.body as Record<string, unknown>).query = '';
    }
    void reply.header('content-security-policy', options.contentSecurityPolicy);
    // graphql-sse compares the header as a whole; parameters and further types were read above.
    request.headers.accept = 'text/event-stream';
    reply.hijack();
    try {
      await handler(request, reply);
    } catch (error) {
      request.log.error({ err: error }, 'event stream failed');
      if (!reply.raw.headersSent) reply.raw.writeHead(500, { 'content-type': 'application/json; charset=utf-8' });
      reply.raw.end(
        JSON.stringify({
          errors: [{ message: 'Internal server error', extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR, requestId: request.id } }],
        }),
      );
    }
  }

  return {
    /** Open event streams, and those of them that run a subscription (for the metrics). */
    get streamCount() {
      return open.size;
    },
    get subscriptionCount() {
      let count = 0;
      for (const stream of open) if (stream.admission?.operation.operation === 'subscription' && !stream.admission.finished) count += 1;
      return count;
    },
    /** Ends every open stream: the client's EventSource or graphql-sse client reconnects, to another process. */
    close() {
      closing = true;
      for (const stream of open) stream.reply.raw.end();
    },
  };
}
