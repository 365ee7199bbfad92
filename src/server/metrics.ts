/**
 * Prometheus metrics at `GET /metrics`, one registry per app (never prom-client's global one: tests run several
 * servers in one process, and each must count only its own operations).
 *
 * What is counted where:
 * - operations: the operation core reports each operation once, when it writes its log line (`onOperation`), so
 *   every transport and every refusal is counted, RATE_LIMITED included;
 * - dropped consumers: the connection handles of graphql-ws and SSE report each drop (a queue over its bound, an
 *   outgoing buffer over its limit);
 * - jobs: the runner reports each run's outcome; the queue's depth and oldest due job are read when scraped;
 * - open connections, streams and subscriptions: read from the realtime registry and the transports when scraped;
 * - pub/sub events as they reach this process, by origin (`self`: published here, `peer`: by another process — never
 *   the process ids themselves, whose number has no bound), with the publish-to-receipt delay of a peer's events;
 * - fan-out: per shared subscription event, the time from its publication to its last socket write.
 *
 * Cardinality: operation names are chosen by clients. A name becomes a label value only for an operation that
 * validated (so a flood of garbage documents adds no series), cut to MAX_OPERATION_NAME_LENGTH characters, and only
 * the first MAX_OPERATION_NAMES distinct names get a series of their own; later ones are counted as "other".
 *
 * Access: open in development and test. In production `/metrics` needs `Authorization: Bearer <METRICS_TOKEN>` and
 * answers 404 when METRICS_TOKEN is unset: the metrics name operations, job kinds and connection counts, which are
 * for operators, not for every caller of the public port. A bearer token on the same port (rather than a second
 * port) goes through the ingress Prometheus already reaches, needs no second listener to drain at shutdown, and
 * Prometheus sends it with `authorization: { credentials_file: … }`.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { ErrorCode } from '../schema/shared/errors.js';
import type { Transport } from '../schema/context.js';
import type { JobRunOutcome } from '../jobs/runner.js';
import type { OperationReport } from './operation.js';
import type { EventOrigin } from '../pubsub/pubsub.js';

export const METRICS_PATH = '/metrics';
/** Distinct operation names with a series of their own; further names are counted as "other". */
export const MAX_OPERATION_NAMES = 200;
export const MAX_OPERATION_NAME_LENGTH = 64;
/** Label values for an operation without a usable name. */
export const OTHER_OPERATION = 'other';
export const ANONYMOUS_OPERATION = '(anonymous)';
export const UNVALIDATED_OPERATION = '(unvalidated)';

/** Seconds; from a cached query (~1 ms) to the HTTP request timeout. */
const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

const KNOWN_CODES: ReadonlySet<string> = new Set(Object.values(ErrorCode));

/** State read at scrape time; each source is attached when the part that owns it starts. */
export interface MetricSources {
  realtime?: () => { connections: number; onlineUsers: number };
  ws?: () => { connections: number; subscriptions: number };
  sse?: () => { streams: number; subscriptions: number };
  jobs?: () => Promise<{ pending: number; oldestDueAt: Date | null }>;
  runningJobs?: () => number;
}

