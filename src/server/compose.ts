/**
 * Wiring: configuration → pub/sub → container → schema → operation core → the three transports (HTTP, graphql-ws,
 * SSE) on one Fastify server and one path. Only src/server touches Fastify, requests and sockets; everything below
 * sees the shared Context.
 */
import { randomUUID } from 'node:crypto';
import fastifyCompress from '@fastify/compress';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import type { GraphQLSchema } from 'graphql';
import type { Config } from '../config.js';
import { createContextBuilder } from '../schema/context.js';
import { bootstrapAdmin } from '../schema/user/bootstrap.js';
import type { DatabaseHandle } from '../db/client.js';
import { boundLogger, loggerOptions, type RootLogger } from '../log.js';
import { createAppPubSub, type AppPubSub, type RedisErrorHandler } from '../pubsub/pubsub.js';
import { createContainer, type Container } from '../schema/container.js';
import { createSchema } from '../schema/index.js';
import { ErrorCode } from '../schema/shared/errors.js';
import { errorEnvelope } from './errors.js';
import { clientAddressOf, trustFunction } from './client-address.js';
import { registerDashboard } from './dashboard.js';
import { registerGraphiql } from './graphiql.js';
import { registerHealth } from './health.js';
import { registerDownloads } from './downloads.js';
import { registerFileRoutes } from './files.js';
import { registerGraphqlHttp } from './http.js';
import { createMetrics, registerMetrics } from './metrics.js';
import { JobRunner } from '../jobs/runner.js';
import type { JobDefinition } from '../jobs/types.js';
import { createOperationCore, type OperationCoreOptions } from './operation.js';
import { createOperationPolicy } from './operation-policy.js';
import { createRateLimitGuard } from './rate-limit.js';
import { API_CSP, registerSecurity } from './security.js';
import { shutdownSequence } from './shutdown.js';
import { registerGraphqlSse } from './sse.js';
import { TrustedDocuments } from './trusted-documents.js';
import { attachGraphqlWs } from './ws.js';
import { tracerFor } from '../tracing.js';

export const GRAPHQL_PATH = '/graphql';

/** The largest WebSocket message and HTTP body, in bytes. */
export const MAX_PAYLOAD_BYTES = 1_048_576;

export interface AppOptions {
  config: Config;
  database: DatabaseHandle;
  /** Overrides the pub/sub built from config (tests share one across servers). */
  pubsub?: AppPubSub;
  /** Where log lines go (tests capture them); standard output when absent. */
  logStream?: { write(line: string): void };
  /** Job kinds added to or replacing the built-in ones (tests inject handlers that fail on purpose). */
  jobHandlers?: readonly JobDefinition[];
  /** Observes the operation core's steps (tests count them). */
  onOperationStep?: OperationCoreOptions['onStep'];
}

export interface App {
  fastify: FastifyInstance;
  container: Container;
  /** This process's job runner (started by listen, stopped first by close). */
  runner: JobRunner;
  schema: GraphQLSchema;
  /** Starts listening; resolves to the base URL, e.g. http://127.0.0.1:4000. */
  listen(): Promise<string>;
  /** Graceful stop: no new connections, WebSocket clients closed with 1001, HTTP drained, database closed. */
  close(): Promise<void>;
}

