/**
 * GraphQL over HTTP on `/graphql`: Apollo Server behind Fastify, reduced to the HTTP protocol (GET and POST bodies,
 * CSRF prevention, content negotiation, batching refused). One preHandler hands the request to the operation core,
 * which admits or refuses it; one plugin answers Apollo's `responseForOperation` with the core's execution, so
 * Apollo neither parses, validates nor executes anything itself (its document store is the core's cache).
 */
import { ApolloServer, HeaderMap, type ApolloServerPlugin, type BaseContext } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled, ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import fastifyApollo, { fastifyApolloDrainPlugin } from '@as-integrations/fastify';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { GraphQLError, type GraphQLSchema } from 'graphql';
import { ErrorCode } from '../schema/shared/errors.js';
import type { RateLimitTicket } from '../schema/rate-limit/rate-limit.service.js';
import { errorEnvelope, formatError } from './errors.js';
import type { Admission, OperationCore, Refusal, TransportRefusal } from './operation.js';
import type { OperationPolicy } from './operation-policy.js';
import { getOnly, readParams, type OperationParams } from './params.js';
import { rateLimitHeaders } from './rate-limit.js';

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
  admission?: Admission;
}

type AdmittedRequest = FastifyRequest & { admission?: Admission };

/** Content types a browser form can send without a preflight (Apollo's CSRF prevention refuses them). */
const SIMPLE_CONTENT_TYPES = new Set(['application/x-www-form-urlencoded', 'multipart/form-data', 'text/plain']);
const PREFLIGHT_HEADERS = ['x-apollo-operation-name', 'apollo-require-preflight'];

/**
 * The request's GraphQL parameters, or null when Apollo refuses the request at the HTTP level (CSRF, a batch, a body
 * that is not one JSON object, parameters of the wrong type): Apollo answers those with its own messages, before
 * anything is charged. The CSRF rule is checked here, before admission, for that reason.
 */
function graphqlParams(request: FastifyRequest): OperationParams | null {
  const contentType = request.headers['content-type']?.split(';')[0]?.trim().toLowerCase();
  const preflighted = contentType !== undefined && !SIMPLE_CONTENT_TYPES.has(contentType);
  if (!preflighted && !PREFLIGHT_HEADERS.some((header) => request.headers[header])) return null;
  const read = readParams(request);
  return 'params' in read ? read.params : null;
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

/** Apollo reads the text that was admitted (the manifest's or a persisted query's), never an APQ extension. */
function admittedSource(request: FastifyRequest, query: string): void {
  if (request.method === 'GET') {
    const url = new URL(request.raw.url ?? '/', 'http://localhost');
    url.searchParams.delete('documentId');
    url.searchParams.delete('extensions');
    url.searchParams.set('query', query);
    request.raw.url = `${url.pathname}${url.search}`;
    return;
  }
  const fields = request.body as Record<string, unknown>;
  delete fields.documentId;
  delete fields.extensions;
  fields.query = query;
}

function sendRefusal(reply: FastifyReply, refusal: Refusal) {
  if (refusal.status === 401) void reply.header('www-authenticate', 'Bearer error="invalid_token"');
  return reply.code(refusal.status).headers(refusal.headers).send(refusal.result);
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
        async responseForOperation() {
          const admission = contextValue.admission;
          // Every operation the preHandler did not admit was refused by Apollo before this point; nothing else runs.
          if (!admission) {
            const error = errorEnvelope(
              'The request is not a GraphQL operation this server accepts',
              ErrorCode.BAD_REQUEST,
              contextValue.requestId,
            );
            return { http: { status: 400, headers: new HeaderMap() }, body: { kind: 'single', singleResult: error } };
          }
          const result = core.complete(await core.execute(admission), admission, { final: true });
          // A field that needs a signed-in caller, asked for anonymously: 401 with a challenge (RFC 6750 §3).
          const unauthenticated = result.errors?.some((error) => error.extensions?.code === ErrorCode.UNAUTHENTICATED);
          const http = unauthenticated
            ? { status: 401, headers: new HeaderMap([['www-authenticate', 'Bearer']]) }
            : { status: undefined, headers: new HeaderMap() };
          return { http, body: { kind: 'single', singleResult: result } };
        },
      };
    },
  };

  const apollo = new ApolloServer<HttpContext>({
    schema: options.schema,
    introspection: options.introspection,
    csrfPrevention: true,
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
      formatError(error as GraphQLError, { exposeStack: options.exposeStack, hideSuggestions: options.hideSuggestions }),
    plugins: [fastifyApolloDrainPlugin(fastify), ApolloServerPluginLandingPageDisabled(), ApolloServerPluginCacheControlDisabled(), bridge],
  });
  await apollo.start();

  await fastify.register(async (scope) => {
    scope.addHook('preHandler', async (request: AdmittedRequest, reply) => {
      const params = graphqlParams(request);
      if (!params) return;
      const outcome = await core.admit({
        ...params,
        authorization: request.headers.authorization,
        client: {
          transport: 'http',
          ip: request.ip,
          log: request.log,
          requestId: request.id,
          countSql: options.debugSql,
          accepts: httpRule(request.method),
        },
      });
      const ticket: RateLimitTicket | undefined = outcome.kind === 'admitted' ? outcome.context.rateLimit : outcome.rateLimit;
      if (ticket) void reply.headers(rateLimitHeaders(ticket));
      if (outcome.kind === 'refused') return sendRefusal(reply, outcome);
      request.admission = outcome;
      admittedSource(request, outcome.source.query);
    });
    await scope.register(fastifyApollo(apollo), {
      path: options.path,
      method: ['GET', 'POST'],
      context: async (request: AdmittedRequest): Promise<HttpContext> => ({ requestId: request.id, admission: request.admission }),
    });
  });
  return apollo;
}
