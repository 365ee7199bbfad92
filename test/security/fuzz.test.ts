/**
 * Fuzzing both transports (acceptance 3): over 10,000 generated hostile documents, variables, bodies and frames —
 * random tokens, deep nesting, huge strings, invalid UTF-8, wrong JSON types. No 5xx, no crash, no internal or
 * unmasked error (every error carries a client-error code and no stack), and the server still answers afterwards.
 * The inputs come from a seeded PRNG: a failure prints its seed and case, and `FUZZ_SEED=<seed>` replays the run.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startServer, type TestServer } from '../helpers/server.js';
import { operationCase, prng, rawBody, wsFrame, type OperationCase } from './fuzz-generator.js';
import { wsFor, wsRun } from './helpers.js';

const SEED = Number(process.env.FUZZ_SEED ?? 8_0808);
const COUNTS = { httpOperations: 3_600, httpBodies: 1_000, httpGets: 400, wsOperations: 4_000, wsFrames: 1_200 };
const CONCURRENCY = 16;

/** Codes a hostile request may get: client errors only. INTERNAL_SERVER_ERROR means the server failed. */
const ALLOWED_CODES = new Set([
  'BAD_REQUEST',
  'BAD_USER_INPUT',
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'PERSISTED_QUERY_NOT_FOUND',
  'OPERATION_RESOLUTION_FAILURE',
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'NOT_FOUND',
]);
/** How the server may close a socket that broke the protocol: bad message, bad UTF-8, frame too big, normal. */
const ALLOWED_CLOSE_CODES = new Set([4400, 1007, 1009, 1000, 4401, 4409, 4429]);

let server: TestServer;
beforeAll(async () => {
  // The budget is not what is tested here; every valid operation would otherwise spend the IP's points.
  server = await startServer({ RATE_LIMIT_ANONYMOUS: '100000000', LOG_LEVEL: 'warn' });
});
afterAll(() => server?.close());

const failures: string[] = [];
const excerpt = (value: unknown) => {
  const text =
    typeof value === 'string' ? value : Buffer.isBuffer(value) ? `<${value.length} bytes>` : (JSON.stringify(value) ?? String(value));
  return text.length > 160 ? `${text.slice(0, 160)}… (${text.length} chars)` : text;
};
function fail(where: string, index: number, category: string, input: unknown, problem: string) {
  if (failures.length < 25) failures.push(`seed ${SEED} ${where} #${index} [${category}] ${problem} — input ${excerpt(input)}`);
}

/** Problems with a GraphQL response body, or null when it is a clean client error (or data). */
function checkBody(body: unknown): string | null {
  if (typeof body !== 'object' || body === null) return `not a GraphQL response: ${excerpt(body)}`;
  const errors = (body as { errors?: unknown }).errors;
  if (errors === undefined) return 'data' in body ? null : `neither data nor errors: ${excerpt(body)}`;
  if (!Array.isArray(errors) || errors.length === 0) return `malformed errors: ${excerpt(errors)}`;
  return checkErrors(errors);
}

function checkErrors(errors: unknown[]): string | null {
  for (const error of errors as Array<{ message?: unknown; extensions?: Record<string, unknown> }>) {
    const code = error.extensions?.code;
    if (typeof code !== 'string' || !ALLOWED_CODES.has(code)) return `error code ${String(code)}: ${excerpt(error.message)}`;
    if (error.extensions && 'stacktrace' in error.extensions) return 'stack trace in an error';
    if (typeof error.message !== 'string' || /\n\s+at |node_modules|\/src\//.test(error.message))
      return `internal detail: ${excerpt(error.message)}`;
  }
  return null;
}

async function pool<T>(items: T[], worker: (item: T, index: number) => Promise<void>, concurrency = CONCURRENCY) {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) {
        const index = next++;
        await worker(items[index]!, index);
      }
    }),
  );
}

