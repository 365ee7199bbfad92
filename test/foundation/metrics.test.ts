/**
 * Observability: `/metrics` (one registry per app, exact counts of operations by name, type, transport and outcome,
 * job runs, open subscriptions), response compression and `Server-Timing`.
 */
import { request as httpRequest } from 'node:http';
import type { Socket } from 'node:net';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PermanentJobError, type JobDefinition } from '../../src/jobs/types.js';
import { MAX_OPERATION_NAME_LENGTH } from '../../src/server/metrics.js';
import { createUser, type TestUser } from '../helpers/auth.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { collect } from '../helpers/subscriptions.js';
import { rawClient, until, type RawClient } from '../realtime/helpers.js';

const METRICS_TOKEN = 'metrics-token-for-the-tests';
const PROBE = 'query MetricsProbe { __typename }';
const PROBES = 7;
/** Small, so a socket that stops reading is over it after a few large events. */
const MAX_BUFFERED_BYTES = 8_192;
const CREATE_POST = 'mutation CreatePost($input: CreatePostInput!) { createPost(input: $input) { post { id } userErrors { message } } }';

const handlers: JobDefinition[] = [
  {
    kind: 'NEWSLETTER',
    scopes: [],
    forbiddenMessage: 'unused',
    parse: (raw) => raw as never,
    async run() {
      throw new PermanentJobError('Mailing list service is down');
    },
  },
];

let server: TestServer;
let user: TestUser;

beforeAll(async () => {
  // One subscription per socket, so a second one is a RATE_LIMITED refusal.
  server = await startServer(
    { METRICS_TOKEN, JOB_POLL_INTERVAL_MS: '50', WS_MAX_SUBSCRIPTIONS: '1', WS_MAX_BUFFERED_BYTES: String(MAX_BUFFERED_BYTES) },
    { jobHandlers: handlers },
  );
  user = await createUser(server);
});
const rawClients: RawClient[] = [];
afterAll(async () => {
  await Promise.all(rawClients.map((client) => client.dispose()));
  await server?.close();
});

async function scrape(): Promise<string> {
  const response = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return response.text();
}

/** Scrapes until `done` holds for the text (a job or a socket settles on its own time), at most 5 s. */
async function scrapeUntil(done: (text: string) => boolean): Promise<string> {
  let text = await scrape();
  for (let i = 0; i < 100 && !done(text); i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    text = await scrape();
  }
  return text;
}

/** The value of one sample, found by its exact name and labels (in any order); undefined when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const wanted = Object.entries(labels);
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = new Map([...(match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    if (found.size === wanted.length && wanted.every(([key, value]) => found.get(key) === value)) return Number(match[3]);
  }
  return undefined;
}

/**
 * Strict text exposition format (0.0.4): every line is a HELP, a TYPE or a sample; every sample belongs to a family
 * whose TYPE came before it; label values are quoted and escaped; values are floats.
 */
function checkExposition(text: string): void {
  expect(text.endsWith('\n')).toBe(true);
  const types = new Map<string, string>();
  const name = '[a-zA-Z_:][a-zA-Z0-9_:]*';
  const labels = `\\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*"(?:,(?=[a-zA-Z_]))?)*\\}`;
  const value = '(?:[+-]?(?:\\d+(?:\\.\\d*)?|\\.\\d+)(?:[eE][+-]?\\d+)?|[+-]?Inf|NaN)';
  const sampleLine = new RegExp(`^(${name})(?:${labels})? ${value}(?: -?\\d+)?$`);
  for (const line of text.slice(0, -1).split('\n')) {
    if (line === '') continue;
    const help = new RegExp(`^# HELP (${name}) .*$`).exec(line);
    if (help) continue;
    const type = new RegExp(`^# TYPE (${name}) (counter|gauge|histogram|summary|untyped)$`).exec(line);
    if (type) {
      expect(types.has(type[1]!), `TYPE of ${type[1]} given twice`).toBe(false);
      types.set(type[1]!, type[2]!);
      continue;
    }
    const match = sampleLine.exec(line);
    expect(match, `not a sample line: ${line}`).not.toBeNull();
    const metric = match![1]!;
    const family = [metric, metric.replace(/_(bucket|sum|count)$/, '')].find((candidate) => types.has(candidate));
    expect(family, `sample of an undeclared family: ${line}`).toBeDefined();
  }
}

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** A POST with exactly the headers given (fetch would add accept-encoding and decode the body itself). */
function rawPost(body: unknown, headers: Record<string, string>): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      server.httpUrl,
      { method: 'POST', headers: { 'content-type': 'application/json', ...headers } },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve({ status: response.statusCode!, headers: response.headers, body: Buffer.concat(chunks) }));
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(JSON.stringify(body));
  });
}

