/**
 * The OpsHub server: Fastify with Apollo Server on `/graphql` (HTTP) and graphql-ws on the same port and path.
 * Only src/server touches Fastify, requests and sockets; everything below sees the shared Context.
 */
import { randomUUID } from 'node:crypto';
import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import fastifyApollo, { fastifyApolloDrainPlugin } from '@as-integrations/fastify';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import { getOperationAST, type GraphQLError, type GraphQLSchema } from 'graphql';
import type { Config } from '../config.js';
import { AuthenticationError, createContextBuilder, type Authentication, type Context } from '../auth/context.js';
import { bootstrapAdmin } from '../auth/bootstrap.js';
import type { DatabaseHandle } from '../db/client.js';
import { newSqlStats, withSqlStats, type SqlStats } from '../db/sql-stats.js';
import { createAppPubSub, type AppPubSub } from '../pubsub/pubsub.js';
import { createContainer, type Container } from '../schema/container.js';
import { createSchema } from '../schema/index.js';
import { firstErrorCode, formatError, isPublicError } from './errors.js';
import { registerGraphiql } from './graphiql.js';
import { registerHealth } from './health.js';
import { registerDownloads } from './downloads.js';
import { JobRunner } from '../jobs/runner.js';
import type { JobDefinition } from '../jobs/types.js';
import { checkDocument } from './limits.js';
import { createOperationPolicy } from './operation-policy.js';
import { costExtension, createRateLimitGuard, rateLimitHeaders } from './rate-limit.js';
import { registerSecurity } from './security.js';
import { applyTrustedDocument, TrustedDocuments } from './trusted-documents.js';
import type { RateLimitContext } from '../schema/rate-limit/rate-limit.service.js';
import { attachGraphqlWs } from './ws.js';

export const GRAPHQL_PATH = '/graphql';

/** Wire-level defaults; see the README's configuration table. */
export const serverDefaults = {
  keepAliveMs: 12_000, // graphql-ws ping interval, below common proxy idle timeouts (30–60 s)
  connectionInitWaitTimeoutMs: 3_000, // ms a socket may stay open before `connection_init`
  maxPayloadBytes: 1_048_576, // largest WebSocket message and HTTP body
} as const;

export interface AppOptions {
  config: Config;
  database: DatabaseHandle;
  /** Overrides the pub/sub built from config (tests share one across servers). */
  pubsub?: AppPubSub;
  /** Where log lines go (tests capture them); standard output when absent. */
  logStream?: { write(line: string): void };
  /** Job kinds added to or replacing the built-in ones (tests inject handlers that fail on purpose). */
  jobHandlers?: readonly JobDefinition[];
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

const REDACT = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  '*.password',
  '*.accessToken',
  '*.refreshToken',
  '*.token',
  'variables.input.password',
  'variables.password',
  'variables.refreshToken',
];

type HttpContext = Context & RateLimitContext & { sqlStats?: SqlStats; clientIp: string };