export async function createApp(options: AppOptions): Promise<App> {
  const { config, database } = options;
  // Redis errors are logged once Fastify's logger exists (the first ones come from connecting, later).
  let logRedisError: RedisErrorHandler = () => {};
  const pubsub =
    options.pubsub ?? createAppPubSub(config.redisUrl, (error, client) => logRedisError(error, client), { prefix: config.redisPrefix });
  const container = createContainer({ config, db: database.db, pubsub: pubsub.pubsub, jobHandlers: options.jobHandlers });
  const schema = await createSchema({ pubsub: pubsub.pubsub });
  const contextBuilder = createContextBuilder(container, { authCacheTtlMs: config.jwt.authCacheTtlMs });
  const policy = createOperationPolicy(schema, { introspection: config.introspection, limits: config.limits });
  const exposeStack = config.nodeEnv === 'development';
  // Production hides "Did you mean …?" hints: they let a caller map a schema whose introspection is off.
  const hideSuggestions = config.nodeEnv === 'production';
  const metrics = createMetrics();
  const tracer = tracerFor(config.tracing, 'opshub');
  const core = createOperationCore({
    schema,
    policy,
    contextBuilder,
    rateLimits: createRateLimitGuard(container.services.rateLimit),
    trusted: config.trustedDocuments ? TrustedDocuments.load(config.trustedDocuments) : null,
    exposeStack,
    hideSuggestions,
    subscriptionQueueLimit: config.realtime.subscriptionQueueLimit,
    onStep: options.onOperationStep,
    onOperation: (report) => metrics.operation(report),
    tracer,
  });

  const fastify = Fastify({
    logger: loggerOptions(config.logLevel, options.logStream),
    bodyLimit: MAX_PAYLOAD_BYTES,
    trustProxy: trustFunction(config.trustProxy) ?? false,
    requestTimeout: config.http.requestTimeoutMs,
    connectionTimeout: config.http.connectionTimeoutMs,
    keepAliveTimeout: config.http.keepAliveTimeoutMs,
    // Node checks the request and header timeouts every 30 s by default; a second keeps a slow client's overrun short.
    http: {
      headersTimeout: Math.min(config.http.headersTimeoutMs, config.http.requestTimeoutMs),
      connectionsCheckingInterval: 1_000,
    },
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
    logController: new LogController({ requestIdLogLabel: 'requestId' }),
    // `request.log` carries the request id in every line without a pino child per request (src/log.ts).
    childLoggerFactory: (logger, bindings, options) => boundLogger(logger as unknown as RootLogger, bindings, options) as FastifyBaseLogger,
    forceCloseConnections: 'idle',
    return503OnClosing: true,
  });
  logRedisError = (error, client) => fastify.log.warn({ err: error, client }, 'redis pub/sub connection failed');
  // Before any route (the plugin hooks each route as it is added). Responses of 1 KB and more, brotli or gzip as the
  // client prefers; event streams are never compressed (the plugin skips text/event-stream, and the SSE transport
  // writes to the hijacked socket). Request bodies are not decompressed: a small compressed body could expand far past
  // MAX_PAYLOAD_BYTES before the body limit sees it.
  await fastify.register(fastifyCompress, { threshold: 1_024, encodings: ['br', 'gzip'], globalDecompression: false });
  // A client-chosen request id is kept only when it is short and plain; anything else is replaced. The hooks that run
  // on every request take Fastify's callback (no promise per request and hook).
  fastify.addHook('onRequest', (request, reply, done) => {
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(request.id)) request.id = randomUUID();
    void reply.header('x-request-id', request.id);
    done();
  });
  // Errors raised before GraphQL runs (body too large, malformed JSON, unsupported media type) keep the GraphQL
  // response shape, so clients parse one format.
  fastify.setErrorHandler((error: FastifyError, request, reply) => {
    const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    if (status === 500) request.log.error({ err: error }, 'request failed');
    return reply
      .code(status)
      .send(
        status === 500
          ? errorEnvelope('Internal server error', ErrorCode.INTERNAL_SERVER_ERROR, request.id)
          : errorEnvelope(error.message, ErrorCode.BAD_REQUEST, request.id),
      );
  });

  await registerSecurity(fastify, { corsOrigins: config.corsOrigins });
  // A browser pointed at the bare origin lands on GraphiQL in development; production keeps `/` a 404.
  if (config.nodeEnv === 'development') fastify.get('/', { logLevel: 'warn' }, async (_request, reply) => reply.redirect(GRAPHQL_PATH));
  registerMetrics(fastify, metrics, { token: config.metricsToken, production: config.nodeEnv === 'production' });
  registerDownloads(fastify, { contextBuilder, jobs: container.services.jobs, files: container.services.files });
  await registerFileRoutes(fastify, { files: container.services.files, maxUploadBytes: Math.max(...Object.values(config.files.maxBytes)) });
  const runner = new JobRunner({
    jobs: container.repos.jobs,
    users: container.repos.users,
    queue: container.queue,
    config: config.jobs,
    log: fastify.log.child({ component: 'jobs' }),
    onRun: (kind, outcome) => metrics.jobRun(kind, outcome),
    tracer,
  });
  registerHealth(fastify, { database, redis: pubsub.reachable, jobs: () => runner.health() });
  const unobserve = pubsub.observe((origin, delayMs) => metrics.pubsubEvent(origin, delayMs));
  metrics.sources.runningJobs = () => runner.activeCount;
  metrics.sources.jobs = () => container.repos.jobs.queueStats();
  // Over every process with REDIS_URL, as last read (each liveness tick reads them).
  metrics.sources.realtime = () => container.services.realtime.connections.cachedCounts;
  container.services.realtime.cluster?.setLog(fastify.log.child({ component: 'cluster' }));
  // Loads (or generates) the signing keys now, so a bad key stops start-up instead of the first login.
  const signingKeys = await container.services.tokens.keys();
  await bootstrapAdmin(container.services.users, config, fastify.log);
  if (signingKeys.jwks) {
    const jwks = signingKeys.jwks;
    fastify.get('/.well-known/jwks.json', { logLevel: 'warn' }, async (_request, reply) =>
      reply.header('cache-control', 'public, max-age=300').send(jwks),
    );
  }
  if (config.graphiql) await registerGraphiql(fastify, GRAPHQL_PATH);
  if (config.graphiql || config.dashboard) registerDashboard(fastify, { graphqlPath: GRAPHQL_PATH });
  const sse = registerGraphqlSse(fastify, {
    path: GRAPHQL_PATH,
    core,
    realtime: container.services.realtime,
    contentSecurityPolicy: API_CSP,
    onDrop: () => metrics.dropped('sse'),
  });
  metrics.sources.sse = () => ({ streams: sse.streamCount, subscriptions: sse.subscriptionCount });
  const apollo = await registerGraphqlHttp(fastify, {
    path: GRAPHQL_PATH,
    schema,
    core,
    policy,
    introspection: config.introspection,
    debugSql: config.debugSql,
    exposeStack,
    hideSuggestions,
  });

  let ws: ReturnType<typeof attachGraphqlWs> | null = null;
  const close = shutdownSequence([
    () => runner.stop(config.shutdownGraceMs * 0.8),
    () => ws?.close(),
    () => sse.close(),
    () => fastify.close(),
    () => apollo.stop(),
    () => contextBuilder.close(),
    () => container.close(),
    () => unobserve(),
    () => (options.pubsub ? undefined : pubsub.close()),
    () => database.close(),
  ]);

  return {
    fastify,
    container,
    runner,
    schema,
    async listen() {
      const address = await fastify.listen({ port: config.port, host: config.host });
      ws = attachGraphqlWs({
        server: fastify.server,
        path: GRAPHQL_PATH,
        core,
        log: fastify.log,
        keepAliveMs: config.realtime.keepAliveMs,
        realtime: container.services.realtime,
        connectionInitWaitTimeoutMs: config.wsConnectionInitTimeoutMs,
        corsOrigins: config.corsOrigins,
        maxPayloadBytes: MAX_PAYLOAD_BYTES,
        clientAddress: clientAddressOf(config.trustProxy),
        onDrop: () => metrics.dropped('ws'),
        onFanout: (fanout) => metrics.fanout(fanout.ms),
      });
      const socket = ws;
      metrics.sources.ws = () => ({ connections: socket.connectionCount, subscriptions: socket.subscriptionCount });
      runner.start();
      return address.replace('[::1]', '127.0.0.1').replace('0.0.0.0', '127.0.0.1');
    },
    close,
  };
}
