/**
 * The operation core: every transport (HTTP, graphql-ws, GraphQL over SSE) runs an operation through these steps,
 * each written once, as graphql-ws separates `makeServer` from `use/ws.ts`. Transports only frame what it returns.
 *
 *   admit     source (trusted document, persisted query or text) → size and nesting → parse and validate (cached)
 *             → operation → the transport's rule → variables → cost → authentication → context → rate limit: the
 *             checks that need no database come first, so a hostile document costs no lookup
 *   execute   the admitted document with its variables and context: graphql-js, then graphql-jit's compiled form
 *             once the document runs again (src/server/executor.ts)
 *   subscribe the source stream; every event runs with a fresh context (new DataLoaders, the viewer checked again)
 *   complete  masking, `requestId`, the `cost` and `sql` extensions, and the one log line per operation
 *
 * With tracing on (src/tracing.ts), each operation is one span from admission to its log line, and what it executes
 * runs inside it, so its SQL statements and the jobs it queues belong to its trace.
 *
 * A refusal is what the client sees — GraphQL errors and the HTTP status that goes with them — and runs nothing
 * (one found before authentication is charged the minimum price to the client's address):
 * HTTP answers with the status, graphql-ws sends an `error` message (a 401 also closes the socket with 4403), SSE
 * answers with the status before any stream opens.
 */