function toRequest(c: OperationCase) {
  const request: Record<string, unknown> = { query: c.query };
  if (c.variables !== undefined) request.variables = c.variables;
  if (c.operationName !== undefined) request.operationName = c.operationName;
  if (c.extensions !== undefined) request.extensions = c.extensions;
  return request;
}

async function postRaw(body: Buffer | string, contentType: string) {
  const response = await fetch(server.httpUrl, {
    method: 'POST',
    headers: { 'content-type': contentType },
    body: typeof body === 'string' ? body : new Uint8Array(body),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Reported below as "not a GraphQL response".
  }
  return { status: response.status, body: parsed };
}

async function expectServerAnswers() {
  const http = await server.gql('query Health { __typename rateLimit { limit } }');
  expect(http.status).toBe(200);
  expect(http.body.data).toEqual({ __typename: 'Query', rateLimit: { limit: 100_000_000 } });
  const ws = await wsRun(wsFor(server), { query: 'query Health { __typename }' });
  expect(ws.data).toEqual({ __typename: 'Query' });
}

describe(`fuzzing with seed ${SEED}`, () => {
  it(`answers ${COUNTS.httpOperations + COUNTS.httpBodies + COUNTS.httpGets} hostile HTTP requests with client errors only`, async () => {
    const rng = prng(SEED);
    const operations = Array.from({ length: COUNTS.httpOperations }, () => operationCase(rng));
    const bodies = Array.from({ length: COUNTS.httpBodies }, () => rawBody(rng));
    const gets = Array.from({ length: COUNTS.httpGets }, () => operationCase(rng));
    await pool(operations, async (c, index) => {
      const body = JSON.stringify(toRequest(c));
      const response = await postRaw(body, 'application/json');
      if (response.status >= 500) return fail('http', index, c.category, body, `status ${response.status}`);
      const problem = checkBody(response.body);
      if (problem) fail('http', index, c.category, body, problem);
    });
    await pool(bodies, async (c, index) => {
      const response = await postRaw(c.body, c.contentType);
      if (response.status >= 500) return fail('http-body', index, c.category, c.body, `status ${response.status}`);
      const problem = checkBody(response.body);
      if (problem) fail('http-body', index, c.category, c.body, problem);
    });
    await pool(gets, async (c, index) => {
      const params = new URLSearchParams();
      for (const [key, value] of Object.entries(toRequest(c)))
        params.set(key, typeof value === 'string' ? value : (JSON.stringify(value) ?? ''));
      const url = `${server.httpUrl}?${params}`;
      // Node's HTTP parser refuses request heads over 16 KB (431) before any of our code runs: keep GETs under it.
      if (url.length > 8_000) return;
      const response = await fetch(url, { headers: { 'apollo-require-preflight': 'true' } });
      if (response.status >= 500) return fail('http-get', index, c.category, url, `status ${response.status}`);
      const text = await response.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // Reported as "not a GraphQL response".
      }
      const problem = checkBody(parsed);
      if (problem) fail('http-get', index, c.category, url, problem);
    });
    expect(failures).toEqual([]);
    await expectServerAnswers();
  }, 240_000);

  it(`answers ${COUNTS.wsOperations} hostile graphql-ws operations and ${COUNTS.wsFrames} hostile frames without an internal error`, async () => {
    const rng = prng(SEED + 1);
    const operations = Array.from({ length: COUNTS.wsOperations }, () => operationCase(rng));
    const frames = Array.from({ length: COUNTS.wsFrames }, () => wsFrame(rng));

    // Operations: on a few long-lived connections, reopened when a message with wrong field types closes one.
    await pool(
      Array.from({ length: 8 }, (_, worker) => operations.filter((_, i) => i % 8 === worker).map((c, i) => ({ c, index: i * 8 + worker }))),
      async (batch) => {
        let socket = await connect();
        for (const { c, index } of batch) {
          if (socket.ws.readyState !== WebSocket.OPEN) socket = await connect();
          const outcome = await socket.run(String(index), toRequest(c));
          if (outcome.closed !== undefined) {
            if (!ALLOWED_CLOSE_CODES.has(outcome.closed)) fail('ws', index, c.category, toRequest(c), `closed with ${outcome.closed}`);
            continue;
          }
          for (const problem of outcome.problems) fail('ws', index, c.category, toRequest(c), problem);
        }
        socket.ws.terminate();
      },
      8,
    );

    // Frames: each on a fresh acknowledged connection, since most of them end it.
    await pool(frames, async (frame, index) => {
      const socket = await connect();
      socket.ws.send(frame.data, { binary: frame.binary ?? false });
      // A ping proves the connection survived the frame; otherwise the close code tells what the server did.
      socket.ws.send(JSON.stringify({ type: 'ping' }));
      const outcome = await socket.settle();
      if (outcome.closed !== undefined && !ALLOWED_CLOSE_CODES.has(outcome.closed))
        fail('ws-frame', index, frame.category, frame.data, `closed with ${outcome.closed}`);
      for (const problem of outcome.problems) fail('ws-frame', index, frame.category, frame.data, problem);
      socket.ws.terminate();
    });

    expect(failures).toEqual([]);
    expect(server.logs.filter((line) => line.level >= 50).map((line) => line.msg)).toEqual([]);
    await expectServerAnswers();
  }, 240_000);
});

