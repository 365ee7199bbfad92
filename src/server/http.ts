/**
 * GraphQL over HTTP on `/graphql`: Apollo Server behind Fastify, reduced to the HTTP protocol (GET and POST bodies,
 * CSRF prevention, batching refused, and its messages for those). One preHandler hands each well-formed request to
 * the operation core, which admits or refuses it, and answers an admitted operation with the core's execution as
 * Apollo would (its status, media type and body text): Apollo's request pipeline would only have handed it to the same
 * core (it neither parses, validates nor executes anything itself), and costs about a third of a `node(id)` request.
 * Apollo answers the requests it refuses itself; its document store is the core's cache.
 *
 * Every refusal, whoever makes it (the core, Apollo, Fastify's body parser), is a GraphQL response in the media type
 * the request accepts, `application/graphql-response+json` included, with the request id in `extensions.requestId`:
 * a client tells an expired token (401 UNAUTHENTICATED) from any other failure by the body, as the spec lets it.
 */
import { ApolloServer, HeaderMap, type ApolloServerPlugin, type BaseContext } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled, ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { fastifyApolloDrainPlugin, fastifyApolloHandler } from '@as-integrations/fastify';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { GraphQLError, type GraphQLSchema } from 'graphql';
import { ClientGone } from '../db/cancellation.js';
import { ErrorCode } from '../schema/shared/errors.js';
import type { RateLimitTicket } from '../schema/rate-limit/rate-limit.service.js';
import { errorEnvelope, formatError } from './errors.js';
import { sqlFigures, type Admission, type OperationCore, type Refusal, type TransportRefusal } from './operation.js';
import type { OperationPolicy } from './operation-policy.js';
import { acceptedMediaType, getOnly, JSON_MEDIA_TYPE, readParams, type OperationParams } from './params.js';
import { rateLimitHeaders } from './rate-limit.js';
import { CSRF_PREFLIGHT_HEADERS, forcesPreflight } from './security.js';
import { traceHeaders, traceparentOf } from '../tracing.js';

export interface HttpOptions {
  path: string;
  schema: GraphQLSchema;
  core: OperationCore;
  policy: OperationPolicy;
  introspection: boolean;
  debugSql: boolean;
  exposeStack: boolean;
  hideSuggestions: boolean;
}

interface HttpContext extends BaseContext {
  requestId: string;
}

/**
 * The request's GraphQL parameters, or null when Apollo refuses the request at the HTTP level (CSRF, a batch, a body
 * that is not one JSON object, parameters of the wrong type, a GET with a content type other than JSON): Apollo
 * answers those with its own messages, before anything is charged. Its rules are checked here, before admission, for
 * that reason: an admitted operation never reaches Apollo.
 */
function graphqlParams(request: FastifyRequest): OperationParams | null {
  if (!forcesPreflight(request.headers)) return null;
  if (request.method === 'GET' && !isJsonOrAbsent(request.headers['content-type'])) return null;
  const read = readParams(request);
  return 'params' in read ? read.params : null;
}

/** Apollo's rule for a GET's content type (415 otherwise): none, or one whose essence is `application/json`. */
function isJsonOrAbsent(contentType: string | undefined): boolean {
  return contentType === undefined || contentType.split(';')[0]!.trim().toLowerCase() === 'application/json';
}

/** GET runs queries only (GraphQL over HTTP §GET); subscriptions need graphql-ws or SSE. */
function httpRule(method: string) {
  return ({ operation }: { operation: string }): TransportRefusal | null => {
    const get = getOnly(method, operation, ['query']);
    if (get) return get;
    if (operation === 'subscription') {
      return {
        error: new GraphQLError('Subscriptions run over graphql-ws or Server-Sent Events (Accept: text/event-stream), not plain HTTP', {
          extensions: { code: ErrorCode.BAD_REQUEST },
        }),
        status: 400,
      };
    }
    return null;
  };
}

/**
 * The media type of a refusal: the one the request accepts. A request that accepts neither GraphQL type is refused
 * with 406 before it runs; that 406, and what fails earlier (parsing the body), get JSON: the spec lets a server
 * disregard an Accept header it cannot meet.
 */