/** A bounded set of label values: the first `max` distinct values are kept, the rest become `other`. */
function boundedLabels(max: number, maxLength: number) {
  const seen = new Set<string>();
  return (value: string): string => {
    const cut = value.length > maxLength ? value.slice(0, maxLength) : value;
    if (seen.has(cut)) return cut;
    if (seen.size >= max) return OTHER_OPERATION;
    seen.add(cut);
    return cut;
  };
}

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'opshub_' });
  const sources: MetricSources = {};
  const operationLabel = boundedLabels(MAX_OPERATION_NAMES, MAX_OPERATION_NAME_LENGTH);
  const jobKindLabel = boundedLabels(MAX_OPERATION_NAMES, MAX_OPERATION_NAME_LENGTH);

  const operations = new Counter({
    name: 'opshub_graphql_operations_total',
    help: 'GraphQL operations by operation name, type, transport and outcome (ok or the first error code)',
    labelNames: ['operation', 'type', 'transport', 'outcome'] as const,
    registers: [registry],
  });
  // prom-client hashes a label set on every call: the series of each label set seen are kept instead (as few as the
  // labels allow, which are bounded).
  const operationSeries = new Map<string, { count: { inc(): void }; duration: { observe(value: number): void } }>();
  const durations = new Histogram({
    name: 'opshub_graphql_operation_duration_seconds',
    help: 'Time from admission to the log line: a query until its result, a subscription until it ends',
    labelNames: ['operation', 'type', 'transport'] as const,
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  const dropped = new Counter({
    name: 'opshub_realtime_dropped_consumers_total',
    help: 'Connections and event streams dropped because their client stopped reading',
    labelNames: ['transport'] as const,
    registers: [registry],
  });
  const pubsubEvents = new Counter({
    name: 'opshub_pubsub_events_received_total',
    help: 'Pub/sub events received by this process (once per event, whatever its number of subscribers), by origin: self or peer',
    labelNames: ['origin'] as const,
    registers: [registry],
  });
  const peerDelay = new Histogram({
    name: 'opshub_pubsub_peer_delay_seconds',
    help: "Time from another process's publication of an event to its receipt here",
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const fanoutDuration = new Histogram({
    name: 'opshub_realtime_fanout_seconds',
    help: 'Per shared subscription event (graphql-ws): time from its publication to the last socket write of it',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const jobRuns = new Counter({
    name: 'opshub_job_runs_total',
    help: 'Job runs by kind and outcome (completed, failed, retried, cancelled, returned at shutdown, lease_lost)',
    labelNames: ['kind', 'outcome'] as const,
    registers: [registry],
  });

  new Gauge({
    name: 'opshub_realtime_connections',
    help: 'Registered realtime connections (graphql-ws sockets past connection_init and SSE subscriptions)',
    registers: [registry],
    collect() {
      this.set(sources.realtime?.().connections ?? 0);
    },
  });
  new Gauge({
    name: 'opshub_realtime_online_users',
    help: 'Distinct signed-in users with at least one open realtime connection',
    registers: [registry],
    collect() {
      this.set(sources.realtime?.().onlineUsers ?? 0);
    },
  });
  new Gauge({
    name: 'opshub_open_connections',
    help: 'Open WebSocket sockets and SSE streams',
    labelNames: ['transport'] as const,
    registers: [registry],
    collect() {
      this.set({ transport: 'ws' }, sources.ws?.().connections ?? 0);
      this.set({ transport: 'sse' }, sources.sse?.().streams ?? 0);
    },
  });
  new Gauge({
    name: 'opshub_open_subscriptions',
    help: 'Open subscriptions',
    labelNames: ['transport'] as const,
    registers: [registry],
    collect() {
      this.set({ transport: 'ws' }, sources.ws?.().subscriptions ?? 0);
      this.set({ transport: 'sse' }, sources.sse?.().subscriptions ?? 0);
    },
  });
  new Gauge({
    name: 'opshub_jobs_running',
    help: 'Jobs this process is running',
    registers: [registry],
    collect() {
      this.set(sources.runningJobs?.() ?? 0);
    },
  });
  // One query serves both queue gauges: a scrape collects every metric at once, so both share the query in flight.
  let jobStats: Promise<{ pending: number; oldestDueAt: Date | null } | undefined> | null = null;
  const readJobStats = () => (jobStats ??= Promise.resolve(sources.jobs?.()).finally(() => (jobStats = null)));
  new Gauge({
    name: 'opshub_jobs_pending',
    help: 'PENDING jobs in the queue, all processes together',
    registers: [registry],
    async collect() {
      this.set((await readJobStats())?.pending ?? 0);
    },
  });
  new Gauge({
    name: 'opshub_jobs_oldest_due_age_seconds',
    help: 'How long the oldest due PENDING job has waited past its run time (0: none waits)',
    registers: [registry],
    async collect() {
      const oldest = (await readJobStats())?.oldestDueAt;
      this.set(oldest ? Math.max(0, (Date.now() - oldest.getTime()) / 1_000) : 0);
    },
  });

  return {
    registry,
    /** Sources read at scrape time; set as their owners start (the WebSocket server starts with `listen`). */
    sources,

    /** Called by the operation core once per operation, refusals included. */
    operation(event: OperationReport): void {
      const type = event.type ?? 'unknown';
      const operation =
        event.type === null ? UNVALIDATED_OPERATION : event.operationName ? operationLabel(event.operationName) : ANONYMOUS_OPERATION;
      const outcome = event.errorCode === undefined ? 'ok' : KNOWN_CODES.has(event.errorCode) ? event.errorCode : 'error';
      const key = `${operation}\u0000${type}\u0000${event.transport}\u0000${outcome}`;
      let series = operationSeries.get(key);
      if (!series) {
        series = {
          count: operations.labels(operation, type, event.transport, outcome),
          duration: durations.labels(operation, type, event.transport),
        };
        operationSeries.set(key, series);
      }
      series.count.inc();
      series.duration.observe(event.durationMs / 1_000);
    },

    /** Called by the pub/sub once per event that reaches this process. */
    pubsubEvent(origin: EventOrigin, delayMs: number | null): void {
      pubsubEvents.inc({ origin });
      if (origin === 'peer' && delayMs !== null) peerDelay.observe(delayMs / 1_000);
    },

    /** Called by the graphql-ws transport once per shared event written to its sockets. */
    fanout(ms: number): void {
      fanoutDuration.observe(Math.max(0, ms) / 1_000);
    },

    dropped(transport: Transport): void {
      dropped.inc({ transport });
    },

    jobRun(kind: string, outcome: JobRunOutcome): void {
      jobRuns.inc({ kind: jobKindLabel(kind), outcome });
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

const digest = (value: string) => createHash('sha256').update(value).digest();

/** `GET /metrics`; see the header for who may read it. */
export function registerMetrics(fastify: FastifyInstance, metrics: Metrics, options: { token: string | null; production: boolean }): void {
  const { token } = options;
  if (options.production && token === null) return;
  const expected = token === null ? null : digest(`Bearer ${token}`);
  fastify.get(METRICS_PATH, { logLevel: 'warn' }, async (request, reply) => {
    // Compared as digests: constant time whatever the length of what the caller sent.
    if (expected && !timingSafeEqual(digest(request.headers.authorization ?? ''), expected)) {
      return reply.code(401).header('www-authenticate', 'Bearer').type('text/plain; charset=utf-8').send('Unauthorized\n');
    }
    const body = await metrics.registry.metrics();
    return reply.header('cache-control', 'no-store').type(metrics.registry.contentType).send(body);
  });
}