interface Outcome {
  closed?: number;
  problems: string[];
}

/** A raw graphql-transport-ws connection that checks every message the server sends. */
async function connect() {
  const ws = new WebSocket(server.wsUrl, 'graphql-transport-ws');
  ws.on('error', () => {});
  let listener: ((message: Record<string, any> | null, code?: number) => void) | null = null;
  let closeCode: number | undefined;
  ws.on('message', (data) => listener?.(JSON.parse(String(data))));
  ws.on('close', (code) => {
    closeCode = code;
    listener?.(null, code);
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  ws.send(JSON.stringify({ type: 'connection_init' }));
  await new Promise<void>((resolve) => {
    listener = (message) => {
      if (message?.type === 'connection_ack') resolve();
    };
  });

  function check(message: Record<string, any>, problems: string[]) {
    if (message.type === 'next') {
      const problem = message.payload?.errors ? checkErrors(message.payload.errors) : null;
      if (problem) problems.push(problem);
    } else if (message.type === 'error') {
      const problem = Array.isArray(message.payload) ? checkErrors(message.payload) : `malformed error message ${excerpt(message)}`;
      if (problem) problems.push(problem);
    }
  }

  return {
    ws,
    /** Runs one operation to its `complete` or `error`, or until the server closes the socket. */
    run(id: string, payload: Record<string, unknown>): Promise<Outcome> {
      const problems: string[] = [];
      return new Promise((resolve) => {
        // A document that happens to be a valid subscription never completes by itself.
        const timer = setTimeout(() => {
          ws.send(JSON.stringify({ type: 'complete', id }));
          resolve({ problems });
        }, 5_000);
        listener = (message, code) => {
          if (message === null) {
            clearTimeout(timer);
            return resolve({ closed: code, problems });
          }
          if (message.id !== id) return;
          check(message, problems);
          if (message.type === 'complete' || message.type === 'error') {
            clearTimeout(timer);
            resolve({ problems });
          }
        };
        if (closeCode !== undefined) {
          clearTimeout(timer);
          resolve({ closed: closeCode, problems });
          return;
        }
        ws.send(JSON.stringify({ id, type: 'subscribe', payload }));
      });
    },
    /** Waits for the pong that follows a frame, or for the socket to close. */
    settle(): Promise<Outcome> {
      const problems: string[] = [];
      return new Promise((resolve) => {
        listener = (message, code) => {
          if (message === null) return resolve({ closed: code, problems });
          check(message, problems);
          if (message.type === 'pong') resolve({ problems });
        };
        if (closeCode !== undefined) resolve({ closed: closeCode, problems });
      });
    },
  };
}