const refusalType = (request: FastifyRequest) => acceptedMediaType(request.headers.accept) ?? JSON_MEDIA_TYPE;

/**
 * `Server-Timing` (W3C Server Timing): `total` is the operation's time in the server, from admission to its result;
 * `sql` is the time at least one of its SQL statements was running, measured where the database client sends them
 * (src/db/sql-stats.ts; the same figure as `extensions.sql.ms` with DEBUG_SQL), with their number. A refusal ran none.
 */
function serverTiming(totalMs: number, sql: { statements: number; ms: number } = { statements: 0, ms: 0 }): string {
  return `total;dur=${totalMs.toFixed(2)}, sql;dur=${sql.ms.toFixed(2)};desc="${sql.statements} statements"`;
}

function sendRefusal(
  request: FastifyRequest,
  reply: FastifyReply,
  refusal: Pick<Refusal, 'status' | 'headers' | 'result'> & { traceparent?: string },
) {
  if (refusal.status === 401) void reply.header('www-authenticate', 'Bearer error="invalid_token"');
  if (refusal.traceparent) void reply.header('traceparent', refusal.traceparent);
  void reply.header('server-timing', serverTiming(reply.elapsedTime));
  return reply.code(refusal.status).headers(refusal.headers).type(refusalType(request)).send(refusal.result);
}

/**
 * The answer to an admitted operation, as Apollo Server gives it: status 200 (401 with a challenge when a field needed
 * a signed-in caller and there was none, RFC 6750 §3), the media type the request accepts, the result as one line of
 * JSON with its fields in the order errors, data, extensions, and a newline.
 */
async function sendResult(core: OperationCore, request: FastifyRequest, reply: FastifyReply, admission: Admission) {
  const result = core.complete(await core.execute(admission), admission, { final: true });
  const unauthenticated = result.errors?.some((error) => error.extensions?.code === ErrorCode.UNAUTHENTICATED);
  if (unauthenticated) void reply.code(401).header('www-authenticate', 'Bearer');
  void reply.header('server-timing', serverTiming(performance.now() - admission.startedAt, sqlFigures(admission)));
  if (admission.span) void reply.header('traceparent', traceparentOf(admission.span.span));
  return reply.type(acceptedMediaType(request.headers.accept) ?? JSON_MEDIA_TYPE).send(`${JSON.stringify(result)}\n`);
}

/**
 * Apollo's answer with the request's id in each error's extensions, as the core's answers have it. Apollo formats
 * the errors of the refusals it makes itself (CSRF, a batch, a malformed body) without the request at hand; this
 * path is rare, so its body is parsed again here rather than the request kept in an AsyncLocalStorage, which on
 * Node 20 would cost every promise of the process a hook from the first refusal on.
 */
function withRequestId(body: string, requestId: string): string {
  if (!body.includes('"errors"')) return body;
  let result: { errors?: Array<{ extensions?: Record<string, unknown> }> };
  try {
    result = JSON.parse(body) as typeof result;
  } catch {
    return body;
  }
  if (!Array.isArray(result.errors)) return body;
  for (const error of result.errors) error.extensions = { ...error.extensions, requestId };
  return `${JSON.stringify(result)}${body.endsWith('\n') ? '\n' : ''}`;
}