import { randomUUID } from 'node:crypto';
import {
  createSourceEventStream,
  execute,
  getOperationAST,
  getVariableValues,
  GraphQLError,
  Kind,
  OperationTypeNode,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type FormattedExecutionResult,
  type GraphQLFormattedError,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from 'graphql';
import type { Logger } from '../log.js';
import { LRUCache } from 'lru-cache';
import type { Context, ContextBuilder, EventCheck, Transport } from '../schema/context.js';
import type { AccessClaims } from '../auth/tokens.js';
import { AuthenticationError, type Authentication, type AuthState, type EventChecks } from '../auth/identity.js';
import { scopeKey } from '../auth/scopes.js';
import { operationStatements, withCancellation, type CancelSignal, type OperationCancellation } from '../db/cancellation.js';
import { newSqlStats, sqlTimeMs, type SqlStats } from '../db/sql-stats.js';
import type { ConnectionHandle, RealtimeContext } from '../realtime/connections.js';
import { SharedFanout, type SharedSubscriber, type WriteNext } from '../realtime/fanout.js';
import { bounded, isBounded, SLOW_SUBSCRIBER } from '../realtime/queue.js';
import { mapQueued } from '../realtime/streams.js';
import { isTopicSubscription } from '../pubsub/pubsub.js';
import type { RateLimitContext, RateLimitTicket } from '../schema/rate-limit/rate-limit.service.js';
import { ErrorCode } from '../schema/shared/errors.js';
import { SHARED_EVENTS_EXTENSION } from '../schema/shared/shared-events.js';
import { firstErrorCode, formatError } from './errors.js';
import { createExecutor } from './executor.js';
import { checkInputText, checkVariableDepth, MAX_VARIABLE_DEPTH } from './input-bounds.js';
import { checkDocument, costError } from './limits.js';
import type { OperationPolicy } from './operation-policy.js';
import { costExtension, type RateLimitGuard } from './rate-limit.js';
import { resolveTrustedDocument, sha256, type TrustedDocuments } from './trusted-documents.js';
import type { Tracer } from '@opentelemetry/api';
import { startLinkedSpan, startOperationSpan, traceparentOf, type ActiveSpan, type TraceCarrier } from '../tracing.js';

/** What a transport hands the core: the request's GraphQL parameters as received, and who sent them. */
export interface OperationRequest {
  query?: unknown;
  /** A trusted document's hash (`sha256:<hex>` or plain hex). */
  documentId?: unknown;
  extensions?: unknown;
  variables?: unknown;
  operationName?: unknown;
  /** The `Authorization` header, or graphql-ws's `connection_init` `authorization`. */
  authorization: string | null | undefined;
  client: OperationClient;
}

export interface OperationClient {
  transport: Transport;
  /** The client's address: the budget of anonymous callers. */
  ip: string;
  log: Logger;
  /** A request id the transport already chose (HTTP's `x-request-id`); a new one otherwise. */
  requestId?: string;
  /**
   * The transport's own rule on the resolved operation (GET runs queries only, a socket caps its subscriptions). It
   * runs synchronously after the document checks, which take no turn of the event loop, so operations that arrive
   * together are accepted in the order they arrived.
   */
  accepts?(operation: OperationDefinitionNode): TransportRefusal | null;
  /** The transport's rule on the caller, once authenticated (an event stream counts against the user's cap). */
  admitsCaller?(
    authentication: Authentication,
    operation: OperationDefinitionNode,
  ): TransportRefusal | null | Promise<TransportRefusal | null>;
  /** Measure the operation's SQL statements (number, time) for `Server-Timing` (HTTP). */
  timeSql?: boolean;
  /** Report them in `extensions.sql` too (DEBUG_SQL, HTTP). */
  countSql?: boolean;
  /** The request's W3C trace headers: with tracing on, the operation's span is a child of the caller's. */
  trace?: TraceCarrier;
  /** The realtime connection the operation runs on (graphql-ws, SSE). */
  connection?: ConnectionHandle;
  /** Called when a later check (a subscription event) finds the token no longer valid, with the authenticator's reason. */
  onRevoked?(reason: string): void;
  /** Aborts when the client goes away before its answer: the operation's SQL statements are cancelled (src/db/cancellation.ts). */
  signal?: CancelSignal;
}

export interface TransportRefusal {
  error: GraphQLError;
  status: number;
  headers?: Record<string, string>;
}

/** An operation that passed every admission step; `execute` or `subscribe` runs it. */
export interface Admission {
  kind: 'admitted';
  requestId: string;
  document: DocumentNode;
  operation: OperationDefinitionNode;
  operationName: string | null;
  /** The variables as received (graphql-js coerces them again inside `execute`; its context cannot be supplied). */
  rawVariables: Record<string, unknown>;
  context: OperationContext;
  /** The source text that runs (the manifest's in trusted mode) and its SHA-256. */
  source: { query: string; hash: string };
  cost: number;
  transport: Transport;
  startedAt: number;
  sqlStats?: SqlStats;
  /** `extensions.sql` goes with the results (OperationClient.countSql). */
  sqlExtension: boolean;
  /** The operation's span, with tracing on. */
  span?: ActiveSpan;
  /** The statements of a query or mutation, cancelled when the client's OperationClient.signal aborts. */
  cancellation?: OperationCancellation;
  /** `extensions.cost` goes with the first result only. */
  costPending: boolean;
  finished: boolean;
}

/** A subscriber of the shared fan-out (src/realtime/fanout.ts). */
interface SharedSubject {
  readonly admission: Admission;
  readonly context: OperationContext;
  /** The token the subscriber holds now: its connection's, renewed in-band, or else the operation's. */
  claims(): AccessClaims | null;
}

/** An operation refused before anything ran. */
export interface Refusal {
  kind: 'refused';
  requestId: string;
  status: number;
  headers: Record<string, string>;
  /** For graphql-ws's `onSubscribe`, which wants GraphQLError instances. */
  errors: GraphQLError[];
  /** What the client sees. */
  result: FormattedExecutionResult;
  /** The token was present but not valid: graphql-ws closes the socket with 4403. */
  unauthenticated: boolean;
  rateLimit?: RateLimitTicket;
  /** The operation span's `traceparent`, with tracing on. */
  traceparent?: string;
}

export type OperationContext = Context & RateLimitContext & RealtimeContext;

export interface OperationCoreOptions {
  schema: GraphQLSchema;
  policy: OperationPolicy;
  contextBuilder: ContextBuilder;
  rateLimits: RateLimitGuard;
  /** When set, only the manifest's documents run, by hash. */
  trusted: TrustedDocuments | null;
  /** Development: `extensions.stacktrace` on masked errors. */
  exposeStack: boolean;
  /** Production: no "Did you mean …?" hints, which map a schema whose introspection is off. */
  hideSuggestions: boolean;
  /** Undelivered events one subscription may hold before its connection is dropped (WS_SUBSCRIPTION_QUEUE_LIMIT). */
  subscriptionQueueLimit: number;
  /** Observes each step as it runs (tests count them). */
  onStep?(step: OperationStep, transport: Transport): void;
  /** Called once per operation, refusals included, as its log line is written (the metrics count them). */
  onOperation?(report: OperationReport): void;
  /** Spans per operation and per subscription event; null or absent: tracing off. */
  tracer?: Tracer | null;
}

/** One operation as its log line records it. */
export interface OperationReport {
  transport: Transport;
  operationName: string | null;
  /** query, mutation or subscription; null when refused before the operation was resolved (it did not validate). */
  type: OperationDefinitionNode['operation'] | null;
  durationMs: number;
  /** The first error code; undefined when the operation succeeded. */
  errorCode?: string;
}

/**
 * The steps of admission, as `onStep` reports them: `variables` is the variables step, `coerce` its coercion and input
 * rules when they run (not for variables the operation was admitted with before), `cost` the cost check, `compile`
 * graphql-jit compiling a query or mutation on its second run (src/server/executor.ts).
 */
export type OperationStep = 'authenticate' | 'parse' | 'validate' | 'operation' | 'variables' | 'coerce' | 'cost' | 'charge' | 'compile';

/** graphql-js's messages for an operation it cannot pick, kept so clients see what they always saw. */
function unresolvedOperation(document: DocumentNode, operationName: string | null): GraphQLError {
  const operations = document.definitions.filter((definition) => definition.kind === Kind.OPERATION_DEFINITION).length;
  const message =
    operationName !== null
      ? `Unknown operation named "${operationName}".`
      : operations === 0
        ? 'Must provide an operation.'
        : 'Must provide operation name if query contains multiple operations.';
  return new GraphQLError(message, { extensions: { code: ErrorCode.OPERATION_RESOLUTION_FAILURE } });
}

/** Documents whose hash is remembered by their text: at most this many, of at most this many characters each. */
const MEMOISED_HASHES = 1_000;
const MEMOISED_HASH_TEXT_CHARS = 8_192;

const badRequest = (message: string) => new GraphQLError(message, { extensions: { code: ErrorCode.BAD_REQUEST } });
export const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

type Outcome = PromiseSettledResult<ExecutionResult>;

/** A promise's outcome as a value: awaited once for many subscribers, it never rejects into the loop. */
const settle = <T>(promise: Promise<T>): Promise<PromiseSettledResult<T>> =>
  promise.then(
    (value) => ({ status: 'fulfilled', value }),
    (reason: unknown) => ({ status: 'rejected', reason }),
  );

const isAsyncIterable = (value: unknown): value is AsyncIterable<unknown> =>
  typeof (value as AsyncIterable<unknown>)?.[Symbol.asyncIterator] === 'function';

export function createOperationCore(options: OperationCoreOptions) {
  const { schema, policy, contextBuilder, rateLimits, trusted } = options;
  const tracer = options.tracer ?? null;
  const step = options.onStep ?? (() => {});
  // A document's compilation (its second run) is reported as a step of the transport it runs on.
  const executeOperation = createExecutor({
    onCompile: (args) => step('compile', (args.contextValue as OperationContext).transport),
  });
  // Without a trusted manifest: Apollo's automatic persisted queries, on every transport. Bounded by count and by
  // size, so registering many large queries cannot grow the server's memory.
  const persisted = trusted
    ? null
    : new LRUCache<string, string>({
        max: 1_000,
        maxSize: 16 * 1_024 * 1_024,
        sizeCalculation: (query) => query.length || 1,
      });
  /**
   * What the subscribers of one event share; dropped with the event object (the pub/sub hands every local subscriber
   * the same one): results per document + variables + scopes, and the authentication reads in flight per (user,
   * session) — in flight only, so a subscriber that takes the event later is checked as it is then.
   */
  const eventShares = new WeakMap<object, { executions: Map<string, Promise<ExecutionResult>>; reads: EventChecks }>();
  const eventShare = (event: object) => {
    let share = eventShares.get(event);
    if (!share) {
      const reads = { states: new InFlight<AuthState>(), tokens: new InFlight<Authentication>() };
      eventShares.set(event, (share = { executions: new Map(), reads }));
    }
    return share;
  };
  /** Results executed once for several subscribers (with their event), and their `next` payloads once serialized. */
  const sharedResults = new WeakMap<ExecutionResult, object>();
  const serialized = new WeakMap<ExecutionResult, string>();
  const sharedKeys = new WeakMap<Admission, string | null>();
  const admissions = new WeakMap<object, Admission>();
  // The SHA-256 of the documents clients send again and again (the same few texts, request after request), by text:
  // a lookup instead of a digest per request. Short texts only, and a bounded number, so it stays small.
  const hashes = new LRUCache<string, string>({ max: MEMOISED_HASHES });
  const hashOf = (query: string): string => {
    let hash = hashes.get(query);
    if (hash === undefined) {
      hash = sha256(query);
      if (query.length <= MEMOISED_HASH_TEXT_CHARS) hashes.set(query, hash);
    }
    return hash;
  };

  const format = (errors: readonly GraphQLError[], requestId: string, log: Logger, defaultCode: string) =>
    errors.map((error) =>
      formatError(error, { requestId, log, defaultCode, exposeStack: options.exposeStack, hideSuggestions: options.hideSuggestions }),
    );

  const report = options.onOperation ?? (() => {});
  const logLine = (
    log: Logger,
    fields: {
      requestId: string;
      transport: Transport;
      operationName: string | null;
      type: OperationReport['type'];
      startedAt: number;
      errorCode?: string;
      span?: ActiveSpan;
    },
  ) => {
    const durationMs = Math.round((performance.now() - fields.startedAt) * 100) / 100;
    log.info(
      {
        requestId: fields.requestId,
        transport: fields.transport,
        operationName: fields.operationName,
        durationMs,
        ...(fields.errorCode ? { errorCode: fields.errorCode } : {}),
        ...(fields.span ? { traceId: fields.span.span.spanContext().traceId } : {}),
      },
      'graphql operation',
    );
    fields.span?.end(fields.errorCode);
    report({ transport: fields.transport, operationName: fields.operationName, type: fields.type, durationMs, errorCode: fields.errorCode });
  };

  interface Pending {
    requestId: string;
    client: OperationClient;
    startedAt: number;
    operationName: string | null;
    /** Known once the document validated and its operation was resolved. */
    type?: OperationReport['type'];
    rateLimit?: RateLimitTicket;
    span?: ActiveSpan;
  }

  /** GraphQL semantic conventions: the span is `{type} {name}`, the type alone for an anonymous operation. */
  function nameSpan(pending: Pending, type: OperationDefinitionNode['operation']): void {
    if (!pending.span) return;
    const name = pending.operationName;
    pending.span.span.updateName(name ? `${type} ${name}` : type);
    pending.span.span.setAttributes({ 'graphql.operation.type': type, ...(name ? { 'graphql.operation.name': name } : {}) });
  }

  function refuse(
    pending: Pending,
    errors: GraphQLError[],
    status: number,
    extra: { headers?: Record<string, string>; unauthenticated?: boolean } = {},
  ): Refusal {
    const formatted = format(errors, pending.requestId, pending.client.log, ErrorCode.GRAPHQL_VALIDATION_FAILED);
    const extensions = {
      ...(pending.rateLimit ? { cost: costExtension(pending.rateLimit) } : {}),
      // Nothing ran, so nothing was counted.
      ...(pending.client.countSql ? { sql: { statements: 0, ms: 0 } } : {}),
    };
    logLine(pending.client.log, {
      ...pending,
      transport: pending.client.transport,
      type: pending.type ?? null,
      errorCode: firstErrorCode(formatted),
    });
    return {
      kind: 'refused',
      requestId: pending.requestId,
      status,
      headers: extra.headers ?? {},
      errors,
      result: { errors: formatted, ...(Object.keys(extensions).length > 0 ? { extensions } : {}) },
      unauthenticated: extra.unauthenticated ?? false,
      rateLimit: pending.rateLimit,
      ...(pending.span ? { traceparent: traceparentOf(pending.span.span) } : {}),
    };
  }

  /**
   * A refusal found before the caller is known, charged the minimum price to the client's address first; once that
   * budget is spent, the refusal is RATE_LIMITED instead. A persisted-query miss is APQ's normal first round trip and
   * is not charged.
   */
  async function refuseCharged(
    pending: Pending,
    errors: GraphQLError[],
    status: number,
    extra: { headers?: Record<string, string>; unauthenticated?: boolean } = {},
  ): Promise<Refusal> {
    if (errors[0]?.extensions.code === ErrorCode.PERSISTED_QUERY_NOT_FOUND) return refuse(pending, errors, status, extra);
    const { ticket, refused } = await rateLimits.chargeRefusal(pending.client.ip);
    pending.rateLimit = ticket;
    if (refused) return refuse(pending, [refused.error], 429, { headers: { 'retry-after': String(refused.retryAfter) } });
    return refuse(pending, errors, status, extra);
  }

  /** The text to run: the manifest's in trusted mode, a persisted query's, or the request's own. */
  function resolveSource(
    request: OperationRequest,
  ): { query: string; hash: string; register: boolean } | { error: GraphQLError; status: number; headers?: Record<string, string> } {
    if (trusted) {
      // Trusted mode: the manifest's text runs, named by hash; the client's query text is never parsed.
      const resolved = resolveTrustedDocument(trusted, { documentId: request.documentId, extensions: request.extensions });
      return resolved.error ? { error: resolved.error, status: 400 } : { query: resolved.query, hash: resolved.hash, register: false };
    }
    const persistedQuery = isObject(request.extensions) ? request.extensions.persistedQuery : undefined;
    if (persistedQuery !== undefined && persisted) {
      // Apollo's APQ protocol and messages, so APQ-aware clients (Apollo Client, urql) work unchanged.
      if (!isObject(persistedQuery) || persistedQuery.version !== 1)
        return { error: badRequest('Unsupported persisted query version'), status: 400 };
      const hash = typeof persistedQuery.sha256Hash === 'string' ? persistedQuery.sha256Hash.toLowerCase() : '';
      // graphql-ws and graphql-sse require a `query` string: a hash-only client sends an empty one.
      if (request.query === undefined || request.query === null || request.query === '') {
        const query = persisted.get(hash);
        if (query !== undefined) return { query, hash, register: false };
        return {
          error: new GraphQLError('PersistedQueryNotFound', { extensions: { code: ErrorCode.PERSISTED_QUERY_NOT_FOUND } }),
          status: 200,
          headers: { 'cache-control': 'private, no-cache, must-revalidate' },
        };
      }
      if (typeof request.query !== 'string' || sha256(request.query) !== hash)
        return { error: badRequest('provided sha does not match query'), status: 400 };
      return { query: request.query, hash, register: true };
    }
    if (typeof request.query !== 'string' || request.query.trim() === '') {
      return { error: badRequest('GraphQL operations must contain a non-empty `query` or a `persistedQuery` extension.'), status: 400 };
    }
    return { query: request.query, hash: hashOf(request.query), register: false };
  }

  async function admit(request: OperationRequest): Promise<Admission | Refusal> {
    const { client } = request;
    const requestId = client.requestId ?? randomUUID();
    const pending: Pending = {
      requestId,
      client,
      startedAt: performance.now(),
      operationName: typeof request.operationName === 'string' ? request.operationName : null,
      ...(tracer ? { span: startOperationSpan(tracer, client.trace, { requestId, transport: client.transport }) } : {}),
    };
    if (request.operationName != null && typeof request.operationName !== 'string') {
      return refuseCharged(pending, [badRequest('"operationName" must be a string')], 400);
    }
    if (request.variables != null && !isObject(request.variables)) {
      return refuseCharged(pending, [badRequest('"variables" must be an object')], 400);
    }
    const rawVariables = (request.variables ?? {}) as Record<string, unknown>;

    const source = resolveSource(request);
    if ('error' in source) return refuseCharged(pending, [source.error], source.status, { headers: source.headers });
    // Size and bracket nesting on the raw text, before anything parses it.
    const tooLarge = checkDocument(source.query, policy.limits);
    if (tooLarge) return refuseCharged(pending, [tooLarge], tooLarge.extensions.limit === 'documentBytes' ? 413 : 400);

    const prepared = policy.prepare(source.query, source.hash, (name) => step(name, client.transport));
    if (prepared.errors) {
      // The log line names the operation a document that failed validation declares.
      if (prepared.parsed) {
        const declared = getOperationAST(prepared.parsed, null);
        pending.operationName ??= declared?.name?.value ?? null;
        if (declared) nameSpan(pending, declared.operation);
      }
      return refuseCharged(pending, prepared.errors, 400);
    }
    const document = prepared.document;

    step('operation', client.transport);
    const operation = getOperationAST(document, pending.operationName);
    if (!operation) return refuseCharged(pending, [unresolvedOperation(document, pending.operationName)], 400);
    pending.operationName ??= operation.name?.value ?? null;
    pending.type = operation.operation;
    nameSpan(pending, operation.operation);
    const transportRefusal = client.accepts?.(operation);
    if (transportRefusal) {
      return refuseCharged(pending, [transportRefusal.error], transportRefusal.status, { headers: transportRefusal.headers });
    }

    // A value that does not coerce is the client's error (BAD_USER_INPUT), found before anything runs.
    step('variables', client.transport);
    const tooDeep = checkVariableDepth(rawVariables, MAX_VARIABLE_DEPTH);
    if (tooDeep) return refuseCharged(pending, [tooDeep], 400);
    // Variables this operation was admitted with before (the same JSON) coerced and passed the input rules then, and
    // their cost is remembered: the same request again (a dashboard's poll, a popular item) skips those steps.
    const variablesKey = policy.variablesKey(operation, request.variables as Record<string, unknown> | undefined);
    let cost = policy.knownCost(document, variablesKey);
    if (cost === undefined) {
      step('coerce', client.transport);
      const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], rawVariables, { maxErrors: 25 });
      if (coerced.errors) {
        return refuseCharged(
          pending,
          coerced.errors.map(
            (error) => new GraphQLError(error.message, { nodes: error.nodes, extensions: { code: ErrorCode.BAD_USER_INPUT } }),
          ),
          400,
        );
      }
      const badInput = checkInputText(schema, document, operation, coerced.coerced);
      if (badInput) return refuseCharged(pending, [badInput], 400);
      cost = policy.cost(document, operation, coerced.coerced, request.variables as Record<string, unknown> | undefined, variablesKey);
    }
    step('cost', client.transport);
    const costRefusal = costError(cost, policy.limits);
    if (costRefusal) return refuseCharged(pending, [costRefusal], 400);

    // A token that is present but invalid (forged, expired, wrong audience, revoked session, inactive user) is
    // refused, never treated as anonymous (RFC 6750 §3.1).
    let authentication: Authentication;
    step('authenticate', client.transport);
    try {
      authentication = await contextBuilder.authenticate(request.authorization);
    } catch (error) {
      if (!(error instanceof AuthenticationError)) throw error;
      client.log.info({ requestId: pending.requestId, reason: error.reason }, 'access token refused');
      return refuseCharged(pending, [new GraphQLError(error.message, { extensions: { code: ErrorCode.UNAUTHENTICATED } })], 401, {
        unauthenticated: true,
      });
    }

    let callerRefusal = client.admitsCaller?.(authentication, operation);
    // With REDIS_URL a connection cap is answered by Redis.
    if (callerRefusal instanceof Promise) callerRefusal = await callerRefusal;
    if (callerRefusal) return refuse(pending, [callerRefusal.error], callerRefusal.status, { headers: callerRefusal.headers });

    // A query's or mutation's statements run on a database of its own that counts and cancels them (a subscription's
    // events are executed later, each with a context of its own).
    const executesOnce = operation.operation !== OperationTypeNode.SUBSCRIPTION;
    const sqlStats = executesOnce && (client.timeSql || client.countSql) ? newSqlStats() : undefined;
    const cancellation = executesOnce && client.signal ? operationStatements(client.signal) : undefined;
    const context = contextBuilder.build({
      requestId: pending.requestId,
      transport: client.transport,
      clientAddress: client.ip,
      authentication,
      log: client.log,
      onRevoked: client.onRevoked,
      statements: { stats: sqlStats, cancellation },
    }) as OperationContext;
    if (client.connection) context.connection = client.connection;

    // Charged before anything executes; a subscription is charged once, when it starts.
    step('charge', client.transport);
    const refused = await rateLimits.charge({ context, clientIp: client.ip, document, operation, cost });
    pending.rateLimit = context.rateLimit;
    if (refused) return refuse(pending, [refused.error], 429, { headers: { 'retry-after': String(refused.retryAfter) } });

    if (source.register) persisted?.set(source.hash, source.query);
    pending.span?.span.setAttribute('opshub.cost', cost);
    const admission: Admission = {
      kind: 'admitted',
      requestId: pending.requestId,
      document,
      operation,
      operationName: pending.operationName,
      rawVariables,
      context,
      source,
      cost,
      transport: client.transport,
      startedAt: pending.startedAt,
      ...(sqlStats ? { sqlStats } : {}),
      sqlExtension: client.countSql ?? false,
      ...(pending.span ? { span: pending.span } : {}),
      ...(cancellation ? { cancellation } : {}),
      costPending: true,
      finished: false,
    };
    admissions.set(context, admission);
    return admission;
  }

  /** Writes the operation's log line, once (a query when its result goes out, a subscription when it ends). */
  function finish(admission: Admission, errorCode?: string): void {
    if (admission.finished) return;
    admission.finished = true;
    const { requestId, transport, operationName, startedAt, span } = admission;
    logLine(admission.context.log, { requestId, transport, operationName, startedAt, span, type: admission.operation.operation, errorCode });
  }

  const executionArgs = (admission: Admission): ExecutionArgs => ({
    schema,
    document: admission.document,
    operationName: admission.operationName,
    variableValues: admission.rawVariables,
    contextValue: admission.context,
  });

  /** The share key of a subscription whose root fields are all @SharedEvents; null when events may differ per viewer. */
  function sharedEventsKey(admission: Admission): string | null {
    let key = sharedKeys.get(admission);
    if (key !== undefined) return key;
    const fields = schema.getSubscriptionType()?.getFields();
    const shared = admission.operation.selectionSet.selections.every(
      (selection) => selection.kind === Kind.FIELD && fields?.[selection.name.value]?.extensions?.[SHARED_EVENTS_EXTENSION] === true,
    );
    key = shared ? `${admission.source.hash}\u0000${admission.operationName ?? ''}\u0000${JSON.stringify(admission.rawVariables)}` : null;
    sharedKeys.set(admission, key);
    return key;
  }

  /**
   * A shared result's `next` payload as JSON, serialized once per result, for a subscriber who sees it as it is: no
   * errors (whose masking names the request), no first-result `extensions.cost`, no `extensions.sql`. Null otherwise:
   * that subscriber's result is completed for it alone.
   */
  function sharedJson(result: ExecutionResult, admission: Admission): string | null {
    return hasOwnExtensions(admission) ? null : plainJson(result);
  }

  /** A result's payload as every subscriber without extensions of its own sees it, serialized once; null with errors. */
  function plainJson(result: ExecutionResult): string | null {
    if (result.errors?.length) return null;
    let json = serialized.get(result);
    if (json === undefined) serialized.set(result, (json = JSON.stringify(completed(result, undefined, {}))));
    return json;
  }

  /** What the shared fan-out holds of a subscriber: its admission, and how to read the token it holds at an event. */
  const sharedSubject = (admission: Admission): SharedSubject => {
    const { context } = admission;
    const { connection, claims } = context;
    const current = connection?.currentClaims;
    return { admission, context, claims: current ? () => current.call(connection) ?? claims : () => claims };
  };

  /** The key of one shared execution of an event: the subscription's share key and the subscriber's scopes. */
  const executionKey = (shareKey: string, scopes: ReadonlySet<string>) => `${shareKey}\u0000${scopeKey(scopes)}`;

  /** One event's execution for a subscriber: a span of its own (linked to the subscription's) when traced. */
  const runEvent = (admission: Admission, rootValue: unknown, contextValue: Context) => {
    const executeEvent = () =>
      execute({ ...executionArgs(admission), rootValue, contextValue }) as Promise<ExecutionResult> | ExecutionResult;
    const { span } = admission;
    return tracer && span ? tracedEvent(tracer, span, admission, executeEvent) : executeEvent();
  };

  /**
   * One event for every local subscriber of a shared group (src/realtime/fanout.ts). Each subscriber is checked again,
   * with one check per distinct token (and one read per distinct user and session); the event is executed once per
   * distinct scope set; each result is serialized once, and every frame is written in one loop. A subscriber whose
   * result has errors, or whose first result carries `extensions.cost` (or who asked for `extensions.sql`), gets its
   * own completed copy. A check or an execution that fails fails the stream of the subscribers who waited on it.
   */
  const sharedFanout = new SharedFanout<SharedSubject>({
    limit: options.subscriptionQueueLimit,
    onOverflow: (subscriber) => subscriber.subject.admission.context.connection?.drop(SLOW_SUBSCRIBER),
    onError: (error, subscribers) => subscribers[0]?.subject.admission.context.log.error({ err: error }, 'shared fan-out failed'),
    async run(event, subscribers) {
      const share = typeof event === 'object' && event !== null ? eventShare(event) : null;
      const reads = share?.reads;
      // One execution per scope set, looked up by the set (scope sets are memoised) and shared with the event's other
      // subscribers by its text. A result graphql-js returns at once (no resolver waits) is written without a wait.
      const executions = share?.executions ?? new Map<string, Promise<ExecutionResult>>();
      const byScopes = new Map<ReadonlySet<string>, Outcome | Promise<Outcome>>();
      const outcomeOf = (subscriber: SharedSubscriber<SharedSubject>, check: PromiseSettledResult<EventCheck>) => {
        if (check.status === 'rejected') return check;
        const { admission, context } = subscriber.subject;
        const authentication = contextBuilder.eventAuthentication(context, check.value);
        let outcome = byScopes.get(authentication.scopes);
        if (outcome === undefined) {
          const key = executionKey(subscriber.key, authentication.scopes);
          const running = executions.get(key);
          outcome = running
            ? settle(running)
            : executeNow(key, () => runEvent(admission, event, contextBuilder.eventContext(context, authentication)));
          byScopes.set(authentication.scopes, outcome);
        }
        return outcome;
      };
      // One pass over the subscribers: each one's token checked, once per distinct token — at once when the short
      // cache answers, else read (and the subscriber's outcome waits for the read) — and its execution found or started.
      const checks = new Map<AccessClaims | null, PromiseSettledResult<EventCheck> | Promise<PromiseSettledResult<EventCheck>>>();
      const outcomes: Array<Outcome | Promise<Outcome> | null> = [];
      for (const subscriber of subscribers) {
        if (subscriber.stopped) {
          outcomes.push(null);
          continue;
        }
        const claims = subscriber.subject.claims();
        let check = checks.get(claims);
        if (check === undefined) {
          const now = contextBuilder.checkEventNow(claims);
          check = now !== undefined ? { status: 'fulfilled', value: now } : settle(contextBuilder.checkEvent(claims, reads));
          checks.set(claims, check);
        }
        outcomes.push(check instanceof Promise ? check.then((settled) => outcomeOf(subscriber, settled)) : outcomeOf(subscriber, check));
      }
      const waited = new Map<Promise<Outcome>, Outcome>();
      for (const outcome of outcomes) if (outcome instanceof Promise && !waited.has(outcome)) waited.set(outcome, await outcome);

      /** Runs an execution and files it for the event; its outcome, at once when graphql-js answered at once. */
      function executeNow(key: string, run: () => Promise<ExecutionResult> | ExecutionResult): Outcome | Promise<Outcome> {
        let result: Promise<ExecutionResult> | ExecutionResult;
        try {
          result = run();
        } catch (error) {
          const failed = Promise.reject(error);
          failed.catch(() => undefined);
          executions.set(key, failed);
          return { status: 'rejected', reason: error };
        }
        if (result instanceof Promise) {
          executions.set(key, result);
          return settle(result);
        }
        executions.set(key, Promise.resolve(result));
        return { status: 'fulfilled', value: result };
      }

      // Subscribers mostly share one result: its payload is looked up once for each run of them.
      let result: ExecutionResult | undefined;
      let plain: string | null = null;
      for (let i = 0; i < subscribers.length; i += 1) {
        const subscriber = subscribers[i]!;
        subscriber.pending -= 1;
        const outcome = outcomes[i];
        if (subscriber.stopped || !outcome) continue;
        const settled = outcome instanceof Promise ? waited.get(outcome)! : outcome;
        if (settled.status === 'rejected') {
          subscriber.fail(settled.reason);
          continue;
        }
        if (settled.value !== result) plain = plainJson((result = settled.value));
        const { admission } = subscriber.subject;
        const json =
          plain !== null && !hasOwnExtensions(admission) ? plain : JSON.stringify(core.complete(result, admission, { final: false }));
        // One subscriber's socket that fails to take its frame ends that subscription, not the event for the others.
        try {
          subscriber.write(json, event);
        } catch (error) {
          subscriber.fail(error);
        }
      }
    },
  });

  const core = {
    admit,

    /** The token check on its own, for a transport's connection handshake (graphql-ws `connection_init`). */
    authenticate: (authorization: string | null | undefined) => contextBuilder.authenticate(authorization),

    /** Reports a step a transport's library ran on its own (Apollo parsing a document the core did not cache). */
    observe: step,

    /** The admission an execution context belongs to (graphql-ws hands back the arguments it was given). */
    admissionOf(context: unknown): Admission | undefined {
      return typeof context === 'object' && context !== null ? admissions.get(context) : undefined;
    },

    executionArgs,

    /**
     * Runs a query or mutation, inside its span when traced; its statements are measured for `Server-Timing` and
     * `extensions.sql`; when the client goes away (`signal`), its statements are cancelled.
     */
    async execute(admission: Admission): Promise<ExecutionResult> {
      const { span } = admission;
      const run = () => executeOperation(executionArgs(admission));
      return withCancellation(admission.cancellation, span ? () => span.run(run) : run);
    },

    /**
     * Opens a subscription. Events are executed with a fresh context each (new DataLoaders, the viewer checked
     * again). For subscriptions marked @SharedEvents, subscribers with the same document, variables and scopes share
     * one execution of each event: the pub/sub hands every subscriber the same event object, which keys the share.
     * A transport that writes its own frames (`writeNext`) gets the shared events of a pub/sub subscription written
     * in one loop per event (src/realtime/fanout.ts); the stream it is handed then yields nothing and only settles.
     */
    async subscribe(admission: Admission, writeNext?: WriteNext): Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult> {
      const args = executionArgs(admission);
      const { span } = admission;
      const source = await (span ? span.run(() => createSourceEventStream(args)) : createSourceEventStream(args));
      if (!isAsyncIterable(source)) return source as ExecutionResult;
      const shareKey = sharedEventsKey(admission);
      if (writeNext && shareKey !== null && isTopicSubscription(source)) {
        return sharedFanout.subscribe(sharedSubject(admission), shareKey, source, writeNext).stream;
      }
      // Every source, whatever its resolver, reads through a bounded per-subscriber queue: a client that stops reading
      // blocks its transport's send loop, and a pub/sub iterator nobody pulls piles up pushes until it throws into the
      // publisher (and, from an EventTarget listener, out of the process). Past the limit the connection is dropped.
      // Sources that are already such a queue (chat, notifications, dashboards) are not queued twice.
      const stream = isBounded(source) ? source : bounded(source, options.subscriptionQueueLimit, admission.context.connection);
      return mapQueued(stream, async (payload) => {
        const event = typeof payload === 'object' && payload !== null ? eventShare(payload) : null;
        const contextValue = await contextBuilder.forEvent(admission.context, admission.context.connection?.currentClaims?.(), event?.reads);
        const run = () => runEvent(admission, payload, contextValue);
        if (shareKey === null || event === null) return run();
        const key = executionKey(shareKey, contextValue.scopes);
        let result = event.executions.get(key);
        if (!result) {
          event.executions.set(key, (result = Promise.resolve(run())));
          void result.then(
            (settled) => sharedResults.set(settled, payload as object),
            () => undefined,
          );
        }
        return result;
      });
    },

    /**
     * The `payload` of a `next` message as JSON, when the result is one execution shared by several subscribers and
     * this subscriber would see it as it is (no errors, whose masking names the request; no first-result cost, no
     * `extensions.sql`): serialized once per result, written to each socket with only the id differing. Null
     * otherwise: the transport completes and serializes the result itself.
     */
    sharedPayload(result: ExecutionResult, admission: Admission): { json: string; event: object } | null {
      const event = sharedResults.get(result);
      const json = event ? sharedJson(result, admission) : null;
      return event && json !== null ? { json, event } : null;
    },

    /**
     * What the client sees of one result: errors masked (and logged) with the request id, `extensions.cost` on the
     * first result, `extensions.sql` with DEBUG_SQL. `final` (a query's only result) also writes the log line.
     */
    complete(result: ExecutionResult, admission: Admission, { final }: { final: boolean }): FormattedExecutionResult {
      const errors = result.errors?.length
        ? format(result.errors, admission.requestId, admission.context.log, ErrorCode.BAD_USER_INPUT)
        : undefined;
      const ticket = admission.costPending ? admission.context.rateLimit : undefined;
      admission.costPending = false;
      const sql = admission.sqlExtension ? sqlFigures(admission) : undefined;
      const extensions = {
        ...(ticket ? { cost: costExtension(ticket) } : {}),
        ...(sql ? { sql } : {}),
      };
      if (final || errors) finish(admission, firstErrorCode(errors));
      return completed(result, errors, extensions);
    },

    /** Formats errors an adapter produced after admission (graphql-ws's own). */
    formatErrors(errors: readonly GraphQLError[], admission: Admission): GraphQLFormattedError[] {
      return format(errors, admission.requestId, admission.context.log, ErrorCode.GRAPHQL_VALIDATION_FAILED);
    },

    finish,
  };
  return core;
}

