/**
 * OpenTelemetry: the real SDK (a NodeTracerProvider with the in-memory exporter) receives a span per operation on
 * every transport, SQL statements as its children, and the run of a job in the trace of the mutation that queued it;
 * `traceparent` is accepted and echoed. A server without TRACING creates no span.
 */
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createUser, TEST_PASSWORD, type TestUser } from '../helpers/auth.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { collect } from '../helpers/subscriptions.js';

const exporter = new InMemorySpanExporter();
const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
provider.register();

let server: TestServer;
let user: TestUser;

beforeAll(async () => {
  server = await startServer({ TRACING: 'true', JOB_POLL_INTERVAL_MS: '50' });
  user = await createUser(server);
});
afterAll(async () => {
  await server?.close();
  await provider.shutdown();
});
beforeEach(() => exporter.reset());

const CALLER_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const CALLER_SPAN = '00f067aa0ba902b7';

const spans = () => exporter.getFinishedSpans();
const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;
const childrenOf = (parent: ReadableSpan) => spans().filter((span) => parentOf(span) === parent.spanContext().spanId);
const named = (name: string) => spans().filter((span) => span.name === name);

async function until<T>(find: () => T | undefined, what: string, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const found = find();
    if (found !== undefined) return found;
    if (Date.now() > deadline)
      throw new Error(
        `timed out waiting for ${what}; spans: ${spans()
          .map((s) => s.name)
          .join(', ')}`,
      );
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('an HTTP mutation that queues a job', () => {
  it('is one operation span in the caller’s trace, with SQL children, and the job runs in the same trace', async () => {
    const { status, headers, body } = await server.gql(
      `mutation StartExport($input: StartJobInput!) { startJob(input: $input) { job { id } userErrors { message } } }`,
      { input: { kind: 'EXPORT_ITEMS', params: {} } },
      { token: user.token, headers: { traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-01` } },
    );
    expect(status).toBe(200);
    expect(body.data!.startJob.userErrors).toEqual([]);

    const [operation, ...others] = named('mutation StartExport');
    expect(others).toEqual([]);
    expect(operation!.kind).toBe(SpanKind.SERVER);
    expect(operation!.spanContext().traceId).toBe(CALLER_TRACE);
    expect(parentOf(operation!)).toBe(CALLER_SPAN);
    expect(operation!.attributes).toMatchObject({
      'graphql.operation.type': 'mutation',
      'graphql.operation.name': 'StartExport',
      'opshub.request_id': headers.get('x-request-id'),
      'opshub.transport': 'http',
    });
    expect(operation!.status.code).not.toBe(SpanStatusCode.ERROR);
    // Echoed: the same trace, the server's span.
    expect(headers.get('traceparent')).toBe(`00-${CALLER_TRACE}-${operation!.spanContext().spanId}-01`);

    // Its children: the statements, and the job's run once it finished.
    const sql = childrenOf(operation!).filter((span) => !span.name.startsWith('job '));
    expect(sql.length).toBeGreaterThan(0);
    for (const statement of sql) {
      expect(statement.kind).toBe(SpanKind.CLIENT);
      expect(statement.attributes['db.system.name']).toBe('postgresql');
      expect(String(statement.attributes['db.query.text'])).toMatch(/\S/);
    }
    expect(sql.map((span) => span.name)).toContain('INSERT');
    const statements = Number(/desc="(\d+) statements"/.exec(headers.get('server-timing') ?? '')![1]);
    expect(sql).toHaveLength(statements);

    const job = await until(() => named('job EXPORT_ITEMS')[0], 'the job span');
    expect(named('job EXPORT_ITEMS')).toHaveLength(1);
    expect(job.spanContext().traceId).toBe(CALLER_TRACE);
    expect(parentOf(job)).toBe(operation!.spanContext().spanId);
    expect(job.kind).toBe(SpanKind.CONSUMER);
    expect(job.attributes['opshub.job.outcome']).toBe('completed');
    expect(childrenOf(job).length).toBeGreaterThan(0);
    expect(childrenOf(job).every((span) => span.kind === SpanKind.CLIENT)).toBe(true);
  });
});

describe('traceparent', () => {
  it('starts a new trace without one, and echoes the operation span', async () => {
    const { headers } = await server.gql('query Me { viewer { username } }', {}, { token: user.token });
    const [span] = named('query Me');
    expect(parentOf(span!)).toBeUndefined();
    const { traceId, spanId } = span!.spanContext();
    expect(headers.get('traceparent')).toBe(`00-${traceId}-${spanId}-01`);
  });

  it('ignores a malformed one', async () => {
    const { status, headers } = await server.gql(
      'query Me { viewer { username } }',
      {},
      { headers: { traceparent: '00-zz-not-a-trace-01' } },
    );
    expect(status).toBe(200);
    const [span] = named('query Me');
    expect(parentOf(span!)).toBeUndefined();
    expect(headers.get('traceparent')).toMatch(new RegExp(`^00-${span!.spanContext().traceId}-[0-9a-f]{16}-01$`));
  });

  it('is on refusals, whose span records the error code and runs no SQL', async () => {
    const { status, headers } = await server.gql(
      'query Broken { noSuchField }',
      {},
      { headers: { traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-01` } },
    );
    expect(status).toBe(400);
    const [span] = named('query Broken');
    expect(span!.status.code).toBe(SpanStatusCode.ERROR);
    expect(span!.attributes['opshub.error_code']).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(childrenOf(span!)).toEqual([]);
    expect(headers.get('traceparent')).toBe(`00-${CALLER_TRACE}-${span!.spanContext().spanId}-01`);
  });
});

describe('SQL spans', () => {
  it('carry the statement text, never its parameters', async () => {
    const username = `t_${Date.now().toString(36)}`;
    const email = `reg${Date.now().toString(36)}@example.com`;
    const { body } = await server.gql(
      `mutation Register($input: RegisterInput!) { register(input: $input) { user { id } userErrors { message } } }`,
      { input: { username, email, password: `${TEST_PASSWORD}!x` } },
    );
    expect(body.data!.register.userErrors).toEqual([]);
    const [operation] = named('mutation Register');
    const text = JSON.stringify(childrenOf(operation!).map((span) => span.attributes));
    expect(text).toContain('insert into');
    expect(text).not.toContain(username);
    expect(text).not.toContain(email);
    expect(text).not.toContain(TEST_PASSWORD);
    expect(text).not.toMatch(/scrypt\$/);
  });
});

describe('subscriptions', () => {
  it('are a span on graphql-ws too, and each event executes in a span linked to it', async () => {
    const started = await server.gql(
      `mutation StartExport($input: StartJobInput!) { startJob(input: $input) { job { id } } }`,
      { input: { kind: 'EXPORT_ITEMS', params: {} } },
      { token: user.token },
    );
    const id = started.body.data!.startJob.job.id as string;
    // jobUpdated sends the job's current state first: one event without waiting for a publish.
    const watcher = collect(server.wsClient({ authorization: `Bearer ${user.token}` }), {
      query: 'subscription Watch($id: ID!) { jobUpdated(id: $id) { id status } }',
      variables: { id },
    });
    await watcher.waitFor(1, 10_000);
    const event = await until(() => named('subscription Watch event')[0], 'an event span');
    watcher.dispose();
    const subscription = await until(() => named('subscription Watch')[0], 'the subscription span');
    expect(subscription.attributes['opshub.transport']).toBe('ws');
    expect(parentOf(event)).toBeUndefined();
    expect(event.links.map((link) => link.context.spanId)).toEqual([subscription.spanContext().spanId]);
  });
});

describe('without TRACING', () => {
  it('creates no span', async () => {
    const plain = await startServer();
    // The traced server's jobs (the exports above) finish first: their spans are not this server's.
    await until(() => (server.app.runner.activeCount === 0 ? true : undefined), 'the traced server to be idle', 60_000);
    exporter.reset();
    try {
      const { status, headers } = await plain.gql(
        'query Me { viewer { username } }',
        {},
        { headers: { traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-01` } },
      );
      expect(status).toBe(200);
      expect(headers.get('traceparent')).toBeNull();
      expect(spans()).toEqual([]);
    } finally {
      await plain.close();
    }
  });
});