export async function createApp(options: AppOptions): Promise<App> {
  const { config, database } = options;
  const pubsub = options.pubsub ?? createAppPubSub(config.redisUrl);
  const container = createContainer({ config, db: database.db, pubsub: pubsub.pubsub, jobHandlers: options.jobHandlers });
  const schema = await createSchema({ pubsub: pubsub.pubsub });
  const contextBuilder = createContextBuilder(container);
  const policy = createOperationPolicy(schema, { introspection: config.introspection, limits: config.limits });
  const exposeStack = config.nodeEnv === 'development';
  // Production hides "Did you mean …?" hints: they let a caller map a schema whose introspection is off.
  const hideSuggestions = config.nodeEnv === 'production';
  const rateLimits = createRateLimitGuard(container.services.rateLimit);
  const trusted = config.trustedDocuments ? TrustedDocuments.load(config.trustedDocuments) : null;

  const fastify = Fastify({
    logger: {
      level: config.logLevel,
      redact: { paths: REDACT, censor: '[redacted]' },
      ...(options.logStream ? { stream: options.logStream } : {}),
    },
    bodyLimit: serverDefaults.maxPayloadBytes,
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
    logController: new LogController({ requestIdLogLabel: 'requestId' }),
    forceCloseConnections: 'idle',
    return503OnClosing: true,
  });
  // A client-chosen request id is kept only when it is short and plain; anything else is replaced.
  fastify.addHook('onRequest', async (request, reply) => {
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(request.id)) request.id = randomUUID();
    void reply.header('x-request-id', request.id);
  });

  const operationLog: ApolloServerPlugin<HttpContext> = {
    async requestDidStart({ contextValue }) {
      const startedAt = performance.now();
      return {
        // The static cost is known once the operation is resolved; over the limit nothing executes.
        async didResolveOperation({ document, operationName, request }) {
          const { cost, error } = policy.cost(document, operationName, request.variables);
          if (error) throw error;
          // Charged before execution: a refused operation runs nothing.
          const refused = await rateLimits.charge({ context: contextValue, clientIp: contextValue.clientIp, document, operationName, cost });
          if (refused) throw refused;
        },
        async didEncounterErrors({ errors }) {
          for (const error of errors) {
            if (!isPublicError(error as GraphQLError)) {
              contextValue.log.error(
                { err: error.originalError ?? error, path: error.path },
                'Unexpected error in a GraphQL operation',
              );
            }
          }
        },
        async willSendResponse({ response, operationName, request, document }) {
          const body = response.body;
          const errors = body.kind === 'single' ? body.singleResult.errors : undefined;
          for (const error of errors ?? []) {
            (error as { extensions?: Record<string, unknown> }).extensions = {
              ...error.extensions,
              requestId: contextValue.requestId,
            };
          }
          const ticket = contextValue.rateLimit;
          if (ticket) {
            for (const [name, value] of Object.entries(rateLimitHeaders(ticket))) response.http.headers.set(name, value);
            if (body.kind === 'single') {
              body.singleResult.extensions = { ...body.singleResult.extensions, cost: costExtension(ticket) };
            }
          }
          if (body.kind === 'single' && contextValue.sqlStats) {
            body.singleResult.extensions = {
              ...body.singleResult.extensions,
              sql: {
                statements: contextValue.sqlStats.statements,
                ms: Math.round((performance.now() - contextValue.sqlStats.startedAt) * 100) / 100,
              },
            };
          }
          contextValue.log.info(
            {
              transport: 'http',
              // Named by the client, or by the document when it failed validation before Apollo resolved it.
              operationName: operationName ?? request.operationName ?? (document ? getOperationAST(document)?.name?.value : null) ?? null,
              durationMs: Math.round((performance.now() - startedAt) * 100) / 100,
              ...(errors?.length ? { errorCode: firstErrorCode(errors) } : {}),
            },
            'graphql operation',
          );
        },
      };
    },
  };

  const apollo = new ApolloServer<HttpContext>({
    schema,
    introspection: config.introspection,
    csrfPrevention: true,
    allowBatchedHttpRequests: false,
    includeStacktraceInErrorResponses: false,
    validationRules: policy.extraRules,
    parseOptions: policy.parseOptions,
    formatError: (_formatted, error) => formatError(policy.normalize(error as GraphQLError), { exposeStack, hideSuggestions }),
    // Trusted mode: a read-only APQ cache over the manifest (nothing registers); otherwise Apollo's own APQ.
    ...(trusted ? { persistedQueries: { cache: trusted.apqCache(), ttl: null } } : {}),
    plugins: [fastifyApolloDrainPlugin(fastify), ApolloServerPluginLandingPageDisabled(), operationLog],
  });
  await apollo.start();

  await registerSecurity(fastify, { corsOrigins: config.corsOrigins });
  registerHealth(fastify, database);
  registerDownloads(fastify, { contextBuilder, jobs: container.services.jobs });
  const runner = new JobRunner({
    jobs: container.repos.jobs,
    users: container.repos.users,
    service: container.services.jobs,
    config: config.jobs,
    log: fastify.log.child({ component: 'jobs' }),
  });
  // Loads (or generates) the signing keys now, so a bad key stops start-up instead of the first login.
  const signingKeys = await container.services.tokens.keys();
  await bootstrapAdmin(container, config, fastify.log);
  if (signingKeys.jwks) {
    const jwks = signingKeys.jwks;
    fastify.get('/.well-known/jwks.json', { logLevel: 'warn' }, async (_request, reply) =>
      reply.header('cache-control', 'public, max-age=300').send(jwks),
    );
  }
  if (config.graphiql) await registerGraphiql(fastify, GRAPHQL_PATH);

  // Errors raised before GraphQL runs (body too large, malformed JSON, unsupported media type) keep the GraphQL
  // response shape, so clients parse one format.
  fastify.setErrorHandler((error: import('fastify').FastifyError, request, reply) => {
    const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    if (status === 500) request.log.error({ err: error }, 'request failed');
    return reply.code(status).send({
      errors: [
        {
          message: status === 500 ? 'Internal server error' : error.message,
          extensions: { code: status === 500 ? 'INTERNAL_SERVER_ERROR' : 'BAD_REQUEST', requestId: request.id },
        },
      ],
    });
  });

  await fastify.register(async (scope) => {
    // The size and nesting limits are checked before Apollo parses anything.
    scope.addHook('preHandler', async (request, reply) => {
      const query = (request.body as { query?: unknown } | undefined)?.query ?? (request.query as { query?: unknown } | undefined)?.query;
      const error = typeof query === 'string' ? checkDocument(query, config.limits) : null;
      if (error) {
        return reply.code(error.extensions.limit === 'documentBytes' ? 413 : 400).send({ errors: [{ ...formatError(error, {}), extensions: { ...error.extensions, requestId: request.id } }] });
      }
    });
    if (trusted) {
      // Trusted documents: a raw query or an unknown hash never reaches Apollo.
      scope.addHook('preHandler', async (request, reply) => {
        const error = applyTrustedDocument(trusted, request);
        if (error) return reply.code(400).send({ errors: [{ ...formatError(error, {}), extensions: { ...error.extensions, requestId: request.id } }] });
      });
    }
    // The access token is checked before Apollo runs: a token that is present but invalid (forged, expired, wrong
    // audience, revoked session, inactive user) is a 401, never an anonymous request (RFC 6750 §3.1). Registered
    // before the SQL counter, so `extensions.sql` counts the operation's statements only.
    scope.addHook('preHandler', async (request, reply) => {
      try {
        (request as { authentication?: Authentication }).authentication = await contextBuilder.authenticate(
          request.headers.authorization,
        );
      } catch (error) {
        if (!(error instanceof AuthenticationError)) throw error;
        request.log.info({ reason: error.reason }, 'access token refused');
        return reply
          .code(401)
          .header('www-authenticate', 'Bearer error="invalid_token"')
          .send({ errors: [{ message: error.message, extensions: { code: 'UNAUTHENTICATED', requestId: request.id } }] });
      }
    });
    if (config.debugSql) {
      // Every statement issued while this request's handler runs is counted for `extensions.sql`.
      scope.addHook('preHandler', (request, _reply, done) => {
        const stats = newSqlStats();
        (request as { sqlStats?: SqlStats }).sqlStats = stats;
        withSqlStats(stats, done);
      });
    }
    await scope.register(fastifyApollo(apollo), {
      path: GRAPHQL_PATH,
      method: ['GET', 'POST'],
      context: async (request): Promise<HttpContext> => ({
        ...(await contextBuilder.build({
          requestId: request.id,
          transport: 'http',
          authorization: request.headers.authorization ?? null,
          authentication: (request as { authentication?: Authentication }).authentication,
          log: request.log,
        })),
        sqlStats: (request as { sqlStats?: SqlStats }).sqlStats,
        clientIp: request.ip,
      }),
    });
  });

  let ws: ReturnType<typeof attachGraphqlWs> | null = null;
  let closing: Promise<void> | null = null;

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
        schema,
        contextBuilder,
        policy,
        log: fastify.log,
        keepAliveMs: config.realtime.keepAliveMs,
        realtime: container.services.realtime,
        connectionInitWaitTimeoutMs: config.wsConnectionInitTimeoutMs,
        corsOrigins: config.corsOrigins,
        rateLimits,
        trusted,
        hideSuggestions,
        maxPayloadBytes: serverDefaults.maxPayloadBytes,
        exposeStack,
      });
      runner.start();
      return address.replace('[::1]', '127.0.0.1').replace('0.0.0.0', '127.0.0.1');
    },
    close() {
      closing ??= (async () => {
        // First: no new claims; running jobs finish or go back to PENDING while the database is still open.
        await runner.stop(config.shutdownGraceMs * 0.8);
        await ws?.close();
        await fastify.close();
        await apollo.stop();
        await container.close();
        if (!options.pubsub) await pubsub.close();
        await database.close();
      })();
      return closing;
    },
  };
}