export type OperationCore = ReturnType<typeof createOperationCore>;

/** A result as the client sees it (see `complete`). */
function completed(
  result: ExecutionResult,
  errors: GraphQLFormattedError[] | undefined,
  extraExtensions: Record<string, unknown>,
): FormattedExecutionResult {
  const extensions = { ...result.extensions, ...extraExtensions };
  return {
    ...(errors ? { errors } : {}),
    ...('data' in result ? { data: result.data } : {}),
    ...(Object.keys(extensions).length > 0 ? { extensions } : {}),
  };
}

/**
 * Authentication reads shared while in flight: a read is taken out once it settled, so only subscribers checked at
 * the same moment share it (one event's fan-out), never a subscriber that reads the event later.
 */
class InFlight<T> extends Map<string, Promise<T>> {
  override set(key: string, read: Promise<T>): this {
    super.set(key, read);
    const forget = () => void (super.get(key) === read && super.delete(key));
    read.then(forget, forget);
    return this;
  }
}

/** A result of this operation carries extensions of its own: the first one's `cost`, or `sql` (DEBUG_SQL). */
const hasOwnExtensions = (admission: Admission) => admission.costPending || admission.sqlExtension;

/** The statements an operation ran and the time they took (ms), when they were measured. */
export function sqlFigures(admission: Pick<Admission, 'sqlStats'>): { statements: number; ms: number } | undefined {
  const stats = admission.sqlStats;
  return stats ? { statements: stats.statements, ms: sqlTimeMs(stats) } : undefined;
}

/** One subscription event's execution as a span of its own, linked to the subscription's. */
async function tracedEvent(
  tracer: Tracer,
  subscription: ActiveSpan,
  admission: Admission,
  run: () => Promise<ExecutionResult> | ExecutionResult,
): Promise<ExecutionResult> {
  const name = admission.operationName ?? 'subscription';
  const event = startLinkedSpan(tracer, `subscription ${name} event`, subscription.span, {
    'graphql.operation.type': 'subscription',
    'opshub.request_id': admission.requestId,
  });
  try {
    const result = await event.run(run);
    event.end(result.errors?.length ? String(result.errors[0]!.extensions?.code ?? ErrorCode.INTERNAL_SERVER_ERROR) : undefined);
    return result;
  } catch (error) {
    event.end(ErrorCode.INTERNAL_SERVER_ERROR);
    throw error;
  }
}