export async function registerGraphqlHttp(fastify: FastifyInstance, options: HttpOptions): Promise<ApolloServer<HttpContext>> {
  const { core, policy } = options;
  const bridge: ApolloServerPlugin<HttpContext> = {
    async requestDidStart({ contextValue }) {
      return {
        // Apollo parses and validates only when its document store (the core's cache) misses: counted, so a test
        // shows it does not happen.
        async parsingDidStart() {
          core.observe('parse', 'http');
        },
        async validationDidStart() {
          core.observe('validate', 'http');
        },
        // The preHandler answered every operation it admitted; what reaches Apollo's execution is a request the
        // core never saw (Apollo and the core disagreeing on whether it is well-formed): refused, nothing runs.
        async responseForOperation() {
          const error = errorEnvelope(
            'The request is not a GraphQL operation this server accepts',
            ErrorCode.BAD_REQUEST,
            contextValue.requestId,
          );
          return { http: { status: 400, headers: new HeaderMap() }, body: { kind: 'single', singleResult: error } };
        },
      };
    },
  };

  const apollo = new ApolloServer<HttpContext>({
    schema: options.schema,
    introspection: options.introspection,
    csrfPrevention: { requestHeaders: CSRF_PREFLIGHT_HEADERS },
    allowBatchedHttpRequests: false,
    includeStacktraceInErrorResponses: false,
    // The core's cache: Apollo finds the document the core admitted under the same SHA-256 and parses nothing.
    documentStore: {
      get: async (key) => policy.cached(key.slice(key.lastIndexOf(':') + 1)),
      set: async () => {},
      delete: async () => false,
    },
    validationRules: policy.extraRules,
    parseOptions: policy.parseOptions,
    // The core owns persisted queries (the same on every transport) and Apollo sees the admitted text, so Apollo's
    // own APQ cache is never written; it stays enabled only so that requests Apollo refuses itself (a malformed body)
    // get the messages they always got.
    formatError: (_formatted, error) =>
      formatError(error as GraphQLError, {
        exposeStack: options.exposeStack,
        hideSuggestions: options.hideSuggestions,
      }),
    plugins: [fastifyApolloDrainPlugin(fastify), ApolloServerPluginLandingPageDisabled(), ApolloServerPluginCacheControlDisabled(), bridge],
  });
  await apollo.start();

  await fastify.register(async (scope) => {
    // Fastify's own refusals on this path (a malformed JSON body, a body over the limit, an unsupported content type)
    // keep the server's error envelope and status, in the accepted media type.
    const envelope = scope.errorHandler;
    scope.setErrorHandler((error, request, reply) => {
      void reply.type(refusalType(request));
      return envelope(error, request, reply);
    });
    scope.addHook('preHandler', async (request, reply) => {
      // GraphQL over HTTP §Accept: a request that accepts no GraphQL response type is refused before it runs (Apollo
      // would check only after executing it, so a mutation would have happened).
      if (acceptedMediaType(request.headers.accept) === null) {
        const message = 'The Accept header allows neither application/graphql-response+json nor application/json';
        return sendRefusal(request, reply, { status: 406, headers: {}, result: errorEnvelope(message, ErrorCode.BAD_REQUEST, request.id) });
      }
      const params = graphqlParams(request);
      if (!params) return;
      // A client that hangs up before its answer: its SQL statements are cancelled (src/db/cancellation.ts).
      const gone = new ClientGone();
      reply.raw.once('close', () => reply.raw.writableFinished || gone.abort());
      const outcome = await core.admit({
        ...params,
        authorization: request.headers.authorization,
        client: {
          transport: 'http',
          ip: request.ip,
          log: request.log,
          requestId: request.id,
          timeSql: true,
          countSql: options.debugSql,
          trace: traceHeaders(request.headers),
          accepts: httpRule(request.method),
          signal: gone,
        },
      });
      const ticket: RateLimitTicket | undefined = outcome.kind === 'admitted' ? outcome.context.rateLimit : outcome.rateLimit;
      if (ticket) void reply.headers(rateLimitHeaders(ticket));
      if (outcome.kind === 'refused') return sendRefusal(request, reply, outcome);
      return sendResult(core, request, reply, outcome);
    });
    const handler = fastifyApolloHandler<HttpContext>(apollo, {
      context: async (request): Promise<HttpContext> => ({ requestId: request.id }),
    });
    scope.route<{ Reply: string }>({
      method: ['GET', 'POST'],
      url: options.path,
      async handler(request, reply) {
        const body: unknown = await handler.call(this, request, reply);
        // Apollo's body is a string (it would stream only incremental delivery, which is not enabled).
        if (typeof body === 'string') return withRequestId(body, request.id);
        return body as void;
      },
    });
  });
  return apollo;
}