// About 6 KB of JSON: the names and descriptions of the schema's types.
const LARGE = { query: 'query Large { __schema { types { name description } } }' };

describe('/metrics', () => {
  it('counts operations by name, type, transport and outcome, refusals included', async () => {
    for (let i = 0; i < PROBES; i++) expect((await server.gql(PROBE)).status).toBe(200);
    // Refused by validation: its name is not a label (the document never validated).
    expect((await server.gql('query Broken { noSuchField }')).status).toBe(400);
    // Refused after validation (a subscription over plain HTTP): named.
    expect((await server.gql('subscription NotOverHttp { itemChanged { id } }')).status).toBe(400);

    const text = await scrape();
    checkExposition(text);
    const ops = 'opshub_graphql_operations_total';
    expect(sample(text, ops, { operation: 'MetricsProbe', type: 'query', transport: 'http', outcome: 'ok' })).toBe(PROBES);
    expect(sample(text, ops, { operation: '(unvalidated)', type: 'unknown', transport: 'http', outcome: 'GRAPHQL_VALIDATION_FAILED' })).toBe(
      1,
    );
    expect(sample(text, ops, { operation: 'NotOverHttp', type: 'subscription', transport: 'http', outcome: 'BAD_REQUEST' })).toBe(1);
    expect(
      sample(text, ops, { operation: 'Broken', type: 'unknown', transport: 'http', outcome: 'GRAPHQL_VALIDATION_FAILED' }),
    ).toBeUndefined();
    const histogram = 'opshub_graphql_operation_duration_seconds';
    expect(sample(text, `${histogram}_count`, { operation: 'MetricsProbe', type: 'query', transport: 'http' })).toBe(PROBES);
    expect(sample(text, `${histogram}_bucket`, { operation: 'MetricsProbe', type: 'query', transport: 'http', le: '+Inf' })).toBe(PROBES);
    // Default process metrics, in this app's own registry.
    expect(sample(text, 'opshub_process_resident_memory_bytes')).toBeGreaterThan(0);
  });

  it('cuts long operation names to a bounded label', async () => {
    const long = `Q${'x'.repeat(200)}`;
    expect((await server.gql(`query ${long} { __typename }`)).status).toBe(200);
    const text = await scrape();
    const labels = { operation: long.slice(0, MAX_OPERATION_NAME_LENGTH), type: 'query', transport: 'http', outcome: 'ok' };
    expect(sample(text, 'opshub_graphql_operations_total', labels)).toBe(1);
    expect(text).not.toContain(long);
  });

  it('counts a failed job run by kind and reads the queue depth', async () => {
    const { body } = await server.gql(
      'mutation Start($input: StartJobInput!) { startJob(input: $input) { job { id } userErrors { message } } }',
      { input: { kind: 'NEWSLETTER', params: {} } },
      { token: user.token },
    );
    expect(body.data!.startJob.userErrors).toEqual([]);
    const text = await scrapeUntil((t) => sample(t, 'opshub_job_runs_total', { kind: 'NEWSLETTER', outcome: 'failed' }) !== undefined);
    expect(sample(text, 'opshub_job_runs_total', { kind: 'NEWSLETTER', outcome: 'failed' })).toBe(1);
    expect(sample(text, 'opshub_job_runs_total', { kind: 'NEWSLETTER', outcome: 'completed' })).toBeUndefined();
    expect(sample(text, 'opshub_jobs_pending')).toBeGreaterThanOrEqual(0);
    expect(sample(text, 'opshub_jobs_oldest_due_age_seconds')).toBeGreaterThanOrEqual(0);
  });

  it('shows open WebSocket connections and subscriptions while they are open', async () => {
    const client = server.wsClient({ authorization: `Bearer ${user.token}` });
    const events = collect(client, { query: 'subscription Watch { itemChanged { id } }' });
    let text = await scrapeUntil((t) => sample(t, 'opshub_open_subscriptions', { transport: 'ws' }) === 1);
    expect(sample(text, 'opshub_open_subscriptions', { transport: 'ws' })).toBe(1);
    expect(sample(text, 'opshub_open_connections', { transport: 'ws' })).toBe(1);
    expect(sample(text, 'opshub_realtime_connections')).toBe(1);
    expect(sample(text, 'opshub_realtime_online_users')).toBe(1);
    // A second subscription on the socket is over WS_MAX_SUBSCRIPTIONS: refused, RATE_LIMITED.
    const refused = collect(client, { query: 'subscription Again { itemChanged { id } }' });
    await refused.done();
    expect(refused.errors).toHaveLength(1);
    text = await scrape();
    expect(
      sample(text, 'opshub_graphql_operations_total', { operation: 'Again', type: 'subscription', transport: 'ws', outcome: 'RATE_LIMITED' }),
    ).toBe(1);
    events.dispose();
    await client.dispose();
    text = await scrapeUntil((t) => sample(t, 'opshub_open_connections', { transport: 'ws' }) === 0);
    expect(sample(text, 'opshub_open_connections', { transport: 'ws' })).toBe(0);
    // The subscription ended: counted once, over graphql-ws.
    expect(
      sample(text, 'opshub_graphql_operations_total', { operation: 'Watch', type: 'subscription', transport: 'ws', outcome: 'ok' }),
    ).toBe(1);
  });

  it('counts a consumer dropped because it stopped reading, once', async () => {
    const before = sample(await scrape(), 'opshub_realtime_dropped_consumers_total', { transport: 'ws' }) ?? 0;
    const reader = await createUser(server);
    // The server's end of the socket, to know when a message is stuck in its outgoing buffer.
    const upgraded = new Promise<Socket>((resolve) =>
      server.app.fastify.server.once('upgrade', (_request, socket: Socket) => resolve(socket)),
    );
    const stalled = rawClient(server, reader.token, rawClients);
    const serverEnd = await upgraded;
    const posts = collect(stalled.client, { query: 'subscription Posts { postPublished { id body } }' });
    const publish = async (title: string, body: string) => {
      const { body: result } = await server.gql(CREATE_POST, { input: { title, body } }, { token: user.token });
      expect(result.data!.createPost.userErrors).toEqual([]);
    };
    while (posts.events.length === 0) {
      await publish('hello', 'hello');
      await posts.waitFor(1, 250).catch(() => undefined);
    }
    (stalled.socket() as unknown as { _socket: Socket })._socket.pause();
    // Large posts until one stays in the server's outgoing buffer (the kernel's buffers are full): the buffer check
    // drops the socket within a second.
    const body = 'z'.repeat(10_000);
    for (let sent = 0; serverEnd.writableLength <= MAX_BUFFERED_BYTES; sent++) {
      if (sent === 5_000) throw new Error('the outgoing buffer never filled');
      const written = serverEnd.bytesWritten;
      await publish(`big ${sent}`, body);
      // Written to the kernel whole, or (part of it) waiting in the outgoing buffer: the kernel's buffers are full,
      // and further posts fill the buffer past the limit. Waiting for more than that could wait for ever on a post
      // stuck part-way into the kernel with less than the limit left.
      await until(() => serverEnd.bytesWritten >= written + body.length || serverEnd.writableLength > 0, 'the post on the socket');
    }
    const text = await scrapeUntil((t) => (sample(t, 'opshub_realtime_dropped_consumers_total', { transport: 'ws' }) ?? 0) > before);
    expect(sample(text, 'opshub_realtime_dropped_consumers_total', { transport: 'ws' })).toBe(before + 1);
    expect(sample(text, 'opshub_realtime_dropped_consumers_total', { transport: 'sse' }) ?? 0).toBe(0);
    posts.dispose();
  }, 120_000);

  it('refuses a scrape without the token when METRICS_TOKEN is set', async () => {
    expect((await fetch(`${server.url}/metrics`)).status).toBe(401);
    const wrong = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}x` } });
    expect(wrong.status).toBe(401);
  });

  it('keeps each app in its own registry', async () => {
    const other = await startServer();
    try {
      const text = await (await fetch(`${other.url}/metrics`)).text();
      expect(
        sample(text, 'opshub_graphql_operations_total', { operation: 'MetricsProbe', type: 'query', transport: 'http', outcome: 'ok' }),
      ).toBeUndefined();
    } finally {
      await other.close();
    }
  });
});

describe('compression', () => {
  it('answers a 6 KB response gzip-compressed when the client accepts gzip, decoding to the same JSON', async () => {
    const plain = await rawPost(LARGE, {});
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body.length).toBeGreaterThan(4_000);
    const gzip = await rawPost(LARGE, { 'accept-encoding': 'gzip' });
    expect(gzip.status).toBe(200);
    expect(gzip.headers['content-encoding']).toBe('gzip');
    expect(gzip.headers.vary).toMatch(/accept-encoding/i);
    expect(gzip.body.length).toBeLessThan(plain.body.length / 2);
    expect(JSON.parse(gunzipSync(gzip.body).toString()).data).toEqual(JSON.parse(plain.body.toString()).data);
  });

  it('prefers brotli when the client accepts it', async () => {
    const plain = await rawPost(LARGE, {});
    const br = await rawPost(LARGE, { 'accept-encoding': 'gzip, br' });
    expect(br.headers['content-encoding']).toBe('br');
    expect(JSON.parse(brotliDecompressSync(br.body).toString()).data).toEqual(JSON.parse(plain.body.toString()).data);
  });

  it('leaves responses under 1 KB and event streams uncompressed', async () => {
    const small = await rawPost({ query: '{ __typename }' }, { 'accept-encoding': 'gzip, br' });
    expect(small.headers['content-encoding']).toBeUndefined();
    expect(JSON.parse(small.body.toString()).data).toEqual({ __typename: 'Query' });
    const stream = await rawPost(LARGE, { 'accept-encoding': 'gzip, br', accept: 'text/event-stream' });
    expect(stream.headers['content-type']).toMatch(/^text\/event-stream/);
    // graphql-sse marks its streams `content-encoding: none`, so that proxies do not buffer them to compress.
    expect(stream.headers['content-encoding'] ?? 'none').toBe('none');
    expect(stream.body.toString()).toMatch(/^event: next\ndata: \{"data":\{"__schema"/m);
  });
});

describe('Server-Timing', () => {
  it('gives the total and the SQL time of an HTTP operation', async () => {
    const { headers, body } = await server.gql('query Me { viewer { username } }', {}, { token: user.token });
    const timing = headers.get('server-timing') ?? '';
    expect(timing).toMatch(/^total;dur=\d+\.\d{2}, sql;dur=\d+\.\d{2};desc="\d+ statements"$/);
    const statements = Number(/desc="(\d+) statements"/.exec(timing)![1]);
    expect(statements).toBe(body.extensions!.sql.statements);
    expect(statements).toBeGreaterThan(0);
  });

  it('is on refusals too', async () => {
    const { headers } = await server.gql('query Broken { noSuchField }');
    expect(headers.get('server-timing')).toMatch(/^total;dur=\d+\.\d{2}, sql;dur=0\.00;desc="0 statements"$/);
  });
});
