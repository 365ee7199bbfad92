/**
 * One measured HTTP run with autocannon (as a library), and the validity gates that decide whether it counts:
 * no non-2xx, no socket errors or timeouts, and every response body checked. For reads the body must start with
 * exactly the verified `data` (byte for byte) and have no `errors`; for createItem it must have empty `userErrors`
 * and no `errors`. In both cases its size must be the verified response's, within SIZE_SLACK bytes: OpsHub appends
 * rate-limit figures in `extensions` whose digits change (remaining 19999 → 9999).
 */
import autocannon from 'autocannon';
import type { Fixtures, GraphqlRequest, Workload } from './workloads.js';

export interface RunResult {
  requests: number;
  rps: number;
  p50: number;
  p99: number;
  /** Why the run does not count; empty when it passed every gate. */
  failures: string[];
}

export interface Reference {
  /** The candidate's own response body to this workload, verified before the runs. */
  body: string;
  /** `{"data":` and the verified data, as every read response must begin. */
  prefix: string;
}

const SIZE_SLACK = 32; // bytes
const MIN_REQUESTS = 20; // per measured run

export interface Target {
  url: string;
  headers: Record<string, string>;
}

function bodyOf(request: GraphqlRequest): string {
  return JSON.stringify(request);
}

/** Sends one request with fetch (not autocannon) and returns status and body. */
export async function sendOnce(target: Target, request: GraphqlRequest): Promise<{ status: number; body: string }> {
  const response = await fetch(`${target.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...target.headers },
    body: bodyOf(request),
    signal: AbortSignal.timeout(10_000),
  });
  return { status: response.status, body: await response.text() };
}

/**
 * The reference response of one candidate: status 200, no `errors`, and `data` equal to OpsHub's (reads) or
 * passing the workload's own check (createItem). Returns the body, or the reason it is not valid.
 */
export async function verifyReference(
  target: Target,
  workload: Workload,
  fixtures: Fixtures,
  expectedData: unknown,
): Promise<Reference | { reason: string }> {
  const { status, body } = await sendOnce(target, workload.request(fixtures));
  if (status !== 200) return { reason: `verification request answered HTTP ${status}: ${body.slice(0, 200)}` };
  let parsed: { data?: Record<string, any>; errors?: Array<{ message: string }> };
  try {
    parsed = JSON.parse(body);
  } catch {
    return { reason: `verification response is not JSON: ${body.slice(0, 200)}` };
  }
  if (parsed.errors?.length) return { reason: `GraphQL error: ${parsed.errors[0]!.message}` };
  if (!parsed.data) return { reason: 'verification response has no data' };
  const wrong = workload.check(parsed.data);
  if (wrong) return { reason: wrong };
  if (workload.deterministic && expectedData !== undefined && JSON.stringify(parsed.data) !== JSON.stringify(expectedData)) {
    return { reason: 'data differs from OpsHub’s response to the same request' };
  }
  const prefix = `{"data":${JSON.stringify(parsed.data)}`;
  if (workload.deterministic && !body.startsWith(prefix)) return { reason: `response does not start with its data: ${body.slice(0, 100)}` };
  return { body, prefix };
}

export async function runHttp(options: {
  target: Target;
  workload: Workload;
  fixtures: Fixtures;
  reference: Reference;
  durationS: number;
  connections: number;
}): Promise<RunResult> {
  const { target, workload, fixtures, reference } = options;
  const expected = reference.body;
  const { prefix } = reference;
  const sized = (body: string) => Math.abs(body.length - expected.length) <= SIZE_SLACK;
  const check = workload.deterministic
    ? (body: string) => sized(body) && body.startsWith(prefix) && !body.includes('"errors":', prefix.length)
    : (body: string) => sized(body) && !body.includes('"errors":') && body.includes('"userErrors":[]');
  let mismatch: string | null = null;
  const verifyBody = (body: string) => {
    const ok = check(body);
    if (!ok && mismatch === null) mismatch = body;
    return ok;
  };
  const headers = { 'content-type': 'application/json', ...target.headers };
  const result = await autocannon({
    url: `${target.url}/graphql`,
    connections: options.connections,
    pipelining: 1,
    duration: options.durationS,
    timeout: 10,
    verifyBody: verifyBody as (body: unknown) => boolean,
    requests: [
      workload.deterministic
        ? { method: 'POST', path: '/graphql', headers, body: bodyOf(workload.request(fixtures)) }
        : {
            method: 'POST',
            path: '/graphql',
            headers,
            setupRequest: (request) => ({ ...request, body: bodyOf(workload.request(fixtures)) }),
          },
    ],
  });
  const failures: string[] = [];
  if (result.non2xx > 0) failures.push(`${result.non2xx} non-2xx responses`);
  if (result.errors > 0) failures.push(`${result.errors} socket errors`);
  if (result.timeouts > 0) failures.push(`${result.timeouts} timeouts`);
  if (result.mismatches > 0)
    failures.push(`${result.mismatches} responses failed the body check (${describeMismatch(expected, mismatch ?? '')})`);
  const requests = result.requests.total;
  if (requests < MIN_REQUESTS) failures.push(`only ${requests} requests completed, too few to measure (machine overloaded?)`);
  return {
    requests,
    rps: requests / Math.max(result.duration, 0.001),
    p50: result.latency.p50,
    p99: result.latency.p99,
    failures,
  };
}

/** Where a response first differs from the reference, for the failure message. */
function describeMismatch(expected: string, actual: string): string {
  let at = 0;
  while (at < expected.length && at < actual.length && expected[at] === actual[at]) at += 1;
  const around = (text: string) => JSON.stringify(text.slice(Math.max(0, at - 40), at + 60));
  return `${actual.length} bytes, expected ${expected.length}; at byte ${at}: got ${around(actual)}, expected ${around(expected)}`;
}
